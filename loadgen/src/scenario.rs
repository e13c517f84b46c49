//! Running one scenario from start to end: checking the options against the
//! system's limits, starting the event-loop threads, stepping the phases
//! (connect -> run -> drain -> done), printing the progress line, and turning
//! the merged measurements into a [`Report`] with a pass/fail verdict.
//!
//! This is the only thread that sleeps; it polls the shared counters every
//! few milliseconds and never touches a socket.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::Worker;
use crate::options::{Cli, Rate, Scenario, Traffic};
use crate::plan::{Layout, Names};
use crate::report::{Latency, Memory, Messages, Report};
use crate::shared::{
    Pace, Setup, Shared, PHASE_CONNECTING, PHASE_DONE, PHASE_DRAINING, PHASE_RUNNING,
};
use crate::stats::{merge_all, Stats};
use crate::sys;

/// How often the coordinator looks at the counters.
const TICK: Duration = Duration::from_millis(10);
/// Gap between everyone being ready and the first message.
const START_DELAY_NS: u64 = 20_000_000;

/// A problem with the options or the system that stops a run before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

fn secs_ns(s: f64) -> u64 {
    (s * 1e9) as u64
}

fn check_secs(name: &str, v: f64) -> Result<(), SetupError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SetupError(format!(
            "--{name}: must be a number of seconds >= 0"
        )))
    }
}

/// Builds the layout and pace for a scenario.
fn layout_of(s: &Scenario, clients: u32) -> Result<(Layout, Pace, Option<&Traffic>), SetupError> {
    let pace_of = |t: &Traffic, streams: u64| match t.rate {
        Rate::PerSec(r) => Pace::Fixed {
            period_ns: streams as f64 / r * 1e9,
        },
        Rate::Max => Pace::Max {
            window: t.window.max(1) as u64,
        },
    };
    match s {
        Scenario::Connect(_) | Scenario::Idle(_) => {
            Ok((Layout::None, Pace::Max { window: 1 }, None))
        }
        Scenario::Channel(o) => {
            let channels = u32::try_from(o.channels)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| SetupError("--channels: must be at least 1".into()))?;
            let members = match o.members {
                Some(m) => m,
                None => clients as usize / o.channels,
            };
            if members < 2 {
                return Err(SetupError(format!(
                    "{members} member(s) per channel: a channel needs at least 2 \
                     (give more --clients or fewer --channels, or --members)"
                )));
            }
            if members > clients as usize {
                return Err(SetupError(format!(
                    "--members {members} exceeds --clients {clients}"
                )));
            }
            if o.senders == 0 || o.senders > members {
                return Err(SetupError(format!(
                    "--senders must be between 1 and the members per channel ({members})"
                )));
            }
            if (channels as u64) * (members as u64) > u64::from(u32::MAX) {
                return Err(SetupError("channels * members is too large".into()));
            }
            let layout = Layout::Channels {
                clients,
                channels,
                members: members as u32,
                senders: o.senders as u32,
            };
            Ok((
                layout,
                pace_of(&o.traffic, layout.streams()),
                Some(&o.traffic),
            ))
        }
        Scenario::Private(o) => {
            if clients < 2 {
                return Err(SetupError("private needs at least 2 clients".into()));
            }
            let layout = Layout::Pairs { clients };
            Ok((
                layout,
                pace_of(&o.traffic, layout.streams()),
                Some(&o.traffic),
            ))
        }
    }
}

/// A finished run: the report and the merged measurements behind it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub stats: Stats,
}

/// Runs the scenario `cli` asks for; `argv` is recorded in the report.
pub fn run(cli: &Cli, argv: Vec<String>) -> Result<Outcome, SetupError> {
    let scenario = &cli.scenario;
    let common = scenario.common();
    let clients = u32::try_from(common.clients)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| SetupError("--clients: must be between 1 and 2^32-1".into()))?;
    for (name, v) in [
        ("connect-timeout", common.connect_timeout),
        ("timeout", common.timeout),
        ("ramp", common.ramp),
    ] {
        check_secs(name, v)?;
    }
    if common.connect_timeout <= 0.0 {
        return Err(SetupError("--connect-timeout: must be above 0".into()));
    }
    let names =
        Names::new(&common.nick_prefix, common.clients, common.max_nick_len).map_err(SetupError)?;
    let (layout, pace, traffic) = layout_of(scenario, clients)?;
    let (warmup, duration, drain) = match scenario {
        Scenario::Connect(o) => (o.warmup, o.hold, 0.0),
        Scenario::Idle(o) => (0.0, o.duration.max(o.settle), 0.0),
        Scenario::Channel(_) | Scenario::Private(_) => {
            let t = traffic.expect("traffic scenarios have traffic options");
            (t.warmup, t.duration, t.drain)
        }
    };
    check_secs("warmup", warmup)?;
    check_secs("duration", duration)?;
    check_secs("drain", drain)?;
    if let Scenario::Idle(o) = scenario {
        check_secs("settle", o.settle)?;
    }
    if traffic.is_some() && duration <= 0.0 {
        return Err(SetupError("--duration: must be above 0".into()));
    }

    // File descriptors: one per client plus a few.
    let fd = sys::raise_fd_limit()
        .map_err(|e| SetupError(format!("reading/raising RLIMIT_NOFILE: {e}")))?;
    eprintln!(
        "loadgen: open-file limit {} (hard {}): room for {} client sockets in this process",
        fd.soft,
        fd.hard,
        fd.sockets()
    );
    if u64::from(clients) > fd.sockets() {
        return Err(SetupError(format!(
            "--clients {clients} needs {clients} sockets, but this process may open only {} \
             files (RLIMIT_NOFILE hard limit {}), room for {} clients after {} reserved: run \
             several loadgen processes with different --nick-prefix, or raise the hard limit",
            fd.soft,
            fd.hard,
            fd.sockets(),
            sys::RESERVED_FDS
        )));
    }
    let sources = common
        .source
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    if let Some(ports) = sys::ephemeral_ports() {
        let per_source = u64::from(clients).div_ceil(sources.len().max(1) as u64);
        if per_source > ports {
            return Err(SetupError(format!(
                "{per_source} connections per source address but only {ports} ephemeral \
                 ports (ip_local_port_range): spread clients with --source \
                 127.0.0.2-127.0.0.N (at least {} addresses)",
                u64::from(clients).div_ceil(ports)
            )));
        }
    }
    if let Some(a) = sources
        .iter()
        .find(|a| a.is_ipv4() != common.target.is_ipv4())
    {
        return Err(SetupError(format!(
            "--source {a} is not the same address family as --target {}",
            common.target
        )));
    }

    let threads = if common.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        common.threads
    }
    .min(clients as usize)
    .max(1);
    let setup = Arc::new(Setup {
        target: common.target,
        sources,
        clients,
        threads,
        ramp: common.ramp,
        max_pending_per_thread: common.max_pending.div_ceil(threads).max(1),
        connect_timeout_ns: secs_ns(common.connect_timeout),
        connect_warmup_ns: if let Scenario::Connect(_) = scenario {
            secs_ns(warmup)
        } else {
            0
        },
        names,
        layout,
        pace,
        warmup_ns: if traffic.is_some() {
            secs_ns(warmup)
        } else {
            0
        },
        duration_ns: if traffic.is_some() {
            secs_ns(duration)
        } else {
            0
        },
        pad: traffic.map_or(0, |t| t.size),
    });
    let ramp_secs = if common.ramp > 0.0 {
        f64::from(clients) / common.ramp
    } else {
        0.0
    };
    let bound_secs = if common.timeout > 0.0 {
        common.timeout
    } else {
        ramp_secs + common.connect_timeout + warmup + duration + drain + 30.0
    };

    let server_pid = match scenario {
        Scenario::Idle(o) => o.server_pid,
        _ => None,
    };
    let mut memory = server_pid.map(|pid| Memory {
        server_pid: pid,
        rss_before_bytes: None,
        rss_after_bytes: None,
        bytes_per_client: None,
        error: None,
    });
    if let Some(m) = memory.as_mut() {
        match sys::rss_bytes(m.server_pid) {
            Ok(b) => m.rss_before_bytes = Some(b),
            Err(e) => m.error = Some(format!("reading RSS before: {e}")),
        }
    }

    let shared = Arc::new(Shared::new(layout.groups()));
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let worker = Worker::new(i, setup.clone(), shared.clone())
            .map_err(|e| SetupError(format!("creating poller: {e}")))?;
        let h = std::thread::Builder::new()
            .name(format!("loadgen-{i}"))
            .spawn(move || worker.run())
            .map_err(|e| SetupError(format!("starting thread: {e}")))?;
        handles.push(h);
    }

    // Step the phases.
    let bound_ns = secs_ns(bound_secs);
    let mut next_progress = 1_000_000_000u64;
    let mut settled_at: Option<u64> = None;
    let mut t0: u64 = 0;
    let mut drain_until = u64::MAX;
    let mut timed_out = false;
    let mut thread_died = false;
    let mut rss_pending = memory.is_some();
    loop {
        std::thread::sleep(TICK);
        let now = shared.now_ns();
        if !common.quiet && now >= next_progress {
            eprintln!("{}", progress(&shared, clients, now, traffic.is_some()));
            next_progress += 1_000_000_000;
        }
        if now >= bound_ns {
            timed_out = true;
            break;
        }
        if handles.iter().any(|h| h.is_finished()) {
            thread_died = true;
            break;
        }
        match shared.phase() {
            PHASE_CONNECTING => {
                if shared.settled() < u64::from(clients) {
                    continue;
                }
                let at = *settled_at.get_or_insert(now);
                match scenario {
                    Scenario::Connect(_) => {
                        if now >= at + secs_ns(duration) {
                            break;
                        }
                    }
                    Scenario::Idle(o) => {
                        if rss_pending && now >= at + secs_ns(o.settle) {
                            rss_pending = false;
                            if let Some(m) = memory.as_mut() {
                                match sys::rss_bytes(m.server_pid) {
                                    Ok(b) => m.rss_after_bytes = Some(b),
                                    Err(e) => m.error = Some(format!("reading RSS after: {e}")),
                                }
                            }
                        }
                        if now >= at + secs_ns(duration) {
                            break;
                        }
                    }
                    Scenario::Channel(_) | Scenario::Private(_) => {
                        if shared.ready.load(Ordering::Relaxed) < 2 {
                            break;
                        }
                        t0 = now + START_DELAY_NS;
                        shared.start_running(t0);
                    }
                }
            }
            PHASE_RUNNING => {
                if now >= t0 + setup.warmup_ns + setup.duration_ns {
                    shared.set_phase(PHASE_DRAINING);
                    drain_until = now + secs_ns(drain);
                }
            }
            PHASE_DRAINING => {
                let all_sent = shared.senders_done.load(Ordering::Acquire) >= threads;
                let delivered = shared.delivered.load(Ordering::Relaxed);
                let expected = shared.expected.load(Ordering::Relaxed);
                if (all_sent && delivered >= expected) || now >= drain_until {
                    break;
                }
            }
            _ => break,
        }
    }
    let elapsed_ns = shared.now_ns();
    shared.set_phase(PHASE_DONE);
    let mut parts = Vec::with_capacity(threads);
    let mut thread_errors = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(stats)) => parts.push(stats),
            Ok(Err(e)) => thread_errors.push(format!("event loop failed: {e}")),
            Err(_) => thread_errors.push("event loop panicked".to_string()),
        }
    }
    let stats = merge_all(parts);
    if !common.quiet {
        eprintln!(
            "{}",
            progress(&shared, clients, elapsed_ns, traffic.is_some())
        );
    }

    let connected = shared.connected.load(Ordering::Relaxed);
    let mut report = Report {
        loadgen_version: env!("CARGO_PKG_VERSION"),
        argv,
        options: cli.scenario.clone(),
        scenario: scenario.name(),
        target: common.target.to_string(),
        threads,
        fd_soft_limit: fd.soft,
        fd_hard_limit: fd.hard,
        elapsed_secs: elapsed_ns as f64 / 1e9,
        timed_out,
        clients: Report::clients(u64::from(clients), connected, &stats),
        connect_latency: Latency::of("connect+register", &stats.connect_latency),
        messages: traffic.map(|t| messages(&stats, t, layout)),
        message_latency: traffic.map(|_| Latency::of("end-to-end", &stats.message_latency)),
        memory,
        notes: Vec::new(),
        problems: thread_errors,
        passed: false,
    };
    if let Some(m) = report.memory.as_mut() {
        if let (Some(b), Some(a)) = (m.rss_before_bytes, m.rss_after_bytes) {
            if report.clients.ready > 0 {
                m.bytes_per_client = Some((a as f64 - b as f64) / report.clients.ready as f64);
            }
        }
    }
    judge(
        &mut report,
        &stats,
        common.allow_failures,
        traffic,
        thread_died,
        layout,
    );
    Ok(Outcome { report, stats })
}

fn messages(s: &Stats, t: &Traffic, layout: Layout) -> Messages {
    Messages {
        sent: s.sent,
        expected: s.expected,
        delivered: s.delivered,
        lost: s.expected.saturating_sub(s.delivered),
        out_of_order: s.out_of_order,
        gaps: s.gaps,
        unexpected: s.unexpected,
        measured_sent: s.measured_sent,
        measured_delivered: s.measured_delivered,
        measured_secs: t.duration,
        sends_per_sec: s.measured_sent as f64 / t.duration,
        deliveries_per_sec: s.measured_delivered as f64 / t.duration,
        target_rate: match t.rate {
            Rate::PerSec(r) => Some(r),
            Rate::Max => None,
        },
        channels: if layout.is_channels() {
            layout.groups()
        } else {
            0
        },
        members: layout.members(),
        senders_per_group: layout.senders(),
    }
}

/// Fills in notes, problems and the verdict.
fn judge(
    r: &mut Report,
    s: &Stats,
    allow_failures: bool,
    traffic: Option<&Traffic>,
    thread_died: bool,
    layout: Layout,
) {
    if thread_died {
        r.problems.push("an event-loop thread stopped early".into());
    }
    if r.timed_out {
        r.problems
            .push("the run hit its time bound (--timeout) and was stopped".into());
    }
    let c = &r.clients;
    if c.ready == 0 {
        r.problems.push("no client became ready".into());
    }
    if c.failed > 0 {
        let msg = format!(
            "{} of {} clients failed to connect/register",
            c.failed, c.requested
        );
        if allow_failures {
            r.notes.push(msg);
        } else {
            r.problems.push(msg);
        }
    }
    if c.dropped > 0 {
        let msg = format!("{} clients were disconnected during the run", c.dropped);
        if allow_failures {
            r.notes.push(msg);
        } else {
            r.problems.push(msg);
        }
    }
    if let Layout::Channels {
        clients,
        channels,
        members,
        ..
    } = layout
    {
        let slots = u64::from(channels) * u64::from(members);
        if slots < u64::from(clients) {
            r.notes.push(format!(
                "{} clients are in no channel (channels * members = {slots})",
                u64::from(clients) - slots
            ));
        }
        if slots > u64::from(clients) {
            r.notes.push(format!(
                "clients are in up to {} channels each",
                slots.div_ceil(u64::from(clients))
            ));
        }
    }
    if let (Some(t), Some(m)) = (traffic, r.messages.as_ref()) {
        let mut loss = Vec::new();
        if m.sent == 0 && c.ready >= 2 {
            r.problems.push("no messages were sent".into());
        }
        if m.lost > 0 {
            loss.push(format!(
                "{} of {} expected deliveries lost",
                m.lost, m.expected
            ));
        }
        if m.out_of_order > 0 {
            loss.push(format!(
                "{} messages out of order or duplicated",
                m.out_of_order
            ));
        }
        if m.unexpected > 0 {
            loss.push(format!("{} unexpected PRIVMSGs", m.unexpected));
        }
        if t.allow_loss {
            r.notes.extend(loss);
        } else {
            r.problems.extend(loss);
        }
        if s.measured_sent > 0 && matches!(t.rate, Rate::PerSec(_)) {
            let asked = m.target_rate.unwrap_or(0.0);
            if m.sends_per_sec < asked * 0.9 {
                r.notes.push(format!(
                    "sent {:.0} msgs/s of the {asked} asked (senders lost or loadgen saturated)",
                    m.sends_per_sec
                ));
            }
        }
    }
    r.passed = r.problems.is_empty();
}

/// The once-a-second progress line.
fn progress(shared: &Shared, clients: u32, now_ns: u64, traffic: bool) -> String {
    let mut line = format!(
        "[{:>6.1}s] connected {}/{} ready {} failed {} dropped {}",
        now_ns as f64 / 1e9,
        shared.connected.load(Ordering::Relaxed),
        clients,
        shared.ready.load(Ordering::Relaxed),
        shared.failed.load(Ordering::Relaxed),
        shared.dropped.load(Ordering::Relaxed),
    );
    if traffic {
        line.push_str(&format!(
            " | sent {} delivered {}/{}",
            shared.sent.load(Ordering::Relaxed),
            shared.delivered.load(Ordering::Relaxed),
            shared.expected.load(Ordering::Relaxed),
        ));
    }
    line
}

//! The event loop and the client state machine: one [`Worker`] per thread
//! owns its clients' sockets (in a `slab`, polled with `polling`), opens them
//! on the ramp schedule, registers them, joins their channels, sends the
//! scheduled messages and checks every message received.
//!
//! Work per event is O(1) in the number of clients: timeouts sit in a FIFO
//! (deadlines only grow), scheduled sends in a binary heap, and sockets with
//! output pending in a dirty list. A client costs about 100 bytes here plus a
//! `u32` per sender it listens to; input and output buffers are allocated only
//! while they hold a partial line or unsent bytes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parley::protocol::{LineBuilder, Message};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;
use socket2::{Domain, Protocol, Socket, Type};

use crate::plan::Stamp;
use crate::shared::{Pace, Setup, Shared, PHASE_CONNECTING, PHASE_DONE};
use crate::stats::Stats;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Reads per readiness event before other sockets get a turn.
const READS_PER_EVENT: usize = 8;
/// Longest partial line kept for a client before it is dropped.
const MAX_PARTIAL: usize = 64 * 1024;
/// Longest the loop sleeps, so phase changes are seen promptly.
const MAX_WAIT_NS: u64 = 50_000_000;
/// Most new connections opened per loop turn.
const STARTS_PER_TURN: usize = 512;
/// How long to wait for the server to close connections after QUIT.
const QUIT_WAIT_NS: u64 = 2_000_000_000;
/// Most messages queued per loop turn.
const SENDS_PER_TURN: usize = 20_000;

/// Where a client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// TCP connect in progress.
    Connecting,
    /// NICK/USER sent, waiting for 001.
    Registering,
    /// JOINs sent, waiting for the end of NAMES (366) of each.
    Joining,
    /// Registered and in all its channels.
    Ready,
}

/// One connection.
struct Client {
    sock: TcpStream,
    /// Global client index (names the nick).
    id: u32,
    state: State,
    /// Channels still to be confirmed by 366.
    joins_left: u32,
    /// Write interest registered with the poller.
    write_armed: bool,
    /// On the dirty list.
    dirty: bool,
    /// Scheduled start time (ns since the epoch), for connect latency.
    start_ns: u64,
    /// Partial line received so far.
    inbuf: Vec<u8>,
    /// Bytes queued for sending, from `out_off`.
    out: Vec<u8>,
    out_off: usize,
    /// Next expected sequence number per (group position, sender slot).
    recv: Box<[u32]>,
}

/// A stream's next scheduled message (heap entry; ordered by due time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    due_ns: u64,
    key: u32,
    id: u32,
    group: u32,
    slot: u32,
    seq: u32,
    /// Global stream index (its offset in the schedule).
    stream: u64,
}

/// A sending stream in `--rate max` mode.
#[derive(Debug, Clone, Copy)]
struct Stream {
    key: u32,
    id: u32,
    group: u32,
    slot: u32,
    seq: u32,
}

/// Counters already added to the shared totals.
#[derive(Debug, Default, Clone, Copy)]
struct Published {
    sent: u64,
    expected: u64,
    delivered: u64,
}

/// One event-loop thread.
pub struct Worker {
    setup: Arc<Setup>,
    shared: Arc<Shared>,
    poller: Poller,
    events: Events,
    fired: Vec<(usize, bool, bool)>,
    clients: Slab<Client>,
    /// Next client id this thread opens (ids `index`, `index + threads`, ...).
    next_id: u64,
    /// Clients opened and not yet ready or failed.
    pending: usize,
    /// (deadline, slab key, id) of clients that must be ready by then.
    deadlines: VecDeque<(u64, usize, u32)>,
    schedule: BinaryHeap<Reverse<Due>>,
    streams: Vec<Stream>,
    next_stream: usize,
    dirty: Vec<usize>,
    scratch: Vec<u8>,
    text: String,
    stats: Stats,
    published: Published,
    /// Sending start and end (ns since the epoch), once running.
    t0_ns: u64,
    end_ns: u64,
    sending: bool,
    sending_done: bool,
    /// Set once the run is over and QUIT has been sent.
    quit_deadline: Option<u64>,
}

impl Worker {
    /// A worker for thread `index` of `setup.threads`.
    pub fn new(index: usize, setup: Arc<Setup>, shared: Arc<Shared>) -> io::Result<Worker> {
        Ok(Worker {
            poller: Poller::new()?,
            events: Events::with_capacity(NonZeroUsize::new(1024).expect("non-zero")),
            fired: Vec::with_capacity(1024),
            clients: Slab::new(),
            next_id: index as u64,
            pending: 0,
            deadlines: VecDeque::new(),
            schedule: BinaryHeap::new(),
            streams: Vec::new(),
            next_stream: 0,
            dirty: Vec::new(),
            scratch: vec![0; READ_CHUNK],
            text: String::with_capacity(128),
            stats: Stats::default(),
            published: Published::default(),
            t0_ns: u64::MAX,
            end_ns: u64::MAX,
            sending: false,
            sending_done: false,
            quit_deadline: None,
            setup,
            shared,
        })
    }

    /// Runs until the coordinator says the run is done; returns what this
    /// thread measured.
    pub fn run(mut self) -> io::Result<Stats> {
        loop {
            let phase = self.shared.phase();
            let now = self.shared.now_ns();
            match self.quit_deadline {
                None if phase == PHASE_DONE => self.begin_quit(now),
                Some(deadline) if now >= deadline || self.clients.is_empty() => break,
                _ => {}
            }
            let quitting = self.quit_deadline.is_some();
            if phase == PHASE_CONNECTING {
                self.start_due(now);
            } else if !quitting && !self.sending && !self.sending_done {
                self.start_sending();
            }
            if self.sending && !quitting {
                self.send_due(now);
            }
            self.flush_dirty();
            self.publish();
            if self.sending && self.schedule.is_empty() && self.streams.is_empty() {
                self.finish_sending();
            }
            let wait = self.wait_ns(now);
            self.events.clear();
            match self
                .poller
                .wait(&mut self.events, Some(Duration::from_nanos(wait)))
            {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let now = self.shared.now_ns();
            self.fired.clear();
            self.fired.extend(
                self.events
                    .iter()
                    .map(|ev| (ev.key, ev.readable, ev.writable)),
            );
            let fired = std::mem::take(&mut self.fired);
            for &(key, readable, writable) in &fired {
                self.handle(key, readable, writable, now);
            }
            self.fired = fired;
            self.expire(now);
        }
        self.close_all();
        self.publish();
        Ok(self.stats)
    }

    /// The run is over: drop connections still being opened and send QUIT on
    /// the others, so the server closes first (its side, not ours, then holds
    /// the TIME_WAIT and our local ports are free for the next run). Nothing
    /// is counted from here on.
    fn begin_quit(&mut self, now: u64) {
        self.quit_deadline = Some(now + QUIT_WAIT_NS);
        let poller = &self.poller;
        self.clients.retain(|_, c| {
            let keep = c.state != State::Connecting;
            if !keep {
                let _ = poller.delete(&c.sock);
            }
            keep
        });
        let quit = LineBuilder::new(None, "QUIT")
            .trailing("loadgen done")
            .into_bytes();
        for (key, c) in self.clients.iter_mut() {
            c.out.extend_from_slice(&quit);
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// How long to sleep: until the next start, send or deadline, at most
    /// `MAX_WAIT_NS`.
    fn wait_ns(&self, now: u64) -> u64 {
        let mut wake = now + MAX_WAIT_NS;
        if self.shared.phase() == PHASE_CONNECTING
            && self.next_id < u64::from(self.setup.clients)
            && self.pending < self.setup.max_pending_per_thread
        {
            wake = wake.min(self.intended_start(self.next_id));
        }
        if let Some(Reverse(d)) = self.schedule.peek() {
            wake = wake.min(d.due_ns);
        }
        if let Some(&(deadline, _, _)) = self.deadlines.front() {
            wake = wake.min(deadline);
        }
        if self.sending && !self.streams.is_empty() {
            // Max pace: the window may open when another thread reads.
            wake = wake.min(now + 1_000_000);
        }
        if !self.dirty.is_empty() {
            wake = now;
        }
        wake.saturating_sub(now)
    }

    /// Scheduled start of client `id` (ns since the epoch).
    fn intended_start(&self, id: u64) -> u64 {
        if self.setup.ramp > 0.0 {
            (id as f64 / self.setup.ramp * 1e9) as u64
        } else {
            0
        }
    }

    /// Opens the connections whose scheduled start has come.
    fn start_due(&mut self, now: u64) {
        let total = u64::from(self.setup.clients);
        let mut started = 0;
        while self.next_id < total
            && started < STARTS_PER_TURN
            && self.pending < self.setup.max_pending_per_thread
        {
            let intended = self.intended_start(self.next_id);
            if intended > now {
                break;
            }
            let id = self.next_id as u32;
            self.next_id += self.setup.threads as u64;
            started += 1;
            let start_ns = if self.setup.ramp > 0.0 { intended } else { now };
            self.open(id, start_ns, now);
        }
    }

    fn open(&mut self, id: u32, start_ns: u64, now: u64) {
        let source = (!self.setup.sources.is_empty())
            .then(|| self.setup.sources[id as usize % self.setup.sources.len()]);
        let sock = match connect_nonblocking(self.setup.target, source) {
            Ok(s) => s,
            Err(e) => {
                self.stats.fail(&classify(&e));
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        if let Err(e) = register(&self.poller, &sock, Event::all(key)) {
            self.stats.fail(&format!("poller: {e}"));
            self.shared.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        entry.insert(Client {
            sock,
            id,
            state: State::Connecting,
            joins_left: 0,
            write_armed: true,
            dirty: false,
            start_ns,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_off: 0,
            recv: Box::new([]),
        });
        self.pending += 1;
        self.deadlines
            .push_back((now + self.setup.connect_timeout_ns, key, id));
    }

    fn handle(&mut self, key: usize, readable: bool, writable: bool, now: u64) {
        let Some(c) = self.clients.get_mut(key) else {
            return;
        };
        if c.state == State::Connecting {
            match c.sock.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    self.close(key, &classify(&e));
                    return;
                }
            }
            match c.sock.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotConnected => return,
                Err(e) => {
                    self.close(key, &classify(&e));
                    return;
                }
            }
            c.state = State::Registering;
            self.shared.connected.fetch_add(1, Ordering::Relaxed);
            let nick = self.setup.names.nick(c.id);
            let mut reg = LineBuilder::new(None, "NICK").param(&nick).into_bytes();
            reg.extend(
                LineBuilder::new(None, "USER")
                    .param(&nick)
                    .param("0")
                    .param("*")
                    .trailing("parley loadgen")
                    .into_bytes(),
            );
            c.out.extend_from_slice(&reg);
            self.mark_dirty(key);
            // Write interest stays on until the flush empties the queue.
            return;
        }
        if writable {
            self.flush(key);
        }
        if readable {
            self.read(key, now);
        }
    }

    fn mark_dirty(&mut self, key: usize) {
        if let Some(c) = self.clients.get_mut(key) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            self.flush(key);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Writes what a client has queued; arms write interest if some is left.
    fn flush(&mut self, key: usize) {
        let Some(c) = self.clients.get_mut(key) else {
            return;
        };
        c.dirty = false;
        while c.out_off < c.out.len() {
            match c.sock.write(&c.out[c.out_off..]) {
                Ok(0) => {
                    self.close(key, "closed by server (write returned 0)");
                    return;
                }
                Ok(n) => c.out_off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let reason = classify(&e);
                    self.close(key, &reason);
                    return;
                }
            }
        }
        let want_write = c.out_off < c.out.len();
        if !want_write {
            c.out.clear();
            c.out_off = 0;
            if c.out.capacity() > READ_CHUNK {
                c.out = Vec::new();
            }
        }
        if want_write != c.write_armed && c.state != State::Connecting {
            c.write_armed = want_write;
            let ev = if want_write {
                Event::all(key)
            } else {
                Event::readable(key)
            };
            if let Err(e) = self.poller.modify_with_mode(&c.sock, ev, PollMode::Level) {
                self.close(key, &format!("poller: {e}"));
            }
        }
    }

    fn read(&mut self, key: usize, now: u64) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for _ in 0..READS_PER_EVENT {
            let Some(c) = self.clients.get_mut(key) else {
                break;
            };
            match c.sock.read(&mut scratch) {
                Ok(0) => {
                    self.close(key, "closed by server");
                    break;
                }
                Ok(n) => {
                    self.input(key, &scratch[..n], now);
                    if n < scratch.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let reason = classify(&e);
                    self.close(key, &reason);
                    break;
                }
            }
        }
        self.scratch = scratch;
    }

    /// Splits received bytes into lines, keeping a partial last line.
    fn input(&mut self, key: usize, mut data: &[u8], now: u64) {
        let Some(c) = self.clients.get_mut(key) else {
            return;
        };
        if !c.inbuf.is_empty() {
            match memchr::memchr(b'\n', data) {
                None => {
                    c.inbuf.extend_from_slice(data);
                    if c.inbuf.len() > MAX_PARTIAL {
                        self.close(key, "line from server too long");
                    }
                    return;
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut c.inbuf);
                    line.extend_from_slice(&data[..i]);
                    data = &data[i + 1..];
                    self.line(key, &line, now);
                    if !self.clients.contains(key) {
                        return;
                    }
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', data) {
            self.line(key, &data[..i], now);
            if !self.clients.contains(key) {
                return;
            }
            data = &data[i + 1..];
        }
        if !data.is_empty() {
            if let Some(c) = self.clients.get_mut(key) {
                c.inbuf.extend_from_slice(data);
            }
        }
    }

    /// Acts on one line from the server.
    fn line(&mut self, key: usize, raw: &[u8], now: u64) {
        if self.quit_deadline.is_some() {
            // Only the server closing the connection matters now.
            return;
        }
        let text = String::from_utf8_lossy(raw);
        let Ok(msg) = Message::parse(&text) else {
            return;
        };
        let state = self.clients[key].state;
        match msg.command {
            "PRIVMSG" if state == State::Ready => self.delivery(key, &msg, now),
            "PING" => {
                let token = msg.param(0).unwrap_or("");
                let pong = LineBuilder::new(None, "PONG").trailing(token).into_bytes();
                self.clients[key].out.extend_from_slice(&pong);
                self.mark_dirty(key);
                self.stats.pings += 1;
            }
            "001" if state == State::Registering => self.welcomed(key, now),
            "366" if state == State::Joining => {
                let ours = msg
                    .param(1)
                    .and_then(|ch| self.setup.names.parse_channel(ch))
                    .is_some();
                let c = &mut self.clients[key];
                if ours && c.joins_left > 0 {
                    c.joins_left -= 1;
                    if c.joins_left == 0 {
                        self.become_ready(key);
                    }
                }
            }
            "ERROR" => {
                let nick = self.setup.names.nick(self.clients[key].id);
                let why = normalise(msg.param(0).unwrap_or(""), &nick);
                self.close(key, &format!("server ERROR: {why}"));
            }
            cmd => {
                if let Some(code) = error_numeric(cmd) {
                    match state {
                        State::Registering => {
                            self.close(
                                key,
                                &format!("registration refused: {code} {}", numeric_name(code)),
                            );
                        }
                        State::Joining if is_join_error(code) => {
                            self.close(
                                key,
                                &format!("JOIN refused: {code} {}", numeric_name(code)),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// 001 received: join channels, or be ready.
    fn welcomed(&mut self, key: usize, now: u64) {
        self.stats.registered += 1;
        let setup = self.setup.clone();
        let c = &mut self.clients[key];
        if c.start_ns >= setup.connect_warmup_ns {
            let us = now.saturating_sub(c.start_ns) / 1000;
            self.stats.connect_latency.saturating_record(us.max(1));
        }
        if setup.layout.is_channels() {
            let mut joins = 0;
            for m in setup.layout.memberships(c.id) {
                let line = LineBuilder::new(None, "JOIN")
                    .param(&setup.names.channel(m.group))
                    .into_bytes();
                c.out.extend_from_slice(&line);
                joins += 1;
            }
            if joins > 0 {
                c.state = State::Joining;
                c.joins_left = joins;
                self.mark_dirty(key);
                return;
            }
        }
        self.become_ready(key);
    }

    fn become_ready(&mut self, key: usize) {
        let setup = &self.setup;
        let c = &mut self.clients[key];
        c.state = State::Ready;
        let mut groups = 0;
        for m in setup.layout.memberships(c.id) {
            self.shared.group_ready[m.group as usize].fetch_add(1, Ordering::Relaxed);
            groups += 1;
        }
        c.recv = vec![0; groups * setup.layout.senders() as usize].into_boxed_slice();
        self.pending -= 1;
        self.stats.ready += 1;
        self.shared.ready.fetch_add(1, Ordering::Relaxed);
    }

    /// A PRIVMSG for a ready client: check its stamp, order and latency.
    fn delivery(&mut self, key: usize, msg: &Message<'_>, now: u64) {
        let layout = self.setup.layout;
        let (Some(target), Some(text)) = (msg.param(0), msg.param(1)) else {
            self.stats.unexpected += 1;
            return;
        };
        let Some(stamp) = Stamp::parse(text) else {
            self.stats.unexpected += 1;
            return;
        };
        let group = if layout.is_channels() {
            self.setup.names.parse_channel(target)
        } else {
            Some(stamp.sender / 2)
        };
        let c = &mut self.clients[key];
        let found = group.and_then(|g| {
            let pos = layout.memberships(c.id).position(|m| m.group == g)?;
            let slot = layout.sender_slot(g, stamp.sender)?;
            Some(pos * layout.senders() as usize + slot as usize)
        });
        let Some(idx) = found.filter(|_| stamp.sender != c.id) else {
            self.stats.unexpected += 1;
            return;
        };
        let next = &mut c.recv[idx];
        if stamp.seq >= *next {
            self.stats.gaps += u64::from(stamp.seq - *next);
            *next = stamp.seq + 1;
        } else {
            self.stats.out_of_order += 1;
        }
        self.stats.delivered += 1;
        if self.measured(stamp.intended_ns) {
            self.stats.measured_delivered += 1;
            let us = now.saturating_sub(stamp.intended_ns) / 1000;
            self.stats.message_latency.saturating_record(us.max(1));
        }
    }

    /// Whether a message intended at `t` falls in the measured period.
    fn measured(&self, t: u64) -> bool {
        let from = self.t0_ns.saturating_add(self.setup.warmup_ns);
        t >= from && t < self.end_ns
    }

    /// Running has begun: build this thread's sending streams.
    fn start_sending(&mut self) {
        self.sending = true;
        self.t0_ns = self.shared.t0_ns();
        self.end_ns = self
            .t0_ns
            .saturating_add(self.setup.warmup_ns)
            .saturating_add(self.setup.duration_ns);
        let layout = self.setup.layout;
        let senders = layout.senders();
        for (key, c) in &self.clients {
            if c.state != State::Ready {
                continue;
            }
            for m in layout.memberships(c.id) {
                if m.member >= senders
                    || self.shared.group_ready[m.group as usize].load(Ordering::Relaxed) < 2
                {
                    continue;
                }
                match self.setup.pace {
                    Pace::Fixed { period_ns } => {
                        let stream = layout.stream_index(m.group, m.member);
                        let offset = stream as f64 * period_ns / layout.streams() as f64;
                        let due = Due {
                            due_ns: self.t0_ns + offset as u64,
                            key: key as u32,
                            id: c.id,
                            group: m.group,
                            slot: m.member,
                            seq: 0,
                            stream,
                        };
                        if due.due_ns < self.end_ns {
                            self.schedule.push(Reverse(due));
                        }
                    }
                    Pace::Max { .. } => self.streams.push(Stream {
                        key: key as u32,
                        id: c.id,
                        group: m.group,
                        slot: m.member,
                        seq: 0,
                    }),
                }
            }
        }
    }

    fn finish_sending(&mut self) {
        self.sending = false;
        self.sending_done = true;
        self.publish();
        self.shared.senders_done.fetch_add(1, Ordering::AcqRel);
    }

    /// Queues the messages that are due.
    fn send_due(&mut self, now: u64) {
        match self.setup.pace {
            Pace::Fixed { period_ns } => {
                let streams = self.setup.layout.streams() as f64;
                let mut sent = 0;
                while sent < SENDS_PER_TURN {
                    let Some(Reverse(d)) = self.schedule.peek().copied() else {
                        break;
                    };
                    if d.due_ns > now {
                        break;
                    }
                    self.schedule.pop();
                    if !self.alive(d.key, d.id) {
                        continue;
                    }
                    self.send(d.key as usize, d.group, d.slot, d.seq, d.due_ns);
                    sent += 1;
                    let seq = d.seq + 1;
                    let offset = (d.stream as f64 + f64::from(seq) * streams) * period_ns / streams;
                    let next = Due {
                        due_ns: self.t0_ns + offset as u64,
                        seq,
                        ..d
                    };
                    if next.due_ns < self.end_ns {
                        self.schedule.push(Reverse(next));
                    }
                }
            }
            Pace::Max { window } => {
                if now < self.t0_ns {
                    return;
                }
                if now >= self.end_ns || self.streams.is_empty() {
                    self.streams.clear();
                    return;
                }
                self.publish();
                let fanout = u64::from(self.setup.layout.members().saturating_sub(1).max(1));
                let outstanding = self
                    .shared
                    .expected
                    .load(Ordering::Relaxed)
                    .saturating_sub(self.shared.delivered.load(Ordering::Relaxed))
                    / fanout;
                let limit = window * self.setup.layout.streams();
                let budget = (limit.saturating_sub(outstanding) / self.setup.threads as u64)
                    .min(SENDS_PER_TURN as u64);
                for _ in 0..budget {
                    if self.streams.is_empty() {
                        break;
                    }
                    let i = self.next_stream % self.streams.len();
                    let s = self.streams[i];
                    if !self.alive(s.key, s.id) {
                        self.streams.swap_remove(i);
                        continue;
                    }
                    self.send(s.key as usize, s.group, s.slot, s.seq, now);
                    self.streams[i].seq += 1;
                    self.next_stream = i + 1;
                }
            }
        }
    }

    fn alive(&self, key: u32, id: u32) -> bool {
        self.clients
            .get(key as usize)
            .is_some_and(|c| c.id == id && c.state == State::Ready)
    }

    /// Queues one stamped PRIVMSG from client `key` to its group.
    fn send(&mut self, key: usize, group: u32, slot: u32, seq: u32, intended_ns: u64) {
        let setup = &self.setup;
        let layout = setup.layout;
        let target = if layout.is_channels() {
            setup.names.channel(group)
        } else {
            setup.names.nick(layout.member_client(group, 1 - slot))
        };
        let c = &mut self.clients[key];
        Stamp {
            sender: c.id,
            seq,
            intended_ns,
        }
        .write(&mut self.text, setup.pad);
        let line = LineBuilder::new(None, "PRIVMSG")
            .param(&target)
            .trailing(&self.text)
            .into_bytes();
        c.out.extend_from_slice(&line);
        let fanout = self.shared.group_ready[group as usize]
            .load(Ordering::Relaxed)
            .saturating_sub(1);
        self.stats.sent += 1;
        self.stats.expected += u64::from(fanout);
        if self.measured(intended_ns) {
            self.stats.measured_sent += 1;
        }
        self.mark_dirty(key);
    }

    /// Adds this thread's new counts to the shared totals.
    fn publish(&mut self) {
        let s = &self.stats;
        let p = &mut self.published;
        if s.sent != p.sent {
            self.shared
                .sent
                .fetch_add(s.sent - p.sent, Ordering::Relaxed);
            p.sent = s.sent;
        }
        if s.expected != p.expected {
            self.shared
                .expected
                .fetch_add(s.expected - p.expected, Ordering::Relaxed);
            p.expected = s.expected;
        }
        if s.delivered != p.delivered {
            self.shared
                .delivered
                .fetch_add(s.delivered - p.delivered, Ordering::Relaxed);
            p.delivered = s.delivered;
        }
    }

    /// Fails clients that are not ready by their deadline.
    fn expire(&mut self, now: u64) {
        while let Some(&(deadline, key, id)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let Some(c) = self.clients.get(key) else {
                continue;
            };
            if c.id != id {
                continue;
            }
            let reason = match c.state {
                State::Ready => continue,
                State::Connecting => "timeout: TCP connect",
                State::Registering => "timeout: no 001 (registration)",
                State::Joining => "timeout: JOIN (no 366)",
            };
            self.close(key, reason);
        }
    }

    /// Closes a client and counts why.
    fn close(&mut self, key: usize, reason: &str) {
        let c = self.clients.remove(key);
        let _ = self.poller.delete(&c.sock);
        if self.shared.phase() == PHASE_DONE {
            return;
        }
        if c.state == State::Ready {
            self.stats.drop_client(reason);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.pending -= 1;
            self.stats.fail(reason);
            self.shared.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// End of run: unregister and close every socket.
    fn close_all(&mut self) {
        for c in self.clients.drain() {
            let _ = self.poller.delete(&c.sock);
        }
        if self.sending && !self.sending_done {
            self.finish_sending();
        }
    }
}

/// Adds a socket to the poller in level-triggered mode.
///
/// `polling` 3 marks registration `unsafe` because the poller must not outlive
/// a registered descriptor's validity; every socket registered here is owned
/// by a `Client` in the worker's slab and is `delete`d from the poller in
/// `Worker::close` / `Worker::close_all` before it is dropped.
#[allow(unsafe_code)]
fn register(poller: &Poller, sock: &TcpStream, ev: Event) -> io::Result<()> {
    // SAFETY: see above; the socket is deleted from the poller before drop.
    unsafe { poller.add_with_mode(sock, ev, PollMode::Level) }
}

/// Starts a non-blocking TCP connect, bound to `source` first if given.
fn connect_nonblocking(target: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let sock = Socket::new(
        Domain::for_address(target),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    sock.set_nonblocking(true)?;
    sock.set_nodelay(true)?;
    if let Some(ip) = source {
        sock.bind(&SocketAddr::new(ip, 0).into())?;
    }
    match sock.connect(&target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(sock.into())
}

/// A short, stable failure reason for an I/O error.
fn classify(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => return "refused".into(),
        Some(libc::ECONNRESET) => return "reset by server".into(),
        Some(libc::ETIMEDOUT) => return "timeout: TCP connect (kernel)".into(),
        Some(libc::EADDRNOTAVAIL) => {
            return "no free local port (EADDRNOTAVAIL): spread clients with --source".into()
        }
        Some(libc::EADDRINUSE) => return "local address in use (EADDRINUSE)".into(),
        Some(libc::EMFILE) | Some(libc::ENFILE) => return "too many open files".into(),
        Some(libc::EPIPE) => return "closed by server (broken pipe)".into(),
        _ => {}
    }
    format!("I/O error: {e}")
}

/// Whether a command is a 4xx/5xx error numeric; returns its code.
fn error_numeric(cmd: &str) -> Option<u16> {
    let b = cmd.as_bytes();
    if b.len() == 3 && b.iter().all(u8::is_ascii_digit) && (b[0] == b'4' || b[0] == b'5') {
        cmd.parse().ok()
    } else {
        None
    }
}

/// Numerics that mean a JOIN was refused.
fn is_join_error(code: u16) -> bool {
    matches!(
        code,
        403 | 405 | 437 | 448 | 471 | 473 | 474 | 475 | 476 | 477 | 479 | 489
    )
}

/// The RFC name of common error numerics.
fn numeric_name(code: u16) -> &'static str {
    match code {
        403 => "ERR_NOSUCHCHANNEL",
        405 => "ERR_TOOMANYCHANNELS",
        431 => "ERR_NONICKNAMEGIVEN",
        432 => "ERR_ERRONEUSNICKNAME",
        433 => "ERR_NICKNAMEINUSE",
        436 => "ERR_NICKCOLLISION",
        437 => "ERR_UNAVAILRESOURCE",
        451 => "ERR_NOTREGISTERED",
        461 => "ERR_NEEDMOREPARAMS",
        462 => "ERR_ALREADYREGISTERED",
        464 => "ERR_PASSWDMISMATCH",
        465 => "ERR_YOUREBANNEDCREEP",
        471 => "ERR_CHANNELISFULL",
        473 => "ERR_INVITEONLYCHAN",
        474 => "ERR_BANNEDFROMCHAN",
        475 => "ERR_BADCHANNELKEY",
        476 => "ERR_BADCHANMASK",
        477 => "ERR_NEEDREGGEDNICK",
        _ => "",
    }
}

/// Makes a server's ERROR text comparable across clients: the client's own
/// nick becomes `<nick>` and digit runs become `N`; at most 100 characters.
fn normalise(text: &str, nick: &str) -> String {
    let replaced = text.replace(nick, "<nick>");
    let mut out = String::with_capacity(replaced.len().min(100));
    let mut in_digits = false;
    for ch in replaced.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(ch);
        }
        if out.len() >= 100 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_are_normalised() {
        assert_eq!(
            normalise("Closing connection: lg1a[127.0.0.1] (Too many)", "lg1a"),
            "Closing connection: <nick>[N.N.N.N] (Too many)"
        );
    }

    #[test]
    fn numerics_are_recognised() {
        assert_eq!(error_numeric("433"), Some(433));
        assert_eq!(error_numeric("001"), None);
        assert_eq!(error_numeric("PRIVMSG"), None);
        assert!(is_join_error(471));
        assert_eq!(numeric_name(433), "ERR_NICKNAMEINUSE");
    }

    #[test]
    fn refused_connections_are_classified() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(classify(&e), "refused");
    }
}

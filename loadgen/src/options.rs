//! Command-line options: the scenarios, their settings and their defaults.
//!
//! This module owns what a user can ask for and how it is spelled (clap
//! derive), plus the small value types options are made of (`Rate`,
//! `SourceRange`). Every option is `Serialize` so that `--json` can record the
//! exact settings a run used. It does no I/O and starts nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use serde::{Serialize, Serializer};

/// Load generator for IRC servers (parley, ngircd, InspIRCd, Ergo, ...).
///
/// Drives thousands of plain-IRC clients from a few non-blocking event loops
/// (one per thread) and reports latency histograms, counts and failures.
/// It only ever connects to the `--target` address.
#[derive(Parser, Debug, Clone, Serialize)]
#[command(name = "loadgen", version, about, long_about, after_long_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

const EXAMPLES: &str = "\
Examples:
  loadgen connect --clients 10000 --ramp 2000
  loadgen idle --clients 10000 --duration 30 --server-pid $(pidof parleyd)
  loadgen channel --clients 10000 --channels 100 --senders 10 --rate 2000 --warmup 2 --duration 10
  loadgen channel --clients 10000 --channels 100 --senders 10 --rate max --duration 10
  loadgen private --clients 2000 --rate 2000 --json run.json --hgrm run.hgrm --plot run.svg

Servers limit one address and flood: run parleyd with --max-per-ip 0
--flood-rate 0 (or loadgen/configs/parley-load.toml); ngircd needs
MaxConnectionsIP = 0 (loadgen/configs/ngircd-load.conf), a slow --ramp
(its listen backlog is 10) and at most ~2 messages/s per sender.
Past ~28k clients (or when other programs hold local ports) add
--source 127.0.0.2-127.0.0.50.

Exit status: 0 passed, 1 the run found problems (loss, reordering, failed or
dropped clients, time bound hit), 2 it could not start.";

/// What the clients do once connected.
#[derive(Subcommand, Debug, Clone, Serialize)]
#[serde(tag = "scenario", rename_all = "lowercase")]
pub enum Scenario {
    /// Open N clients at a given rate and register each one (NICK/USER until
    /// 001).
    ///
    /// Reports the connect+registration latency histogram (measured from each
    /// client's scheduled start time, so a slow accept queue shows up as
    /// latency) and failures by reason: refused, timeout, closed, reset, an
    /// error numeric such as 433, a server ERROR line, no free local port, ...
    Connect(ConnectOpts),
    /// Hold N registered clients for a duration, answering PINGs.
    ///
    /// With --server-pid, reads the server's VmRSS from /proc/PID/status before
    /// connecting and again after every client registered and --settle seconds
    /// passed, and reports the growth per client. Clients dropped by the server
    /// while held are failures.
    Idle(IdleOpts),
    /// C channels with M members each; S members of each channel send PRIVMSG.
    ///
    /// Senders send at a fixed total rate R (spread evenly over all senders and
    /// over time) or as fast as a bounded in-flight window allows (--rate max).
    /// Each message carries its sender's id, a per-sender sequence number and
    /// its intended send time; receivers measure end-to-end latency from that
    /// intended time (corrected for coordinated omission, like wrk2) and check
    /// loss and order per sender. The server does not echo a sender's own
    /// channel message, so each message is expected (members - 1) times.
    /// When channels*members exceeds --clients, clients join several channels.
    Channel(ChannelOpts),
    /// Pairs of clients exchanging private messages at a fixed total rate.
    ///
    /// Clients 2k and 2k+1 form a pair and each sends PRIVMSG to the other;
    /// the report is the same as for `channel` (each message expected once).
    Private(PrivateOpts),
}

impl Scenario {
    /// Options every scenario has.
    pub fn common(&self) -> &Common {
        match self {
            Scenario::Connect(o) => &o.common,
            Scenario::Idle(o) => &o.common,
            Scenario::Channel(o) => &o.common,
            Scenario::Private(o) => &o.common,
        }
    }

    /// The scenario's name as typed on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Connect(_) => "connect",
            Scenario::Idle(_) => "idle",
            Scenario::Channel(_) => "channel",
            Scenario::Private(_) => "private",
        }
    }
}

/// Options shared by every scenario.
#[derive(Args, Debug, Clone, Serialize)]
pub struct Common {
    /// Server address to connect to (the only address ever connected to).
    #[arg(long, default_value = "127.0.0.1:6667")]
    pub target: SocketAddr,
    /// Number of clients.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub clients: usize,
    /// New connections per second over all threads (0 = as fast as possible).
    #[arg(long, default_value_t = 1000.0)]
    pub ramp: f64,
    /// Most connections being opened or registered at once.
    #[arg(long, default_value_t = 1000)]
    pub max_pending: usize,
    /// Seconds a client may take to connect and register before it counts as
    /// a "timeout" failure.
    #[arg(long, default_value_t = 30.0)]
    pub connect_timeout: f64,
    /// Event-loop threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Local source addresses to spread clients over, bound before connect, to
    /// get past the ~28k ephemeral ports per source address: a range
    /// `127.0.0.2-127.0.0.50`, or a comma-separated list.
    #[arg(long)]
    pub source: Option<SourceRange>,
    /// Nick (and channel) name prefix, so concurrent runs do not collide. Nicks
    /// are the prefix plus the client index in base 36.
    #[arg(long, default_value = "lg")]
    pub nick_prefix: String,
    /// Longest nick the server accepts (ngircd's default is 9).
    #[arg(long, default_value_t = 9)]
    pub max_nick_len: usize,
    /// Hard bound on the whole run in seconds; 0 picks one from the other
    /// settings. A run that hits it stops and fails.
    #[arg(long, default_value_t = 0.0)]
    pub timeout: f64,
    /// Exit 0 even if some clients failed to connect/register or were dropped.
    #[arg(long)]
    pub allow_failures: bool,
    /// Write the latency histogram in HdrHistogram's percentile-distribution
    /// text format (values in milliseconds).
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Write a machine-readable JSON summary (with the exact options used).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw latency by percentile as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `connect` options.
#[derive(Args, Debug, Clone, Serialize)]
pub struct ConnectOpts {
    #[command(flatten)]
    pub common: Common,
    /// Seconds of the ramp whose clients are left out of the histogram.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Seconds to keep every client connected after the last one registered.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
}

/// `idle` options.
#[derive(Args, Debug, Clone, Serialize)]
pub struct IdleOpts {
    #[command(flatten)]
    pub common: Common,
    /// Seconds to hold the clients once all are registered.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Server process whose resident memory (VmRSS) to measure.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Seconds to wait after the last registration before reading the RSS.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
}

/// Message traffic options shared by `channel` and `private`.
#[derive(Args, Debug, Clone, Serialize)]
pub struct Traffic {
    /// Total messages per second over all senders, or `max` (as fast as a
    /// bounded in-flight window allows; latency is then measured from the
    /// actual send time).
    #[arg(long, default_value = "1000")]
    pub rate: Rate,
    /// Seconds of sending that are measured (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of sending before the measured period, left out of the
    /// latency histogram and the rates (still checked for loss and order).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait after sending stops for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Extra payload bytes padded onto each message text.
    #[arg(long, default_value_t = 0)]
    pub size: usize,
    /// With --rate max: messages in flight per sender before it waits.
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Exit 0 even if messages were lost or arrived out of order.
    #[arg(long)]
    pub allow_loss: bool,
}

/// `channel` options.
#[derive(Args, Debug, Clone, Serialize)]
pub struct ChannelOpts {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub traffic: Traffic,
    /// Number of channels (C).
    #[arg(long, short = 'c', default_value_t = 10)]
    pub channels: usize,
    /// Members per channel (M); default: clients / channels.
    #[arg(long, short = 'm')]
    pub members: Option<usize>,
    /// Senders per channel (S), the first S members of each.
    #[arg(long, short = 's', default_value_t = 1)]
    pub senders: usize,
}

/// `private` options.
#[derive(Args, Debug, Clone, Serialize)]
pub struct PrivateOpts {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub traffic: Traffic,
}

/// A total message rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Messages per second, on a fixed schedule.
    PerSec(f64),
    /// As fast as the in-flight window allows.
    Max,
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        match s.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Ok(Rate::PerSec(r)),
            _ => Err(format!("`{s}` is not a positive rate or `max`")),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::PerSec(r) => write!(f, "{r}"),
            Rate::Max => f.write_str("max"),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rate::PerSec(r) => s.serialize_f64(*r),
            Rate::Max => s.serialize_str("max"),
        }
    }
}

/// Local addresses to bind client sockets to, used in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRange(pub Vec<IpAddr>);

/// Most addresses a source range may hold.
const MAX_SOURCES: u32 = 65_536;

impl FromStr for SourceRange {
    type Err = String;
    fn from_str(s: &str) -> Result<SourceRange, String> {
        let mut addrs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some((a, b)) = part.split_once('-') {
                let a: Ipv4Addr = a.trim().parse().map_err(|e| format!("`{a}`: {e}"))?;
                let b: Ipv4Addr = b.trim().parse().map_err(|e| format!("`{b}`: {e}"))?;
                let (lo, hi) = (u32::from(a), u32::from(b));
                if lo > hi {
                    return Err(format!("range `{part}` runs backwards"));
                }
                if hi - lo >= MAX_SOURCES {
                    return Err(format!("range `{part}` is too large"));
                }
                addrs.extend((lo..=hi).map(|v| IpAddr::V4(Ipv4Addr::from(v))));
            } else {
                addrs.push(part.parse().map_err(|e| format!("`{part}`: {e}"))?);
            }
        }
        if addrs.is_empty() {
            return Err("no source address given".into());
        }
        Ok(SourceRange(addrs))
    }
}

impl Serialize for SourceRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|a| a.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("250.5".parse::<Rate>(), Ok(Rate::PerSec(250.5)));
        assert!("0".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
    }

    #[test]
    fn source_ranges_parse() {
        let r: SourceRange = "127.0.0.2-127.0.0.4".parse().unwrap();
        assert_eq!(r.0.len(), 3);
        assert_eq!(r.0[2], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)));
        let r: SourceRange = "127.0.0.9, 127.0.0.7".parse().unwrap();
        assert_eq!(r.0.len(), 2);
        assert!("127.0.0.5-127.0.0.4".parse::<SourceRange>().is_err());
        assert!("".parse::<SourceRange>().is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

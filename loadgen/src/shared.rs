//! What the coordinating thread and the event-loop threads share: the fixed
//! settings of a run ([`Setup`]) and a handful of atomics ([`Shared`]) for the
//! phase, the sending start time and the running totals shown in the progress
//! line.
//!
//! Threads publish counter deltas in batches (once per loop turn), so the
//! atomics are touched a few thousand times a second, not once per message.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use crate::plan::{Layout, Names};

/// Clients are being connected, registered and joined.
pub const PHASE_CONNECTING: u8 = 0;
/// Every client is settled; senders follow their schedule from `t0`.
pub const PHASE_RUNNING: u8 = 1;
/// The measured period is over: no new messages; deliveries still counted.
pub const PHASE_DRAINING: u8 = 2;
/// Stop: threads close their sockets and return their stats.
pub const PHASE_DONE: u8 = 3;

/// How messages are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each stream sends every `period_ns` nanoseconds, on a fixed schedule.
    Fixed { period_ns: f64 },
    /// Send whenever fewer than `window` messages per stream are in flight.
    Max { window: u64 },
}

/// A run's fixed settings, read by every thread.
#[derive(Debug, Clone)]
pub struct Setup {
    pub target: SocketAddr,
    /// Source addresses, used in turn by client index (empty: let the OS pick).
    pub sources: Vec<IpAddr>,
    pub clients: u32,
    pub threads: usize,
    /// New connections per second over all threads (0 = no limit).
    pub ramp: f64,
    /// Most clients connecting or registering per thread.
    pub max_pending_per_thread: usize,
    pub connect_timeout_ns: u64,
    /// Clients scheduled to start before this (ns since the epoch) are left
    /// out of the connect-latency histogram.
    pub connect_warmup_ns: u64,
    pub names: Names,
    pub layout: Layout,
    pub pace: Pace,
    /// Sending starts at `t0 + 0`; measured from `t0 + warmup_ns` to
    /// `t0 + warmup_ns + duration_ns`, when sending stops.
    pub warmup_ns: u64,
    pub duration_ns: u64,
    /// Extra bytes of padding on each message text.
    pub pad: usize,
}

/// State shared between the coordinator and the event-loop threads.
#[derive(Debug)]
pub struct Shared {
    /// Time zero of the run; every timestamp is nanoseconds since this.
    pub epoch: Instant,
    phase: AtomicU8,
    t0_ns: AtomicU64,
    /// Clients whose TCP connection completed.
    pub connected: AtomicU64,
    /// Clients registered and joined.
    pub ready: AtomicU64,
    /// Clients that failed before becoming ready.
    pub failed: AtomicU64,
    /// Ready clients disconnected since.
    pub dropped: AtomicU64,
    pub sent: AtomicU64,
    pub expected: AtomicU64,
    pub delivered: AtomicU64,
    /// Threads that finished their sending schedule.
    pub senders_done: AtomicUsize,
    /// Ready members of each group (channel or pair).
    pub group_ready: Box<[AtomicU32]>,
}

impl Shared {
    pub fn new(groups: u32) -> Shared {
        Shared {
            epoch: Instant::now(),
            phase: AtomicU8::new(PHASE_CONNECTING),
            t0_ns: AtomicU64::new(u64::MAX),
            connected: AtomicU64::new(0),
            ready: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            senders_done: AtomicUsize::new(0),
            group_ready: (0..groups).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Nanoseconds since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire)
    }

    pub fn set_phase(&self, p: u8) {
        self.phase.store(p, Ordering::Release);
    }

    /// Starts the messaging phase with sending from `t0_ns`.
    pub fn start_running(&self, t0_ns: u64) {
        self.t0_ns.store(t0_ns, Ordering::Release);
        self.set_phase(PHASE_RUNNING);
    }

    /// When sending starts (ns since the epoch), once running.
    pub fn t0_ns(&self) -> u64 {
        self.t0_ns.load(Ordering::Acquire)
    }

    /// Clients that are ready or failed.
    pub fn settled(&self) -> u64 {
        self.ready.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

//! What each event-loop thread measures, and the merge into one result.
//!
//! Every thread owns one [`Stats`] (histograms and counters, never shared
//! while the run goes on); at the end they are merged pairwise with rayon.
//! Latencies are recorded in microseconds.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use rayon::prelude::*;

/// Largest latency a histogram holds (one hour, in microseconds); larger
/// values are recorded as this.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant digits kept by the histograms.
pub const SIGFIG: u8 = 3;

/// A fresh latency histogram in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGFIG).expect("valid histogram bounds")
}

/// One thread's measurements (or, after [`merge_all`], the whole run's).
#[derive(Debug, Clone)]
pub struct Stats {
    /// Connect+registration latency, from each client's scheduled start.
    pub connect_latency: Histogram<u64>,
    /// End-to-end message latency, from each message's intended send time.
    pub message_latency: Histogram<u64>,
    /// Clients that never became ready, by reason.
    pub failures: BTreeMap<String, u64>,
    /// Ready clients that were disconnected later, by reason.
    pub drops: BTreeMap<String, u64>,
    /// Clients that completed registration (got 001).
    pub registered: u64,
    /// Clients that registered and joined all their channels.
    pub ready: u64,
    /// PINGs answered.
    pub pings: u64,
    /// Measured messages queued for sending.
    pub sent: u64,
    /// Deliveries those messages should cause.
    pub expected: u64,
    /// Measured messages received.
    pub delivered: u64,
    /// Messages whose intended send time fell in the measured period.
    pub measured_sent: u64,
    /// Deliveries of such messages.
    pub measured_delivered: u64,
    /// Messages that arrived with a lower sequence number than one already
    /// seen from the same sender (reordered or duplicated).
    pub out_of_order: u64,
    /// Sequence numbers skipped over (messages missing when a later one came).
    pub gaps: u64,
    /// PRIVMSGs that did not carry a valid stamp for this receiver.
    pub unexpected: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            connect_latency: new_histogram(),
            message_latency: new_histogram(),
            failures: BTreeMap::new(),
            drops: BTreeMap::new(),
            registered: 0,
            ready: 0,
            pings: 0,
            sent: 0,
            expected: 0,
            delivered: 0,
            measured_sent: 0,
            measured_delivered: 0,
            out_of_order: 0,
            gaps: 0,
            unexpected: 0,
        }
    }
}

impl Stats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.connect_latency
            .add(&other.connect_latency)
            .expect("histograms share bounds");
        self.message_latency
            .add(&other.message_latency)
            .expect("histograms share bounds");
        for (k, v) in &other.failures {
            *self.failures.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.drops {
            *self.drops.entry(k.clone()).or_default() += v;
        }
        self.registered += other.registered;
        self.ready += other.ready;
        self.pings += other.pings;
        self.sent += other.sent;
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.measured_sent += other.measured_sent;
        self.measured_delivered += other.measured_delivered;
        self.out_of_order += other.out_of_order;
        self.gaps += other.gaps;
        self.unexpected += other.unexpected;
    }

    /// Counts a client that never became ready.
    pub fn fail(&mut self, reason: &str) {
        bump(&mut self.failures, reason);
    }

    /// Counts a ready client that was disconnected.
    pub fn drop_client(&mut self, reason: &str) {
        bump(&mut self.drops, reason);
    }

    /// Total failed clients.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Total dropped clients.
    pub fn dropped(&self) -> u64 {
        self.drops.values().sum()
    }
}

fn bump(map: &mut BTreeMap<String, u64>, reason: &str) {
    match map.get_mut(reason) {
        Some(n) => *n += 1,
        None => {
            map.insert(reason.to_string(), 1);
        }
    }
}

/// Merges per-thread results into one.
pub fn merge_all(parts: Vec<Stats>) -> Stats {
    parts.into_par_iter().reduce(Stats::default, |mut a, b| {
        a.merge(&b);
        a
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_everything() {
        let mut a = Stats::default();
        a.message_latency.record(100).unwrap();
        a.fail("refused");
        a.delivered = 3;
        let mut b = Stats::default();
        b.message_latency.record(300).unwrap();
        b.fail("refused");
        b.fail("timeout");
        b.delivered = 4;
        let m = merge_all(vec![a, b, Stats::default()]);
        assert_eq!(m.message_latency.len(), 2);
        assert_eq!(m.failures["refused"], 2);
        assert_eq!(m.failed(), 3);
        assert_eq!(m.delivered, 7);
    }
}

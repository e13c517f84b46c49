//! Per-connection flood control: a token bucket of lines.
//!
//! A client may send `burst` lines at once and `rate` lines a second after
//! that. Lines over budget are held back in order and released as the bucket
//! refills ("fake lag", as large networks do); a client that gets more than
//! `max_held` lines ahead is disconnected with `ERROR :Excess Flood`.
//! Operators are exempt. The held queue exists only while lines are held.

use std::collections::VecDeque;

use crate::bus::Event;

/// Flood limits, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct FloodLimits {
    /// Lines a client may send at once.
    pub burst: u32,
    /// Lines per second after the burst; 0 turns flood control off.
    pub rate: u32,
    /// Lines that may be held back before the client is disconnected.
    pub max_held: usize,
}

/// The client sent too far ahead of its budget.
#[derive(Debug, PartialEq, Eq)]
pub struct ExcessFlood;

#[derive(Debug)]
pub struct Flood {
    /// Thousandths of a line; [`EXEMPT`] for an exempt client (a sentinel
    /// rather than a flag keeps `Flood`, in every connection, at 16 bytes).
    tokens: u32,
    /// Milliseconds (reactor clock) of the last refill.
    last_ms: u32,
    // Boxed on purpose: 8 bytes in every connection instead of 32, since
    // almost no connection is ever held back.
    #[allow(clippy::box_collection)]
    held: Option<Box<VecDeque<Event>>>,
}

/// `tokens` of a client flood control does not apply to.
const EXEMPT: u32 = u32::MAX;

/// A full bucket (never mistaken for [`EXEMPT`]).
fn full(limits: &FloodLimits) -> u32 {
    limits.burst.saturating_mul(1000).min(EXEMPT - 1)
}

impl Flood {
    pub fn new(now_ms: u32, limits: &FloodLimits) -> Self {
        Flood {
            tokens: full(limits),
            last_ms: now_ms,
            held: None,
        }
    }

    /// Lifts flood control for good (operators).
    pub fn exempt(&mut self) {
        self.tokens = EXEMPT;
    }

    fn refill(&mut self, now_ms: u32, limits: &FloodLimits) {
        let elapsed = now_ms.wrapping_sub(self.last_ms);
        self.last_ms = now_ms;
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(limits.rate))
            .min(full(limits));
    }

    fn take(&mut self, now_ms: u32, limits: &FloodLimits) -> bool {
        if self.tokens == EXEMPT || limits.rate == 0 {
            return true;
        }
        self.refill(now_ms, limits);
        if self.tokens >= 1000 {
            self.tokens -= 1000;
            true
        } else {
            false
        }
    }

    /// Passes `ev` on now (Some), holds it back (None), or reports a flood.
    pub fn admit(
        &mut self,
        ev: Event,
        now_ms: u32,
        limits: &FloodLimits,
    ) -> Result<Option<Event>, ExcessFlood> {
        if self.held.is_none() && self.take(now_ms, limits) {
            return Ok(Some(ev));
        }
        let held = self.held.get_or_insert_with(Default::default);
        if held.len() >= limits.max_held {
            return Err(ExcessFlood);
        }
        held.push_back(ev);
        Ok(None)
    }

    /// Releases held lines the budget now allows, in order. Returns true while
    /// lines are still held.
    pub fn release(
        &mut self,
        now_ms: u32,
        limits: &FloodLimits,
        mut pass: impl FnMut(Event),
    ) -> bool {
        while self.held.as_ref().is_some_and(|h| !h.is_empty()) {
            if !self.take(now_ms, limits) {
                return true;
            }
            if let Some(ev) = self.held.as_mut().and_then(|h| h.pop_front()) {
                pass(ev);
            }
        }
        self.held = None;
        false
    }

    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::ConnId;

    const LIMITS: FloodLimits = FloodLimits {
        burst: 3,
        rate: 2,
        max_held: 2,
    };

    fn line(n: u8) -> Event {
        Event::Line {
            conn: ConnId { slot: 0, gen: 0 },
            line: vec![n].into(),
        }
    }

    fn num(ev: &Event) -> u8 {
        match ev {
            Event::Line { line, .. } => line[0],
            _ => panic!("not a line"),
        }
    }

    #[test]
    fn burst_then_hold_then_release_in_order() {
        let mut f = Flood::new(0, &LIMITS);
        for i in 0..3 {
            assert!(f.admit(line(i), 0, &LIMITS).unwrap().is_some());
        }
        assert!(f.admit(line(3), 0, &LIMITS).unwrap().is_none());
        assert!(f.admit(line(4), 100, &LIMITS).unwrap().is_none());
        assert!(matches!(f.admit(line(5), 100, &LIMITS), Err(ExcessFlood)));
        let mut out = Vec::new();
        assert!(
            f.release(500, &LIMITS, |e| out.push(num(&e))),
            "one token after 0.5 s"
        );
        assert_eq!(out, vec![3]);
        assert!(!f.release(1000, &LIMITS, |e| out.push(num(&e))));
        assert_eq!(out, vec![3, 4]);
        assert!(!f.is_holding());
    }

    #[test]
    fn exempt_and_disabled_never_hold() {
        let mut f = Flood::new(0, &LIMITS);
        f.exempt();
        for i in 0..100 {
            assert!(f.admit(line(i), 0, &LIMITS).unwrap().is_some());
        }
        let off = FloodLimits { rate: 0, ..LIMITS };
        let mut g = Flood::new(0, &off);
        for i in 0..100 {
            assert!(g.admit(line(i), 0, &off).unwrap().is_some());
        }
    }
}

//! Backoff after failed logins: a few free tries, then each further failure
//! doubles the wait before the next attempt is even checked.

use std::time::{Duration, Instant};

/// Failure count and the time before which attempts are refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

/// How a [`Backoff`] grows.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before any wait.
    pub free: u32,
    /// The first wait; each later failure doubles it.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// Per connection: three free tries, then 2 s, 4 s, ... up to a minute.
pub const PER_CONNECTION: Policy = Policy {
    free: 3,
    base: Duration::from_secs(2),
    max: Duration::from_secs(60),
};

/// Per account (across every connection): five free tries, then 2 s doubling
/// up to ten minutes.
pub const PER_ACCOUNT: Policy = Policy {
    free: 5,
    base: Duration::from_secs(2),
    max: Duration::from_secs(600),
};

impl Backoff {
    /// Time left before another attempt may be checked, if any.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now))
    }

    /// Records a failure.
    pub fn fail(&mut self, policy: Policy, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.failures > policy.free {
            let doublings = (self.failures - policy.free - 1).min(20);
            let wait = policy.base.saturating_mul(1 << doublings).min(policy.max);
            self.until = Some(now + wait);
        }
    }

    /// Whether this record still matters (so maps can drop stale ones).
    pub fn live(&self, now: Instant, policy: Policy) -> bool {
        self.until
            .map_or(self.failures > 0, |u| u + policy.max > now)
    }
}

/// Whole seconds, rounded up, for messages.
pub fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_tries_then_doubling_up_to_the_cap() {
        let now = Instant::now();
        let mut b = Backoff::default();
        for _ in 0..3 {
            b.fail(PER_CONNECTION, now);
            assert!(b.wait(now).is_none());
        }
        b.fail(PER_CONNECTION, now);
        assert_eq!(b.wait(now), Some(Duration::from_secs(2)));
        b.fail(PER_CONNECTION, now);
        assert_eq!(b.wait(now), Some(Duration::from_secs(4)));
        for _ in 0..40 {
            b.fail(PER_CONNECTION, now);
        }
        assert_eq!(b.wait(now), Some(Duration::from_secs(60)));
        assert!(b.wait(now + Duration::from_secs(61)).is_none());
    }
}

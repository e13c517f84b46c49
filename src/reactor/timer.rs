//! A coarse timer wheel with one-second slots.
//!
//! Entries are never cancelled: each carries the tick it was set for, and the
//! connection remembers the tick of its one live entry, so a superseded entry
//! is recognised and dropped when it fires. When a live entry fires, the
//! reactor looks at the connection's real state and either acts or arms it
//! again, so activity costs nothing here and a tick costs only the entries
//! that fall due in it (never a scan over every connection).

use crate::bus::ConnId;

const SLOTS: usize = 256;

pub struct TimerWheel {
    slots: Vec<Vec<(ConnId, u32)>>,
    /// The last tick whose slot has been handed out.
    done: u32,
}

impl TimerWheel {
    pub fn new() -> Self {
        TimerWheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            done: 0,
        }
    }

    /// Schedules `id` to be looked at on tick `at` (or the next tick, if `at`
    /// has passed). Deadlines more than a lap away fire early and are
    /// rescheduled by the caller.
    pub fn schedule(&mut self, id: ConnId, at: u32) {
        let slot = at.max(self.done + 1);
        self.slots[slot as usize % SLOTS].push((id, at));
    }

    /// Takes every entry due up to and including tick `now`.
    pub fn advance(&mut self, now: u32, due: &mut Vec<(ConnId, u32)>) {
        while self.done < now {
            self.done += 1;
            let slot = &mut self.slots[self.done as usize % SLOTS];
            due.append(slot);
            if slot.capacity() > 1024 {
                // Give back memory after a burst (e.g. a mass disconnect).
                slot.shrink_to(1024);
            }
        }
    }
}

impl Default for TimerWheel {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(slot: u32) -> ConnId {
        ConnId { slot, gen: 0 }
    }

    #[test]
    fn entries_fire_on_their_tick() {
        let mut w = TimerWheel::new();
        w.schedule(id(1), 3);
        w.schedule(id(2), 5);
        let mut due = Vec::new();
        w.advance(2, &mut due);
        assert!(due.is_empty());
        w.advance(4, &mut due);
        assert_eq!(due, vec![(id(1), 3)]);
        due.clear();
        w.advance(5, &mut due);
        assert_eq!(due, vec![(id(2), 5)]);
    }

    #[test]
    fn past_deadlines_fire_next_tick() {
        let mut w = TimerWheel::new();
        let mut due = Vec::new();
        w.advance(10, &mut due);
        w.schedule(id(7), 1);
        w.advance(11, &mut due);
        assert_eq!(due, vec![(id(7), 1)]);
    }
}

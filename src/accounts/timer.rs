//! One thread that runs callbacks at given times (nick-enforcement grace
//! periods): a binary heap of deadlines, however many are pending, instead of
//! a thread or a sleeping task per client. Callbacks must be quick; they only
//! hand work to a worker.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

type Callback = Box<dyn FnOnce() + Send>;

struct Entry {
    at: Instant,
    seq: u64,
    run: Callback,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Handle to the timer thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Timer {
    tx: Sender<(Instant, Callback)>,
}

impl Timer {
    pub fn start() -> std::io::Result<Timer> {
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("accounts-timer".into())
            .spawn(move || run(rx))?;
        Ok(Timer { tx })
    }

    /// Runs `f` on the timer thread at `at` (or soon after).
    pub fn at(&self, at: Instant, f: impl FnOnce() + Send + 'static) {
        let _ = self.tx.send((at, Box::new(f)));
    }
}

fn run(rx: Receiver<(Instant, Callback)>) {
    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|e| e.0.at <= now) {
            (heap.pop().expect("peeked").0.run)();
        }
        let got = match heap.peek() {
            Some(e) => rx.recv_timeout(e.0.at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok((at, run)) => {
                seq += 1;
                heap.push(Reverse(Entry { at, seq, run }));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_order() {
        let t = Timer::start().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let now = Instant::now();
        for (i, ms) in [(1, 60u64), (2, 20), (3, 40)] {
            let tx = tx.clone();
            t.at(now + Duration::from_millis(ms), move || tx.send(i).unwrap());
        }
        let got: Vec<i32> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![2, 3, 1]);
    }
}

//! The messages that flow between the reactor and the workers, and the handles
//! that carry them.
//!
//! Data flows one way round: the reactor sends [`Event`]s (decoded lines, new
//! and closed connections) to the worker that owns the connection; workers send
//! batches of [`Out`] (encoded lines, closes) back through the [`Outbox`], which
//! wakes the reactor. Nothing here touches sockets or chat state.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::protocol::SharedLine;

/// A connection's identity: its slab slot plus a generation, so that a reply
/// meant for a closed connection can never reach a newer one in the same slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ConnId {
    pub slot: u32,
    pub gen: u32,
}

impl ConnId {
    /// Index of the worker that runs this connection's commands. A slot always
    /// maps to the same worker, so a closed connection's last events are handled
    /// before those of the next connection to take its slot.
    pub fn worker(self, workers: usize) -> usize {
        self.slot as usize % workers
    }
}

/// From the reactor (or a finished slow task) to a worker.
pub enum Event {
    /// A new connection (`tls`: over TLS, for WHOIS 671). Sent just before
    /// the connection's first line, so a connection that never says anything
    /// costs the workers nothing.
    Accepted { conn: ConnId, ip: IpAddr, tls: bool },
    /// One complete line, without its line ending.
    Line { conn: ConnId, line: Box<[u8]> },
    /// A line went past the length limit and was dropped.
    LineTooLong { conn: ConnId },
    /// The connection is gone (the client left, or the reactor dropped it).
    Closed { conn: ConnId, reason: Box<str> },
    /// The send queue emptied after an [`Out::WatchDrain`].
    Drained { conn: ConnId },
    /// The rest of a command that waited for slow work (e.g. password hashing).
    Task {
        conn: ConnId,
        task: crate::commands::Task,
    },
    /// The reactor has stopped; the worker should finish. (Workers also hold
    /// each other's senders for tasks, so channel disconnection alone would
    /// never come.)
    Stop,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Accepted { conn, ip, tls } => {
                write!(f, "Accepted({conn:?}, {ip}, tls: {tls})")
            }
            Event::Line { conn, line } => {
                write!(f, "Line({conn:?}, {:?})", String::from_utf8_lossy(line))
            }
            Event::LineTooLong { conn } => write!(f, "LineTooLong({conn:?})"),
            Event::Closed { conn, reason } => write!(f, "Closed({conn:?}, {reason})"),
            Event::Task { conn, .. } => write!(f, "Task({conn:?})"),
            Event::Drained { conn } => write!(f, "Drained({conn:?})"),
            Event::Stop => f.write_str("Stop"),
        }
    }
}

/// From a worker to the reactor.
#[derive(Debug)]
pub enum Out {
    /// Queue a line for one connection.
    Line(ConnId, SharedLine),
    /// Queue one shared line for many connections.
    Fanout(Box<[ConnId]>, SharedLine),
    /// The connection finished registration (switches it to PING timers).
    Registered(ConnId),
    /// Send this final line (an `ERROR`), flush, and close. The worker has
    /// already forgotten the client, so no `Closed` comes back for it.
    Close(ConnId, SharedLine),
    /// The client became an operator: exempt it from flood control.
    FloodExempt(ConnId),
    /// Say [`Event::Drained`] once this connection's send queue is empty
    /// (used to pace long replies such as LIST).
    WatchDrain(ConnId),
}

/// The workers' way back to the reactor: a channel of batches plus a wake-up
/// that is sent only when the reactor is not already due to look.
#[derive(Clone)]
pub struct Outbox {
    tx: Sender<Vec<Out>>,
    waker: Arc<Waker>,
}

/// Wakes the reactor at most once per drain.
pub struct Waker {
    poller: Arc<polling::Poller>,
    pending: AtomicBool,
}

impl Waker {
    pub fn new(poller: Arc<polling::Poller>) -> Self {
        Waker {
            poller,
            pending: AtomicBool::new(false),
        }
    }

    /// Asks the reactor to look at its inbox.
    pub fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            // A failed notify means the poller is gone: the server is stopping.
            let _ = self.poller.notify();
        }
    }

    /// Called by the reactor just before it drains the inbox, so any batch sent
    /// after this point wakes it again.
    pub fn reset(&self) {
        self.pending.store(false, Ordering::Release);
    }
}

impl Outbox {
    pub fn new(tx: Sender<Vec<Out>>, waker: Arc<Waker>) -> Self {
        Outbox { tx, waker }
    }

    /// Hands a batch to the reactor. Batches are applied whole and in the order
    /// sent, which is what keeps channel order identical for every member.
    /// Returns whether the reactor must be woken ([`Outbox::wake`]): callers
    /// holding the state lock queue under it and wake after releasing it, so
    /// no syscall runs under the lock.
    #[must_use]
    pub fn queue(&self, batch: Vec<Out>) -> bool {
        !batch.is_empty() && self.tx.send(batch).is_ok()
    }

    /// Wakes the reactor for batches queued with [`Outbox::queue`].
    pub fn wake(&self) {
        self.waker.wake();
    }
}

//! The reactor: one thread that owns the listeners and every client socket.
//!
//! It accepts, reads and splits lines, hands each line to the worker that owns
//! the connection, applies the workers' output batches to per-connection send
//! queues, flushes them with vectored writes, and runs the connection timers.
//! It is the only code that touches sockets. It never blocks and never runs
//! command logic: what a line means is the workers' business.
//!
//! Listeners are plain, TLS or WebSocket; every connection, whatever it
//! speaks, lives in the same slab and reaches the same workers. The
//! difference is a layer around the socket inside the connection
//! (`transport.rs`), driven by the same reads and flushes.

mod conn;
mod flood;
mod timer;
pub mod tls;
mod transport;
mod ws;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use polling::{Event as PollEvent, Events, PollMode, Poller};
use slab::Slab;

use crate::bus::{ConnId, Event, Out, Waker};
use crate::config::Config;
use crate::protocol::{LineBuilder, SharedLine};
use conn::{Conn, QueuePool, Received};
use flood::{Flood, FloodLimits};
use timer::TimerWheel;
use transport::Layer;
pub use transport::{ListenKind, TransportSetup};
pub use ws::WsSettings;

/// How long a closing connection may take to drain its last lines.
const CLOSE_GRACE_SECS: u32 = 5;
/// How long shutdown waits for clients to take their final line.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Bytes read from a socket per readiness event.
const READ_CHUNK: usize = 64 * 1024;

/// Everything the reactor thread needs, built by the server before it starts.
pub struct Reactor {
    poller: Arc<Poller>,
    listeners: Vec<(TcpListener, ListenKind)>,
    /// TLS and WebSocket settings for the layered listeners.
    transport: TransportSetup,
    conns: Slab<Conn>,
    next_gen: u32,
    workers: Vec<Sender<Event>>,
    /// Events for each worker gathered during a loop turn and sent together
    /// at its end (`dispatch`): a parked worker is woken once per turn, not
    /// once per event.
    pending: Vec<Vec<Event>>,
    inbox: Receiver<Vec<Out>>,
    waker: Arc<Waker>,
    timers: TimerWheel,
    started: Instant,
    config: Arc<Config>,
    /// Connections with newly queued bytes, flushed once per loop turn.
    dirty: Vec<usize>,
    /// Emptied send queues for reuse.
    queues: QueuePool,
    scratch: Box<[u8]>,
    stop: Arc<AtomicBool>,
    ping_line: SharedLine,
    max_clients: usize,
    flood: FloodLimits,
    /// Connections per source address (IPv6 grouped by /64).
    per_ip: HashMap<IpAddr, u32>,
    /// Connections not yet registered.
    unregistered: usize,
    /// Connections with lines held back by flood control.
    throttled: Vec<usize>,
    /// Events decoded from one read, before flood control sees them.
    incoming: Vec<Event>,
    /// Output gathering window (`write_coalesce_us`).
    coalesce: Duration,
    last_flush: Instant,
}

/// The address a per-address limit counts against: IPv4 as is, IPv6 by /64.
fn ip_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Poller keys at the top of the range belong to listeners; slab keys are
/// below. (The poller reserves `usize::MAX` itself.)
fn listener_key(i: usize) -> usize {
    usize::MAX - 1 - i
}

/// The listener index behind a poller key, if it is one.
fn listener_index(key: usize, listeners: usize) -> Option<usize> {
    let i = (usize::MAX - 1).checked_sub(key)?;
    (i < listeners).then_some(i)
}

fn error_line(text: &str) -> SharedLine {
    LineBuilder::new(None, "ERROR").trailing(text).build()
}

impl Reactor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        poller: Arc<Poller>,
        listeners: Vec<(TcpListener, ListenKind)>,
        transport: TransportSetup,
        workers: Vec<Sender<Event>>,
        inbox: Receiver<Vec<Out>>,
        waker: Arc<Waker>,
        config: Arc<Config>,
        stop: Arc<AtomicBool>,
        max_clients: usize,
    ) -> io::Result<Self> {
        for (i, (l, _)) in listeners.iter().enumerate() {
            l.set_nonblocking(true)?;
            // SAFETY: each listener lives in `self.listeners` and is deleted from
            // the poller before it is dropped (see `stop_listening`).
            unsafe {
                poller.add_with_mode(l, PollEvent::readable(listener_key(i)), PollMode::Level)?
            };
        }
        let ping_line = LineBuilder::new(None, "PING")
            .trailing(&config.server_name)
            .build();
        Ok(Reactor {
            poller,
            listeners,
            transport,
            conns: Slab::new(),
            next_gen: 0,
            pending: workers.iter().map(|_| Vec::new()).collect(),
            workers,
            inbox,
            waker,
            timers: TimerWheel::new(),
            started: Instant::now(),
            dirty: Vec::new(),
            queues: QueuePool::default(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            stop,
            ping_line,
            max_clients,
            flood: FloodLimits {
                burst: config.flood_burst,
                rate: config.flood_rate,
                max_held: config.flood_max_held,
            },
            per_ip: HashMap::new(),
            unregistered: 0,
            throttled: Vec::new(),
            incoming: Vec::new(),
            coalesce: Duration::from_micros(config.write_coalesce_us),
            last_flush: Instant::now(),
            config,
        })
    }

    fn tick(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    /// Milliseconds on the reactor clock (wraps after 49 days; flood control
    /// uses wrapping differences).
    fn now_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }

    /// Queues an event for the worker that owns `id` (sent by `dispatch`).
    fn queue_for_worker(&mut self, id: ConnId, ev: Event) {
        self.pending[id.worker(self.workers.len())].push(ev);
    }

    /// Hands the turn's events to the workers, in order.
    fn dispatch(&mut self) {
        for (events, worker) in self.pending.iter_mut().zip(&self.workers) {
            for ev in events.drain(..) {
                // A worker only goes away when the server is stopping.
                let _ = worker.send(ev);
            }
        }
    }

    /// Runs until shutdown is requested and every client has been let go.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::new();
        let mut due = Vec::new();
        let mut shutdown_deadline = None;
        loop {
            events.clear();
            let until_tick =
                Duration::from_millis(1000 - self.started.elapsed().subsec_millis() as u64);
            let timeout = if !self.dirty.is_empty() {
                self.coalesce.saturating_sub(self.last_flush.elapsed())
            } else if !self.throttled.is_empty() {
                until_tick.min(Duration::from_millis(50))
            } else {
                until_tick
            };
            self.poller.wait(&mut events, Some(timeout))?;

            for ev in events.iter() {
                if let Some(i) = listener_index(ev.key, self.listeners.len()) {
                    self.accept(i);
                    continue;
                }
                if ev.readable {
                    self.on_readable(ev.key);
                }
                if ev.writable {
                    self.on_writable(ev.key);
                }
            }
            self.release_throttled();
            // Workers start on the lines just read while this thread writes.
            self.dispatch();
            self.drain_inbox();
            let now = self.tick();
            self.timers.advance(now, &mut due);
            for (id, at) in due.drain(..) {
                self.on_timer(id, at, now);
            }
            // Write out at most once per coalescing window: under load each
            // writev then carries several lines; after a quiet spell the
            // window has long passed and output goes at once.
            if !self.dirty.is_empty() && self.last_flush.elapsed() >= self.coalesce {
                self.flush_dirty();
                self.last_flush = Instant::now();
            }

            if self.stop.load(Ordering::Acquire) && shutdown_deadline.is_none() {
                shutdown_deadline = Some(Instant::now() + SHUTDOWN_GRACE);
                self.begin_shutdown();
            }
            if let Some(deadline) = shutdown_deadline {
                if self.conns.is_empty() || Instant::now() >= deadline {
                    let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                    for k in keys {
                        self.remove(k, "Server shutting down");
                    }
                    return Ok(());
                }
            }
            // What the writes, timers and worker output produced (Closed,
            // Drained) goes before this thread sleeps.
            self.dispatch();
        }
    }

    fn accept(&mut self, index: usize) {
        loop {
            let (listener, kind) = &self.listeners[index];
            let kind = *kind;
            let (sock, addr) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log and wait for the next readiness event.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            if let Some(why) = self.refusal(addr.ip()) {
                use std::io::Write;
                if kind == ListenKind::Plain {
                    let _ = (&sock).write(format!("ERROR :{why}\r\n").as_bytes());
                }
                log::warn!("refused {addr}: {why}");
                continue;
            }
            if let Err(e) = self.add_conn(sock, addr, kind) {
                log::warn!("could not set up connection from {addr}: {e}");
            }
        }
    }

    /// Why a new connection from `ip` must be turned away, if it must.
    fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let per_ip = self.per_ip.get(&ip_group(ip)).copied().unwrap_or(0) as usize;
        if self.conns.len() >= self.max_clients {
            Some("Server is full")
        } else if self.config.max_per_ip > 0 && per_ip >= self.config.max_per_ip {
            Some("Too many connections from your address")
        } else if self.unregistered >= self.config.max_unregistered {
            Some("Too many unregistered connections, try again later")
        } else {
            None
        }
    }

    fn add_conn(
        &mut self,
        sock: std::net::TcpStream,
        addr: SocketAddr,
        kind: ListenKind,
    ) -> io::Result<()> {
        sock.set_nonblocking(true)?;
        sock.set_nodelay(true)?;
        let layer = Layer::new(kind, &self.transport)?;
        self.next_gen = self.next_gen.wrapping_add(1);
        let now = self.tick();
        let flood = Flood::new(self.now_ms(), &self.flood);
        let entry = self.conns.vacant_entry();
        let slot = entry.key();
        // SAFETY: the socket is owned by the Conn stored in the slab at `slot`,
        // and `remove` deletes it from the poller before the Conn is dropped.
        unsafe {
            self.poller
                .add_with_mode(&sock, PollEvent::readable(slot), PollMode::Level)?
        };
        let conn = entry.insert(Conn::new(sock, self.next_gen, addr.ip(), now, flood));
        conn.layer = layer;
        conn.tls = kind.is_tls();
        *self.per_ip.entry(ip_group(addr.ip())).or_insert(0) += 1;
        self.unregistered += 1;
        let id = conn.id(slot);
        self.arm(id, now + self.config.registration_timeout as u32);
        // The worker hears of it with its first line (`deliver_incoming`).
        log::debug!("accepted {addr} as {id:?} ({})", kind.name());
        Ok(())
    }

    fn on_readable(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.closing {
            return;
        }
        let id = conn.id(key);
        let max_line = self.config.max_line;
        let incoming = &mut self.incoming;
        let received = conn.receive(&mut self.scratch, max_line, &mut |r| {
            incoming.push(match r {
                Received::Line(line) => Event::Line {
                    conn: id,
                    line: line.into(),
                },
                Received::TooLong => Event::LineTooLong { conn: id },
            })
        });
        if conn.layer.is_some() && conn.has_pending() && !conn.dirty {
            // The layer owes the peer bytes (handshake, pong, HTTP reply), or
            // a finished handshake lets queued lines through.
            conn.dirty = true;
            self.dirty.push(key);
        }
        if let Err(reason) = received {
            // Lines that arrived with the end still count.
            self.deliver_incoming(key, id);
            if self.live(id).is_some_and(|c| !c.closing) {
                self.close(key, &reason, None);
            }
            return;
        }
        self.deliver_incoming(key, id);
    }

    /// Passes freshly received lines through flood control to the worker.
    fn deliver_incoming(&mut self, key: usize, id: ConnId) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if self.incoming.is_empty() {
            // Bytes without a complete line are not activity: a client that
            // trickles a line forever still meets the ping timeout.
            return;
        }
        conn.last_rx = self.started.elapsed().as_secs() as u32;
        conn.ping_pending = false;
        let was_holding = conn.flood.is_holding();
        let now_ms = self.started.elapsed().as_millis() as u32;
        let worker = &mut self.pending[id.worker(self.workers.len())];
        if !conn.announced {
            conn.announced = true;
            worker.push(Event::Accepted {
                conn: id,
                ip: conn.ip,
                tls: conn.tls,
            });
        }
        let mut flooded = false;
        for ev in self.incoming.drain(..) {
            if flooded {
                continue;
            }
            match conn.flood.admit(ev, now_ms, &self.flood) {
                Ok(Some(ev)) => worker.push(ev),
                Ok(None) => {}
                Err(flood::ExcessFlood) => flooded = true,
            }
        }
        if flooded {
            log::info!("{id:?} ({}) dropped for flooding", conn.ip);
            return self.close(key, "Excess Flood", Some(error_line("Excess Flood")));
        }
        if !was_holding && conn.flood.is_holding() {
            self.throttled.push(key);
        }
    }

    /// Lets flood-held lines through as their clients' budgets refill.
    fn release_throttled(&mut self) {
        if self.throttled.is_empty() {
            return;
        }
        let now_ms = self.now_ms();
        let pending = &mut self.pending;
        let n = self.workers.len();
        let conns = &mut self.conns;
        let limits = &self.flood;
        self.throttled.retain(|&key| {
            let Some(conn) = conns.get_mut(key) else {
                return false;
            };
            if conn.closing {
                return false;
            }
            let worker = &mut pending[conn.id(key).worker(n)];
            conn.flood.release(now_ms, limits, |ev| worker.push(ev))
        });
    }

    fn on_writable(&mut self, key: usize) {
        if self.conns.contains(key) {
            self.flush(key);
        }
    }

    /// Applies every batch the workers have sent since the last look.
    fn drain_inbox(&mut self) {
        self.waker.reset();
        while let Ok(batch) = self.inbox.try_recv() {
            for out in batch {
                match out {
                    Out::Line(id, line) => self.enqueue(id, line),
                    Out::Fanout(ids, line) => {
                        for &id in ids.iter() {
                            self.enqueue(id, line.clone());
                        }
                    }
                    Out::Registered(id) => {
                        let now = self.tick();
                        if let Some(c) = self.live(id) {
                            if !c.registered {
                                c.registered = true;
                                c.last_rx = now;
                                self.unregistered -= 1;
                                self.arm(id, now + self.config.ping_interval as u32);
                            }
                        }
                    }
                    Out::WatchDrain(id) => {
                        if let Some(c) = self.live(id) {
                            c.watch_drain = true;
                            if !c.dirty {
                                c.dirty = true;
                                self.dirty.push(id.slot as usize);
                            }
                        }
                    }
                    Out::FloodExempt(id) => {
                        if let Some(c) = self.live(id) {
                            c.flood.exempt();
                        }
                    }
                    Out::Close(id, line) => {
                        if let Some(conn) = self.live(id) {
                            conn.reported = true;
                            self.close(id.slot as usize, "Client quit", Some(line));
                        }
                    }
                }
            }
        }
    }

    /// The connection behind `id`, if it is still the same one.
    fn live(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns
            .get_mut(id.slot as usize)
            .filter(|c| c.gen == id.gen)
    }

    fn enqueue(&mut self, id: ConnId, line: SharedLine) {
        let limit = self.config.sendq;
        let Some(conn) = self
            .conns
            .get_mut(id.slot as usize)
            .filter(|c| c.gen == id.gen)
        else {
            return;
        };
        if conn.closing {
            return;
        }
        if !conn.enqueue(line, limit, &mut self.queues) {
            log::info!("{id:?} ({}) passed its send queue limit", conn.ip);
            conn.clear_queue();
            let slot = id.slot as usize;
            return self.close(slot, "SendQ exceeded", Some(error_line("SendQ exceeded")));
        }
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(id.slot as usize);
        }
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for key in dirty.drain(..) {
            if let Some(c) = self.conns.get_mut(key) {
                c.dirty = false;
                self.flush(key);
            }
        }
        // Keep the list's allocation for the next turn.
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }

    /// Writes what the socket takes, and keeps write interest only while
    /// something is left over.
    fn flush(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        match conn.flush(&mut self.queues) {
            Ok(true) => {
                if conn.closing {
                    return self.remove(key, "");
                }
                if conn.watch_drain {
                    conn.watch_drain = false;
                    let id = conn.id(key);
                    self.queue_for_worker(id, Event::Drained { conn: id });
                    let conn = &mut self.conns[key];
                    if conn.want_write {
                        conn.want_write = false;
                        let _ = self.poller.modify(&conn.sock, PollEvent::readable(key));
                    }
                    return;
                }
                if conn.want_write {
                    conn.want_write = false;
                    let _ = self.poller.modify(&conn.sock, PollEvent::readable(key));
                }
            }
            Ok(false) => {
                if !conn.want_write {
                    conn.want_write = true;
                    let interest = if conn.closing {
                        PollEvent::writable(key)
                    } else {
                        PollEvent::all(key)
                    };
                    let _ = self.poller.modify(&conn.sock, interest);
                }
            }
            Err(e) => {
                let reason = format!("Write error: {e}");
                if conn.closing {
                    self.remove(key, &reason)
                } else {
                    self.close(key, &reason, None)
                }
            }
        }
    }

    /// Starts closing a connection: tells its worker (so peers see a QUIT with
    /// `reason`), stops reading, sends `last` if given, and drops the socket
    /// once that is written or the grace period ends.
    fn close(&mut self, key: usize, reason: &str, last: Option<SharedLine>) {
        let now = self.tick();
        let conn = &mut self.conns[key];
        if conn.closing {
            return;
        }
        conn.closing = true;
        conn.mark = now;
        let id = conn.id(key);
        if let Some(line) = last {
            let len = line.len();
            conn.enqueue(line, usize::MAX - len, &mut self.queues);
        }
        // A connection that never sent a line was never announced.
        let report = conn.announced && !conn.reported;
        conn.reported = true;
        let pending = conn.has_pending();
        if report {
            self.queue_for_worker(
                id,
                Event::Closed {
                    conn: id,
                    reason: reason.into(),
                },
            );
        }
        if !pending {
            return self.remove(key, reason);
        }
        let conn = &mut self.conns[key];
        if conn.want_write {
            let _ = self.poller.modify(&conn.sock, PollEvent::writable(key));
        }
        self.arm(id, now + CLOSE_GRACE_SECS);
        self.flush(key);
    }

    /// Drops a connection now.
    fn remove(&mut self, key: usize, reason: &str) {
        let conn = self.conns.remove(key);
        let _ = self.poller.delete(&conn.sock);
        if !conn.registered {
            self.unregistered -= 1;
        }
        let group = ip_group(conn.ip);
        if let Some(n) = self.per_ip.get_mut(&group) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&group);
            }
        }
        let id = conn.id(key);
        log::debug!("closed {id:?} ({})", conn.ip);
        if conn.announced && !conn.reported {
            self.queue_for_worker(
                id,
                Event::Closed {
                    conn: id,
                    reason: reason.into(),
                },
            );
        }
    }

    /// Sets the connection's one live timer entry (older ones become stale).
    fn arm(&mut self, id: ConnId, at: u32) {
        if let Some(c) = self.live(id) {
            c.timer_at = at;
            self.timers.schedule(id, at);
        }
    }

    fn on_timer(&mut self, id: ConnId, at: u32, now: u32) {
        let cfg = &self.config;
        let (reg, interval, timeout) = (
            cfg.registration_timeout as u32,
            cfg.ping_interval as u32,
            cfg.ping_timeout as u32,
        );
        let Some(conn) = self.live(id) else { return };
        if conn.timer_at != at {
            return; // superseded by a later arm()
        }
        let slot = id.slot as usize;
        let next = if conn.closing {
            if now >= conn.mark + CLOSE_GRACE_SECS {
                return self.remove(slot, "Closing timed out");
            }
            conn.mark + CLOSE_GRACE_SECS
        } else if !conn.registered {
            if now >= conn.mark + reg {
                let line = error_line("Registration timed out");
                return self.close(slot, "Registration timed out", Some(line));
            }
            conn.mark + reg
        } else if conn.ping_pending {
            if now >= conn.mark + timeout {
                let reason = format!("Ping timeout: {timeout} seconds");
                return self.close(slot, &reason, Some(error_line("Ping timeout")));
            }
            conn.mark + timeout
        } else if now >= conn.last_rx + interval {
            conn.ping_pending = true;
            conn.mark = now;
            let ping = self.ping_line.clone();
            self.enqueue(id, ping);
            now + timeout
        } else {
            conn.last_rx + interval
        };
        self.arm(id, next);
    }

    fn stop_listening(&mut self) {
        for (l, _) in self.listeners.drain(..) {
            let _ = self.poller.delete(&l);
        }
    }

    fn begin_shutdown(&mut self) {
        log::info!("shutting down: closing {} connections", self.conns.len());
        self.stop_listening();
        let line = error_line("Server shutting down");
        let keys: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.closing)
            .map(|(k, _)| k)
            .collect();
        for key in keys {
            self.close(key, "Server shutting down", Some(line.clone()));
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.dispatch();
        for w in &self.workers {
            let _ = w.send(Event::Stop);
        }
        self.stop_listening();
        for (_, c) in self.conns.iter() {
            let _ = self.poller.delete(&c.sock);
        }
    }
}

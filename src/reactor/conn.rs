//! One client connection as the reactor sees it: the socket, the unfinished
//! part of the line being received, and the queue of encoded lines to send.
//!
//! An idle connection holds no buffers: the partial-line buffer exists only
//! while a line is half received, and the send queue only while bytes wait.
//! A TLS or WebSocket connection also has its layer (`transport.rs`); a
//! plain one has none. This module does socket I/O for one connection; it
//! never decides what a line means.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, TcpStream};

use super::flood::Flood;
use super::transport::{self, Layer, Queue, Reason};
use crate::bus::ConnId;
use crate::protocol::{SharedLine, MAX_TAGS};

pub struct Conn {
    pub sock: TcpStream,
    /// TLS or WebSocket; `None` for plain TCP.
    pub layer: Option<Box<Layer>>,
    pub gen: u32,
    pub ip: IpAddr,
    /// Bytes of a line not yet ended by LF (boxed: 8 bytes in every
    /// connection, allocated only while a line is half received).
    #[allow(clippy::box_collection)]
    partial: Option<Box<Vec<u8>>>,
    /// Set while skipping the rest of a line that went over the limit.
    discarding: bool,
    /// Lines waiting to be written; boxed for the same reason, and dropped
    /// whenever it empties.
    sendq: Option<SendQueue>,
    /// Bytes of the front buffer already written (a line is far below 4 GiB).
    front_sent: u32,
    /// Bytes queued and not yet written (the send-queue limit is below 4 GiB).
    pub queued: u32,
    pub registered: bool,
    pub closing: bool,
    /// The worker has been told about this connection (`Accepted`, sent
    /// with its first line).
    pub announced: bool,
    /// Over TLS (directly or under WebSocket), for `Accepted`.
    pub tls: bool,
    /// The worker knows this connection is gone (told, or it closed it).
    pub reported: bool,
    pub ping_pending: bool,
    /// Registered with the poller for writability.
    pub want_write: bool,
    /// Listed in the reactor's dirty list for a flush.
    pub dirty: bool,
    /// The worker wants to hear when the send queue empties.
    pub watch_drain: bool,
    /// Tick of the last byte received.
    pub last_rx: u32,
    /// Tick of the accept, of the last PING sent, or of the start of closing.
    pub mark: u32,
    /// Tick of this connection's one live timer entry.
    pub timer_at: u32,
    pub flood: Flood,
}

/// Send queues that emptied, kept for the next connection that needs one, so
/// a delivery to a connection with nothing queued does not allocate. Bounded:
/// idle connections still hold no queue, and the pool holds at most
/// [`QueuePool::MAX`] small ones (about 25 KB).
#[derive(Default)]
pub struct QueuePool(Vec<SendQueue>);

type SendQueue = Box<VecDeque<SharedLine>>;

impl QueuePool {
    /// Enough for the connections written in one busy loop turn.
    const MAX: usize = 256;
    /// Queues that grew past this many slots are freed, not kept (a
    /// fan-out delivery rarely finds more than a line or two queued).
    const MAX_SLOTS: usize = 8;

    fn take(&mut self) -> SendQueue {
        self.0.pop().unwrap_or_default()
    }

    fn give(&mut self, mut q: SendQueue) {
        if self.0.len() < Self::MAX && q.capacity() <= Self::MAX_SLOTS {
            q.clear();
            self.0.push(q);
        }
    }
}

/// What came out of one received chunk.
pub enum Received<'a> {
    Line(&'a [u8]),
    TooLong,
}

impl Conn {
    pub fn new(sock: TcpStream, gen: u32, ip: IpAddr, now: u32, flood: Flood) -> Self {
        Conn {
            sock,
            layer: None,
            gen,
            ip,
            partial: None,
            discarding: false,
            sendq: None,
            front_sent: 0,
            queued: 0,
            registered: false,
            closing: false,
            announced: false,
            tls: false,
            reported: false,
            ping_pending: false,
            want_write: false,
            dirty: false,
            watch_drain: false,
            last_rx: now,
            mark: now,
            timer_at: 0,
            flood,
        }
    }

    pub fn id(&self, slot: usize) -> ConnId {
        ConnId {
            slot: slot as u32,
            gen: self.gen,
        }
    }

    /// Reads what the socket has (once), decodes it through the layer, and
    /// calls `emit` for each line. An error gives the reason to close with;
    /// any reply the layer owes (a TLS alert, an HTTP answer, a close frame)
    /// is left queued for the flush.
    pub fn receive(
        &mut self,
        scratch: &mut [u8],
        max_line: usize,
        emit: &mut dyn FnMut(Received),
    ) -> Result<(), Reason> {
        let Conn {
            sock,
            layer,
            partial,
            discarding,
            ..
        } = self;
        match layer.as_deref_mut() {
            None => {
                if let Some(n) = transport::read_sock(sock, scratch)? {
                    split_lines(partial, discarding, &scratch[..n], max_line, emit);
                }
                Ok(())
            }
            Some(Layer::Tls(tls)) => transport::pump_tls(tls, sock, scratch, |data| {
                split_lines(partial, discarding, data, max_line, emit);
                Ok(())
            }),
            Some(Layer::Ws { tls: None, proto }) => {
                if let Some(n) = transport::read_sock(sock, scratch)? {
                    proto.feed(&scratch[..n], max_line, emit)?;
                }
                Ok(())
            }
            Some(Layer::Ws {
                tls: Some(tls),
                proto,
            }) => transport::pump_tls(tls, sock, scratch, |data| {
                proto.feed(data, max_line, emit).map_err(Reason::from)
            }),
        }
    }

    /// Splits received bytes into lines (LF or CRLF ended), calling `emit` for
    /// each complete line and for each line over `max_line` (counted without
    /// tags, with CRLF). Empty lines are skipped, as the protocol says.
    #[cfg(test)]
    pub fn split_lines(&mut self, data: &[u8], max_line: usize, mut emit: impl FnMut(Received)) {
        split_lines(
            &mut self.partial,
            &mut self.discarding,
            data,
            max_line,
            &mut emit,
        )
    }

    /// Queues a line. Returns false, queueing nothing, if it would pass `limit`.
    pub fn enqueue(&mut self, line: SharedLine, limit: usize, pool: &mut QueuePool) -> bool {
        let after = self.queued as usize + line.len();
        if after > limit.min(u32::MAX as usize) {
            return false;
        }
        self.queued = after as u32;
        self.sendq
            .get_or_insert_with(|| pool.take())
            .push_back(line);
        true
    }

    /// Drops everything queued (used before a final ERROR line), except the
    /// rest of a line already partly written, so the next line starts clean.
    pub fn clear_queue(&mut self) {
        let started = (self.front_sent > 0)
            .then(|| self.sendq.as_mut()?.pop_front())
            .flatten();
        self.queued = 0;
        match (started, self.sendq.as_mut()) {
            (Some(front), Some(q)) => {
                self.queued = (front.len() - self.front_sent as usize) as u32;
                q.clear();
                q.push_back(front);
            }
            _ => {
                self.sendq = None;
                self.front_sent = 0;
            }
        }
    }

    /// Something is still to be written: queued lines, or bytes inside the
    /// layer (handshake records, frames, an HTTP reply).
    pub fn has_pending(&self) -> bool {
        self.sendq.as_ref().is_some_and(|q| !q.is_empty())
            || self.layer.as_ref().is_some_and(|l| l.has_output())
    }

    /// Writes as much as the socket takes (plain: the queue in `writev`
    /// batches). Returns true when nothing is left.
    pub fn flush(&mut self, pool: &mut QueuePool) -> io::Result<bool> {
        let Conn {
            sock,
            layer,
            sendq,
            front_sent,
            queued,
            closing,
            ..
        } = self;
        let mut nothing = VecDeque::new();
        let mut q = Queue {
            lines: sendq.as_deref_mut().unwrap_or(&mut nothing),
            front_sent,
            queued,
        };
        let done = match layer.as_deref_mut() {
            None => q.write_to(sock)?,
            Some(Layer::Tls(tls)) => transport::flush_tls(tls, sock, &mut q, *closing)?,
            Some(Layer::Ws { tls, proto }) => {
                transport::flush_ws(tls, proto, sock, &mut q, *closing)?
            }
        };
        if done {
            // Idle connections keep no queue allocation.
            if let Some(q) = sendq.take() {
                pool.give(q);
            }
        }
        Ok(done)
    }
}

/// Splits received bytes into lines; see [`Conn::split_lines`].
#[allow(clippy::box_collection)]
fn split_lines(
    partial: &mut Option<Box<Vec<u8>>>,
    discarding: &mut bool,
    data: &[u8],
    max_line: usize,
    emit: &mut dyn FnMut(Received),
) {
    let mut rest = data;
    while let Some(nl) = memchr::memchr(b'\n', rest) {
        let chunk = &rest[..nl];
        rest = &rest[nl + 1..];
        if *discarding {
            *discarding = false;
            *partial = None;
            emit(Received::TooLong);
            continue;
        }
        match partial.take() {
            None => deliver(chunk, max_line, emit),
            Some(mut start) => {
                start.extend_from_slice(chunk);
                deliver(&start, max_line, emit);
            }
        }
    }
    if !rest.is_empty() && !*discarding {
        let held = partial.as_ref().map_or(0, |p| p.len());
        if held + rest.len() > max_line + MAX_TAGS + 1 {
            *discarding = true;
            *partial = None;
        } else {
            partial.get_or_insert_default().extend_from_slice(rest);
        }
    }
}

/// Hands on one received line (CR dropped): blank lines are skipped, lines
/// over the limits are reported as too long.
pub fn deliver(line: &[u8], max_line: usize, emit: &mut dyn FnMut(Received)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|&b| b == b' ') {
        return;
    }
    if fits(line, max_line) {
        emit(Received::Line(line));
    } else {
        emit(Received::TooLong);
    }
}

/// Checks a line against the limits: tags (with `@`) up to [`MAX_TAGS`], the
/// rest up to `max_line` bytes counting the CRLF it arrived with.
fn fits(line: &[u8], max_line: usize) -> bool {
    let body = if line.first() == Some(&b'@') {
        let end = memchr::memchr(b' ', line).unwrap_or(line.len());
        if end > MAX_TAGS {
            return false;
        }
        let mut body = &line[end..];
        while let [b' ', tail @ ..] = body {
            body = tail;
        }
        body
    } else {
        line
    };
    body.len() + 2 <= max_line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn conn() -> (Conn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        let limits = super::super::flood::FloodLimits {
            burst: 1,
            rate: 0,
            max_held: 1,
        };
        (
            Conn::new(s, 1, [127, 0, 0, 1].into(), 0, Flood::new(0, &limits)),
            c,
        )
    }

    fn lines(c: &mut Conn, data: &[u8], max: usize) -> Vec<String> {
        let mut out = Vec::new();
        c.split_lines(data, max, |r| match r {
            Received::Line(l) => out.push(String::from_utf8_lossy(l).into_owned()),
            Received::TooLong => out.push("<too long>".into()),
        });
        out
    }

    #[test]
    fn splits_across_reads_and_endings() {
        let (mut c, _peer) = conn();
        assert_eq!(lines(&mut c, b"NICK a\r\nUSER", 512), vec!["NICK a"]);
        assert_eq!(
            lines(&mut c, b" x 0 * :y\n\r\n  \n", 512),
            vec!["USER x 0 * :y"]
        );
        assert!(c.partial.is_none(), "no buffer kept while idle");
    }

    #[test]
    fn long_lines_are_reported_once_and_skipped() {
        let (mut c, _peer) = conn();
        let long = vec![b'a'; 600];
        assert_eq!(lines(&mut c, &long, 512), Vec::<String>::new());
        assert_eq!(lines(&mut c, &long, 512), Vec::<String>::new());
        assert_eq!(
            lines(&mut c, b"aaa\nPING x\n", 512),
            vec!["<too long>", "PING x"]
        );
        let exact = [vec![b'b'; 510], b"\r\n".to_vec()].concat();
        assert_eq!(lines(&mut c, &exact, 512).len(), 1);
        assert_eq!(
            lines(&mut c, &[vec![b'b'; 511], b"\n".to_vec()].concat(), 512),
            vec!["<too long>"]
        );
    }

    #[test]
    fn tags_do_not_count_against_the_body_limit() {
        let (mut c, _peer) = conn();
        let line = format!("@{} {}\n", "t".repeat(4000), "x".repeat(500));
        assert_eq!(lines(&mut c, line.as_bytes(), 512).len(), 1);
        assert_ne!(lines(&mut c, line.as_bytes(), 512), vec!["<too long>"]);
    }

    #[test]
    fn idle_connection_stays_small() {
        // Every connection pays for this; the layer is one pointer, None for
        // plain TCP.
        assert!(
            std::mem::size_of::<Conn>() <= 96,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }

    #[test]
    fn queue_limit_and_flush() {
        let (mut c, mut peer) = conn();
        c.sock.set_nonblocking(true).unwrap();
        let l: SharedLine = b"PING x\r\n".to_vec().into();
        let mut pool = QueuePool::default();
        assert!(c.enqueue(l.clone(), 16, &mut pool));
        assert!(c.enqueue(l.clone(), 16, &mut pool));
        assert!(!c.enqueue(l, 16, &mut pool));
        assert!(c.flush(&mut pool).unwrap());
        assert!(c.sendq.is_none(), "no queue kept while idle");
        assert_eq!(pool.0.len(), 1, "the emptied queue is kept for reuse");
        assert_eq!(c.queued, 0);
        let mut buf = [0u8; 16];
        peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"PING x\r\nPING x\r\n");
    }
}

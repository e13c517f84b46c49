//! One client connection as the reactor sees it: the socket, the unfinished
//! part of the line being received, and the queue of encoded lines to send.
//!
//! An idle connection holds no buffers: the partial-line buffer exists only
//! while a line is half received, and the send queue only while bytes wait.
//! This module does socket I/O for one connection; it never decides what a
//! line means.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, TcpStream};

use super::flood::Flood;
use crate::bus::ConnId;
use crate::protocol::{SharedLine, MAX_TAGS};

/// Most buffers handed to one `writev` call.
const MAX_IOV: usize = 64;

pub struct Conn {
    pub sock: TcpStream,
    pub gen: u32,
    pub ip: IpAddr,
    /// Bytes of a line not yet ended by LF.
    partial: Vec<u8>,
    /// Set while skipping the rest of a line that went over the limit.
    discarding: bool,
    sendq: VecDeque<SharedLine>,
    /// Bytes of the front buffer already written.
    front_sent: usize,
    /// Bytes queued and not yet written.
    pub queued: usize,
    pub registered: bool,
    pub closing: bool,
    /// The worker has been told this connection is gone.
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

/// What came out of one received chunk.
pub enum Received<'a> {
    Line(&'a [u8]),
    TooLong,
}

impl Conn {
    pub fn new(sock: TcpStream, gen: u32, ip: IpAddr, now: u32, flood: Flood) -> Self {
        Conn {
            sock,
            gen,
            ip,
            partial: Vec::new(),
            discarding: false,
            sendq: VecDeque::new(),
            front_sent: 0,
            queued: 0,
            registered: false,
            closing: false,
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

    /// Reads once into `scratch`. `Ok(0)` is end of stream.
    pub fn read(&mut self, scratch: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.sock.read(scratch) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// Splits received bytes into lines (LF or CRLF ended), calling `emit` for
    /// each complete line and for each line over `max_line` (counted without
    /// tags, with CRLF). Empty lines are skipped, as the protocol says.
    pub fn split_lines(&mut self, data: &[u8], max_line: usize, mut emit: impl FnMut(Received)) {
        let mut rest = data;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let chunk = &rest[..nl];
            rest = &rest[nl + 1..];
            if self.discarding {
                self.discarding = false;
                self.partial.clear();
                emit(Received::TooLong);
                continue;
            }
            let line: &[u8] = if self.partial.is_empty() {
                chunk
            } else {
                self.partial.extend_from_slice(chunk);
                &self.partial
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(|&b| b == b' ') {
                if fits(line, max_line) {
                    emit(Received::Line(line));
                } else {
                    emit(Received::TooLong);
                }
            }
            self.partial.clear();
        }
        if !rest.is_empty() && !self.discarding {
            if self.partial.len() + rest.len() > max_line + MAX_TAGS + 1 {
                self.discarding = true;
                self.partial = Vec::new();
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        if self.partial.is_empty() && self.partial.capacity() > 0 {
            self.partial = Vec::new();
        }
    }

    /// Queues a line. Returns false, queueing nothing, if it would pass `limit`.
    pub fn enqueue(&mut self, line: SharedLine, limit: usize) -> bool {
        if self.queued + line.len() > limit {
            return false;
        }
        self.queued += line.len();
        self.sendq.push_back(line);
        true
    }

    /// Drops everything queued (used before a final ERROR line), except the
    /// rest of a line already partly written, so the next line starts clean.
    pub fn clear_queue(&mut self) {
        let partial = (self.front_sent > 0)
            .then(|| self.sendq.pop_front())
            .flatten();
        self.sendq = VecDeque::new();
        self.queued = 0;
        if let Some(front) = partial {
            self.queued = front.len() - self.front_sent;
            self.sendq.push_back(front);
        } else {
            self.front_sent = 0;
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.sendq.is_empty()
    }

    /// Writes as much of the queue as the socket takes, in `writev` batches.
    /// Returns true when the queue is empty.
    pub fn flush(&mut self) -> io::Result<bool> {
        while !self.sendq.is_empty() {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (i, buf) in self.sendq.iter().take(MAX_IOV).enumerate() {
                let start = if i == 0 { self.front_sent } else { 0 };
                iov[i] = IoSlice::new(&buf[start..]);
                n += 1;
            }
            let written = match self.sock.write_vectored(&iov[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(w) => w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.consume(written);
        }
        // Idle connections keep no queue allocation.
        self.sendq = VecDeque::new();
        Ok(true)
    }

    fn consume(&mut self, mut written: usize) {
        self.queued -= written;
        while written > 0 {
            let front_left = self.sendq[0].len() - self.front_sent;
            if written >= front_left {
                written -= front_left;
                self.sendq.pop_front();
                self.front_sent = 0;
            } else {
                self.front_sent += written;
                written = 0;
            }
        }
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
        assert_eq!(c.partial.capacity(), 0, "no buffer kept while idle");
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
    fn queue_limit_and_flush() {
        let (mut c, mut peer) = conn();
        c.sock.set_nonblocking(true).unwrap();
        let l: SharedLine = b"PING x\r\n".to_vec().into();
        assert!(c.enqueue(l.clone(), 16));
        assert!(c.enqueue(l.clone(), 16));
        assert!(!c.enqueue(l, 16));
        assert!(c.flush().unwrap());
        assert_eq!(c.queued, 0);
        let mut buf = [0u8; 16];
        peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"PING x\r\nPING x\r\n");
    }
}

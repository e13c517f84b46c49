//! What sits between a connection's socket and its lines: nothing (plain TCP),
//! TLS (rustls), or WebSocket framing (over plain TCP or TLS).
//!
//! A plain connection carries no layer at all (`Conn::layer` is `None`, one
//! word), so idle plain clients cost what they did before. The layers are
//! driven non-blocking by the reactor's own reads and flushes: rustls is fed
//! from the socket and drained into the socket; the WebSocket state machine
//! (`ws.rs`) turns bytes into lines and lines into frames.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::ServerConnection;

use super::ws::{WsProto, WsSettings, OUT_CHUNK};
use crate::protocol::SharedLine;

/// Most buffers handed to one vectored write.
const MAX_IOV: usize = 64;

/// What a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenKind {
    Plain,
    Tls,
    /// WebSocket (and the chat page) over plain TCP.
    Ws,
    /// WebSocket (and the chat page) over TLS.
    Wss,
}

impl ListenKind {
    pub fn name(self) -> &'static str {
        match self {
            ListenKind::Plain => "plain",
            ListenKind::Tls => "tls",
            ListenKind::Ws => "websocket",
            ListenKind::Wss => "websocket+tls",
        }
    }

    pub fn is_tls(self) -> bool {
        matches!(self, ListenKind::Tls | ListenKind::Wss)
    }
}

/// Settings the layers need, built once at start.
#[derive(Clone, Default)]
pub struct TransportSetup {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub ws: Option<Arc<WsSettings>>,
}

/// A connection's layer over the socket.
pub enum Layer {
    Tls(ServerConnection),
    Ws {
        tls: Option<ServerConnection>,
        proto: WsProto,
    },
}

impl Layer {
    /// The layer for a connection accepted on a `kind` listener.
    pub fn new(kind: ListenKind, setup: &TransportSetup) -> io::Result<Option<Box<Layer>>> {
        let tls = || -> io::Result<ServerConnection> {
            let cfg = setup
                .tls
                .clone()
                .ok_or_else(|| io::Error::other("TLS listener without TLS settings"))?;
            ServerConnection::new(cfg).map_err(io::Error::other)
        };
        let ws = || {
            setup
                .ws
                .clone()
                .map(WsProto::new)
                .ok_or_else(|| io::Error::other("WebSocket listener without settings"))
        };
        Ok(match kind {
            ListenKind::Plain => None,
            ListenKind::Tls => Some(Box::new(Layer::Tls(tls()?))),
            ListenKind::Ws => Some(Box::new(Layer::Ws {
                tls: None,
                proto: ws()?,
            })),
            ListenKind::Wss => Some(Box::new(Layer::Ws {
                tls: Some(tls()?),
                proto: ws()?,
            })),
        })
    }

    /// Bytes are waiting inside the layer for the socket.
    pub fn has_output(&self) -> bool {
        match self {
            Layer::Tls(t) => t.wants_write(),
            Layer::Ws { tls, proto } => {
                proto.has_output() || tls.as_ref().is_some_and(|t| t.wants_write())
            }
        }
    }
}

/// Why a connection must close, as told to its peers.
pub type Reason = std::borrow::Cow<'static, str>;

fn read_error(e: io::Error) -> Reason {
    format!("Read error: {e}").into()
}

/// One read from the socket: `Ok(None)` when nothing is there.
pub fn read_sock(sock: &mut TcpStream, scratch: &mut [u8]) -> Result<Option<usize>, Reason> {
    loop {
        return match sock.read(scratch) {
            Ok(0) => Err("Connection closed".into()),
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(read_error(e)),
        };
    }
}

/// Feeds rustls one socket read, then hands every byte of plaintext it has
/// to `sink`. All buffered plaintext is drained each time, so nothing waits
/// inside rustls for a readiness event that will not come.
pub fn pump_tls(
    tls: &mut ServerConnection,
    sock: &mut TcpStream,
    scratch: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> Result<(), Reason>,
) -> Result<(), Reason> {
    let eof = loop {
        break match tls.read_tls(sock) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
    };
    if let Err(e) = tls.process_new_packets() {
        // Try to tell the peer why (the alert rustls queued), then give up.
        let _ = tls.write_tls(sock);
        return Err(format!("TLS error: {e}").into());
    }
    loop {
        match tls.reader().read(scratch) {
            Ok(0) => return Err("Connection closed".into()),
            Ok(n) => sink(&scratch[..n])?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err("Connection closed".into())
            }
            Err(e) => return Err(read_error(e)),
        }
    }
    if eof {
        return Err("Connection closed".into());
    }
    Ok(())
}

/// A connection's queue of encoded lines, borrowed from the `Conn`.
pub struct Queue<'a> {
    pub lines: &'a mut VecDeque<SharedLine>,
    /// Bytes of the front line already written.
    pub front_sent: &'a mut u32,
    pub queued: &'a mut u32,
}

impl Queue<'_> {
    /// Writes what `w` takes in vectored batches; true when the queue is empty.
    pub fn write_to(&mut self, w: &mut impl Write) -> io::Result<bool> {
        while !self.lines.is_empty() {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (i, buf) in self.lines.iter().take(MAX_IOV).enumerate() {
                let start = if i == 0 { *self.front_sent as usize } else { 0 };
                iov[i] = IoSlice::new(&buf[start..]);
                n += 1;
            }
            let written = match w.write_vectored(&iov[..n]) {
                // A full TLS buffer takes nothing; a socket never says 0 for
                // a non-empty write.
                Ok(0) => return Ok(false),
                Ok(w) => w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.consume(written);
        }
        Ok(true)
    }

    fn consume(&mut self, mut written: usize) {
        *self.queued -= written as u32;
        while written > 0 {
            let front_left = self.lines[0].len() - *self.front_sent as usize;
            if written >= front_left {
                written -= front_left;
                self.lines.pop_front();
                *self.front_sent = 0;
            } else {
                *self.front_sent += written as u32;
                written = 0;
            }
        }
    }

    /// Takes whole lines off the front (for framing).
    fn pop(&mut self) -> Option<SharedLine> {
        let line = self.lines.pop_front()?;
        *self.queued -= (line.len() - *self.front_sent as usize) as u32;
        *self.front_sent = 0;
        Some(line)
    }
}

/// Writes rustls' pending records; false when the socket is full.
fn drain_tls(tls: &mut ServerConnection, sock: &mut TcpStream) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(sock) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Flushes a TLS connection: plaintext from the queue into rustls (which
/// holds at most its buffer limit), records from rustls into the socket.
/// When `closing` and all is written, a close_notify goes last.
pub fn flush_tls(
    tls: &mut ServerConnection,
    sock: &mut TcpStream,
    q: &mut Queue,
    closing: bool,
) -> io::Result<bool> {
    loop {
        if !drain_tls(tls, sock)? {
            return Ok(false);
        }
        if !q.lines.is_empty() {
            q.write_to(&mut tls.writer())?;
            if !tls.wants_write() && !q.lines.is_empty() {
                // Only before the handshake ends can rustls hold plaintext it
                // will not send; nothing sends that much to a client then.
                return Err(io::Error::other("TLS buffer full during the handshake"));
            }
            continue;
        }
        if closing {
            tls.send_close_notify();
            if tls.wants_write() {
                continue;
            }
        }
        return Ok(true);
    }
}

/// Flushes a WebSocket connection: lines framed into the layer's buffer a
/// chunk at a time, that buffer into TLS or the socket. When `closing`, a
/// close frame goes last.
pub fn flush_ws(
    tls: &mut Option<ServerConnection>,
    proto: &mut WsProto,
    sock: &mut TcpStream,
    q: &mut Queue,
    closing: bool,
) -> io::Result<bool> {
    loop {
        if let Some(t) = tls.as_mut() {
            if !drain_tls(t, sock)? {
                return Ok(false);
            }
        }
        if proto.has_output() {
            let data = &proto.out[proto.out_pos..];
            let n = match tls.as_mut() {
                Some(t) => t.writer().write(data)?,
                None => match sock.write(data) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                    Err(e) => return Err(e),
                },
            };
            if n == 0 && tls.as_ref().is_some_and(|t| !t.wants_write()) {
                return Err(io::Error::other("TLS buffer full during the handshake"));
            }
            proto.consumed(n);
            continue;
        }
        if !q.lines.is_empty() {
            if !proto.is_open() {
                // Never upgraded (or already closed): IRC lines have nowhere to go.
                while q.pop().is_some() {}
                continue;
            }
            while proto.out.len() < OUT_CHUNK {
                let Some(line) = q.pop() else { break };
                proto.push_line(&line);
            }
            continue;
        }
        if closing && proto.is_open() {
            proto.finish();
            continue;
        }
        if closing {
            if let Some(t) = tls.as_mut() {
                t.send_close_notify();
                if t.wants_write() {
                    continue;
                }
            }
        }
        return Ok(true);
    }
}

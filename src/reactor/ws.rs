//! The WebSocket side of a connection, per the IRCv3 WebSocket transport: the
//! HTTP request (an upgrade, or `GET /` for the chat page), then RFC 6455
//! frames carrying one IRC line each, without CRLF, under the subprotocol
//! `text.ircv3.net` or `binary.ircv3.net`.
//!
//! This is a pure state machine: bytes in, lines and bytes to send out. It
//! never touches a socket (the transport does) and never reads a line's
//! meaning. Buffers exist only while a request or frame is half received, or
//! output waits.

use std::sync::Arc;

use super::conn::{deliver, Received};
use crate::protocol::MAX_TAGS;

/// Longest HTTP request head accepted.
const MAX_REQUEST: usize = 8 * 1024;
/// Bytes of frames encoded ahead of the socket.
pub const OUT_CHUNK: usize = 32 * 1024;
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Settings shared by every WebSocket connection.
#[derive(Debug)]
pub struct WsSettings {
    /// Origins allowed to open a WebSocket (`*` for any). Empty: only pages
    /// served by this listener (the Origin names the Host asked for).
    pub origins: Vec<String>,
    /// The page served on `GET /`.
    pub page: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Reading the HTTP request.
    Http,
    /// Upgraded: frames both ways.
    Open,
    /// An HTTP reply or a close frame was sent; nothing more is read.
    Done,
}

pub struct WsProto {
    settings: Arc<WsSettings>,
    state: State,
    /// Frames are sent as binary (else text).
    binary: bool,
    close_sent: bool,
    /// Received bytes not yet making a whole request or frame.
    inbuf: Vec<u8>,
    /// A fragmented message being put together.
    frag: Option<Vec<u8>>,
    /// Encoded bytes waiting for the socket, from `out_pos` on.
    pub out: Vec<u8>,
    pub out_pos: usize,
}

/// Why the connection ends.
pub type Closing = &'static str;

impl WsProto {
    pub fn new(settings: Arc<WsSettings>) -> Self {
        WsProto {
            settings,
            state: State::Http,
            binary: false,
            close_sent: false,
            inbuf: Vec::new(),
            frag: None,
            out: Vec::new(),
            out_pos: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    pub fn has_output(&self) -> bool {
        self.out_pos < self.out.len()
    }

    /// Takes received bytes; calls `emit` for each IRC line. An error means
    /// the connection must close once its output is written.
    pub fn feed(
        &mut self,
        data: &[u8],
        max_line: usize,
        emit: &mut dyn FnMut(Received),
    ) -> Result<(), Closing> {
        if self.state == State::Done {
            return Ok(());
        }
        self.inbuf.extend_from_slice(data);
        let result = self.process(max_line, emit);
        if self.inbuf.is_empty() {
            self.inbuf = Vec::new();
        }
        if result.is_err() {
            self.state = State::Done;
            self.inbuf = Vec::new();
        }
        result
    }

    fn process(&mut self, max_line: usize, emit: &mut dyn FnMut(Received)) -> Result<(), Closing> {
        if self.state == State::Http {
            let Some(end) = find(&self.inbuf, b"\r\n\r\n") else {
                if self.inbuf.len() > MAX_REQUEST {
                    self.http_reply(
                        "431 Request Header Fields Too Large",
                        &[],
                        "text/plain",
                        b"",
                    );
                    return Err("HTTP request too large");
                }
                return Ok(());
            };
            let head = String::from_utf8_lossy(&self.inbuf[..end]).into_owned();
            self.inbuf.drain(..end + 4);
            self.request(&head)?;
        }
        // Payloads up to the longest line with tags, plus a CRLF some
        // clients add anyway.
        let limit = max_line + MAX_TAGS + 1;
        let mut at = 0;
        let result = loop {
            match self.frame(at, limit, max_line, emit) {
                Ok(Some(used)) => at += used,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.inbuf.drain(..at);
        result
    }

    /// Decodes one frame starting at `at`: `Some(bytes used)`, or None when it
    /// is not all there yet.
    fn frame(
        &mut self,
        at: usize,
        limit: usize,
        max_line: usize,
        emit: &mut dyn FnMut(Received),
    ) -> Result<Option<usize>, Closing> {
        let buf = &mut self.inbuf[at..];
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        if b0 & 0x70 != 0 || b1 & 0x80 == 0 {
            // Reserved bits (no extension was agreed) or an unmasked client frame.
            return Err(self.fail(1002, "Protocol error"));
        }
        let (len, mut head) = match b1 & 0x7f {
            126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4),
            127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().unwrap()), 10),
            126 | 127 => return Ok(None),
            n => (n as u64, 2),
        };
        let control = opcode & 0x08 != 0;
        if control && (len > 125 || !fin) {
            return Err(self.fail(1002, "Protocol error"));
        }
        let so_far = self.frag.as_ref().map_or(0, Vec::len) as u64;
        if len + so_far > limit as u64 {
            return Err(self.fail(1009, "Message too big"));
        }
        let len = len as usize;
        if buf.len() < head + 4 + len {
            return Ok(None);
        }
        let mask = [buf[head], buf[head + 1], buf[head + 2], buf[head + 3]];
        head += 4;
        let payload = &mut buf[head..head + len];
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        let used = head + len;
        let payload = &self.inbuf[at + head..at + used];
        match opcode {
            0x1 | 0x2 if self.frag.is_none() => {
                if fin {
                    lines(payload, max_line, emit);
                } else {
                    self.frag = Some(payload.to_vec());
                }
            }
            0x0 if self.frag.is_some() => {
                let frag = self.frag.as_mut().unwrap();
                frag.extend_from_slice(payload);
                if fin {
                    let whole = self.frag.take().unwrap();
                    lines(&whole, max_line, emit);
                }
            }
            0x8 => {
                // Echo the status code, as RFC 6455 asks, then close.
                let code = match payload {
                    [a, b, ..] => u16::from_be_bytes([*a, *b]),
                    _ => 1000,
                };
                self.close_frame(code, "");
                return Err("Connection closed");
            }
            0x9 => {
                let payload = payload.to_vec();
                self.push_frame(0x8a, &payload);
            }
            0xa => {}
            _ => return Err(self.fail(1002, "Protocol error")),
        }
        Ok(Some(used))
    }

    fn fail(&mut self, code: u16, why: &'static str) -> Closing {
        self.close_frame(code, why);
        why
    }

    /// Answers the HTTP request head: an upgrade, the page, or an error.
    fn request(&mut self, head: &str) -> Result<(), Closing> {
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
        let mut h = Headers::default();
        for l in lines {
            let Some((name, value)) = l.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "host" => h.host = value.to_string(),
                "upgrade" => h.upgrade = value.to_ascii_lowercase().contains("websocket"),
                "sec-websocket-key" => h.key = value.to_string(),
                "sec-websocket-version" => h.version = value.to_string(),
                "sec-websocket-protocol" => {
                    if !h.protocols.is_empty() {
                        h.protocols.push(',');
                    }
                    h.protocols.push_str(value);
                }
                "origin" => h.origin = Some(value.to_string()),
                _ => {}
            }
        }
        if method != "GET" {
            self.http_reply("405 Method Not Allowed", &["Allow: GET"], "text/plain", b"");
            return Err("HTTP request");
        }
        if !h.upgrade {
            let path = path.split('?').next().unwrap_or("");
            if path == "/" || path == "/index.html" {
                let page = self.settings.page.as_bytes();
                self.http_reply(
                    "200 OK",
                    &[
                        "Cache-Control: no-cache",
                        "X-Content-Type-Options: nosniff",
                        "X-Frame-Options: DENY",
                        "Referrer-Policy: no-referrer",
                    ],
                    "text/html; charset=utf-8",
                    page,
                );
            } else {
                self.http_reply("404 Not Found", &[], "text/plain", b"Not found\n");
            }
            return Err("HTTP request");
        }
        if h.version != "13" {
            self.http_reply(
                "426 Upgrade Required",
                &["Sec-WebSocket-Version: 13"],
                "text/plain",
                b"",
            );
            return Err("WebSocket version not supported");
        }
        if h.key.is_empty() {
            self.http_reply("400 Bad Request", &[], "text/plain", b"");
            return Err("WebSocket handshake without a key");
        }
        if let Some(origin) = &h.origin {
            if !origin_allowed(&self.settings.origins, origin, &h.host) {
                self.http_reply("403 Forbidden", &[], "text/plain", b"Origin not allowed\n");
                return Err("WebSocket origin not allowed");
            }
        }
        // The client's first choice of the two; none offered means text.
        let chosen = h
            .protocols
            .split(',')
            .map(str::trim)
            .find(|p| *p == "text.ircv3.net" || *p == "binary.ircv3.net");
        self.binary = chosen == Some("binary.ircv3.net");
        let accept = accept_key(&h.key);
        let mut reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
        );
        if let Some(p) = chosen {
            reply.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
        }
        reply.push_str("\r\n");
        self.out.extend_from_slice(reply.as_bytes());
        self.state = State::Open;
        Ok(())
    }

    fn http_reply(&mut self, status: &str, extra: &[&str], ctype: &str, body: &[u8]) {
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for e in extra {
            head.push_str(e);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.out.extend_from_slice(head.as_bytes());
        self.out.extend_from_slice(body);
        self.state = State::Done;
    }

    /// Frames one encoded IRC line (CRLF dropped). Does nothing before the
    /// upgrade or after a close.
    pub fn push_line(&mut self, line: &[u8]) {
        if self.state != State::Open || self.close_sent {
            return;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.binary {
            self.push_frame(0x82, line);
        } else {
            match std::str::from_utf8(line) {
                Ok(_) => self.push_frame(0x81, line),
                Err(_) => {
                    let text = String::from_utf8_lossy(line).into_owned();
                    self.push_frame(0x81, text.as_bytes());
                }
            }
        }
    }

    /// Says goodbye with a close frame (once), if the socket was upgraded.
    pub fn finish(&mut self) {
        if self.state == State::Open {
            self.close_frame(1000, "");
        }
        self.state = State::Done;
    }

    fn close_frame(&mut self, code: u16, why: &str) {
        if self.close_sent || self.state == State::Http {
            return;
        }
        self.close_sent = true;
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(why.as_bytes());
        self.push_frame(0x88, &payload);
    }

    fn push_frame(&mut self, first: u8, payload: &[u8]) {
        let out = &mut self.out;
        out.push(first);
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 0xffff => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
    }

    /// Forgets written output, dropping the buffer once it is all gone.
    pub fn consumed(&mut self, n: usize) {
        self.out_pos += n;
        if self.out_pos >= self.out.len() {
            self.out = Vec::new();
            self.out_pos = 0;
        }
    }
}

#[derive(Default)]
struct Headers {
    host: String,
    upgrade: bool,
    key: String,
    version: String,
    protocols: String,
    origin: Option<String>,
}

/// Delivers a frame's payload: normally one line; stray CR/LF split it, as a
/// TCP client's bytes would be.
fn lines(payload: &[u8], max_line: usize, emit: &mut dyn FnMut(Received)) {
    for line in payload.split(|&b| b == b'\n') {
        deliver(line, max_line, emit);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 section 4.2.2).
pub fn accept_key(key: &str) -> String {
    use base64ct::Encoding;
    use sha1::Digest;
    let digest = sha1::Sha1::new()
        .chain_update(key.as_bytes())
        .chain_update(GUID.as_bytes())
        .finalize();
    base64ct::Base64::encode_string(&digest)
}

/// Whether a browser page from `origin` may connect: listed, `*` listed, or
/// (with an empty list) the page came from this very listener.
fn origin_allowed(allowed: &[String], origin: &str, host: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed.is_empty() {
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        return rest.is_some_and(|r| !host.is_empty() && r.eq_ignore_ascii_case(host));
    }
    allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(origins: &[&str]) -> WsProto {
        WsProto::new(Arc::new(WsSettings {
            origins: origins.iter().map(|s| s.to_string()).collect(),
            page: "<p>hi</p>",
        }))
    }

    fn feed(p: &mut WsProto, data: &[u8]) -> (Result<(), Closing>, Vec<String>) {
        let mut got = Vec::new();
        let r = p.feed(data, 512, &mut |r| match r {
            Received::Line(l) => got.push(String::from_utf8_lossy(l).into_owned()),
            Received::TooLong => got.push("<too long>".into()),
        });
        (r, got)
    }

    fn out(p: &mut WsProto) -> Vec<u8> {
        let o = p.out[p.out_pos..].to_vec();
        p.consumed(o.len());
        o
    }

    fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![first];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        f
    }

    const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: chat.example:8067\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_then_lines_both_ways() {
        let mut p = proto(&[]);
        let req = format!("{UPGRADE}Sec-WebSocket-Protocol: binary.ircv3.net, text.ircv3.net\r\nOrigin: http://chat.example:8067\r\n\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend(masked(0x81, b"NICK a"));
        // A frame split across reads.
        let second = masked(0x81, b"USER a 0 * :A\r\n");
        bytes.extend_from_slice(&second[..5]);
        let (r, got) = feed(&mut p, &bytes);
        assert_eq!((r, got), (Ok(()), vec!["NICK a".to_string()]));
        let reply = String::from_utf8(out(&mut p)).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{reply}"
        );
        assert!(reply.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(reply.contains("Sec-WebSocket-Protocol: binary.ircv3.net\r\n"));
        let (r, got) = feed(&mut p, &second[5..]);
        assert_eq!((r, got), (Ok(()), vec!["USER a 0 * :A".to_string()]));
        assert_eq!(p.inbuf.capacity(), 0, "no buffer kept between frames");
        p.push_line(b":s 001 a :hi\r\n");
        assert_eq!(out(&mut p), b"\x82\x0c:s 001 a :hi");
    }

    #[test]
    fn ping_close_and_fragments() {
        let mut p = proto(&[]);
        feed(&mut p, format!("{UPGRADE}\r\n").as_bytes()).0.unwrap();
        out(&mut p);
        let (r, _) = feed(&mut p, &masked(0x89, b"x"));
        r.unwrap();
        assert_eq!(out(&mut p), b"\x8a\x01x");
        let mut bytes = masked(0x01, b"PRIV");
        bytes.extend(masked(0x80, b"MSG #a :b"));
        assert_eq!(feed(&mut p, &bytes).1, vec!["PRIVMSG #a :b"]);
        let (r, _) = feed(&mut p, &masked(0x88, &1001u16.to_be_bytes()));
        assert_eq!(r, Err("Connection closed"));
        assert_eq!(out(&mut p), b"\x88\x02\x03\xe9");
        p.push_line(b"ERROR :x\r\n");
        assert!(out(&mut p).is_empty(), "nothing after the close frame");
    }

    #[test]
    fn oversized_and_unmasked_frames_close() {
        let mut p = proto(&[]);
        feed(&mut p, format!("{UPGRADE}\r\n").as_bytes()).0.unwrap();
        out(&mut p);
        // Too long for a line but within the frame limit: 417, stays open.
        let long = format!("PRIVMSG #a :{}", "x".repeat(600));
        assert_eq!(
            feed(&mut p, &masked(0x81, long.as_bytes())).1,
            vec!["<too long>"]
        );
        let huge = vec![b'x'; 10_000];
        let (r, _) = feed(&mut p, &masked(0x81, &huge)[..100]);
        assert_eq!(r, Err("Message too big"));
        assert_eq!(&out(&mut p)[..4], b"\x88\x11\x03\xf1");
        let mut p = proto(&[]);
        feed(&mut p, format!("{UPGRADE}\r\n").as_bytes()).0.unwrap();
        assert_eq!(feed(&mut p, b"\x81\x01x").0, Err("Protocol error"));
    }

    #[test]
    fn origins_and_page() {
        let mut p = proto(&[]);
        let req = format!("{UPGRADE}Origin: http://evil.example\r\n\r\n");
        assert_eq!(
            feed(&mut p, req.as_bytes()).0,
            Err("WebSocket origin not allowed")
        );
        assert!(out(&mut p).starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
        let mut p = proto(&["https://evil.example"]);
        let req = format!("{UPGRADE}Origin: https://evil.example\r\n\r\n");
        assert_eq!(feed(&mut p, req.as_bytes()).0, Ok(()));
        let mut p = proto(&[]);
        let r = feed(&mut p, b"GET /?x HTTP/1.1\r\nHost: a\r\n\r\n").0;
        assert_eq!(r, Err("HTTP request"));
        let page = String::from_utf8(out(&mut p)).unwrap();
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(page.ends_with("\r\n\r\n<p>hi</p>"));
        let mut p = proto(&[]);
        feed(&mut p, b"GET /x HTTP/1.1\r\n\r\n").0.unwrap_err();
        assert!(out(&mut p).starts_with(b"HTTP/1.1 404"));
    }
}

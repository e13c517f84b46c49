//! The client's network I/O: one TCP connection to the server.
//!
//! This module owns the socket and nothing else. A reader thread splits what
//! arrives into lines and hands each one, tagged with the connection's
//! generation, to the session's event channel; when the socket closes it sends
//! one [`Incoming::Closed`]. Writing happens on the caller's thread. Lines are
//! neither parsed nor built here (that is [`crate::protocol`]).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;

use super::Incoming;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The writing half of a live connection.
pub struct Connection {
    stream: TcpStream,
    /// Which connection this is: lines from an older one are ignored.
    pub generation: u64,
}

impl Connection {
    /// Connects to `host:port` and starts the reader thread, which sends
    /// [`Incoming::Line`] for each line and one [`Incoming::Closed`] at the end.
    pub fn open(
        host: &str,
        port: u16,
        generation: u64,
        events: Sender<Incoming>,
    ) -> io::Result<Self> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
        let mut stream = None;
        for addr in (host, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or(last)?;
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        thread::Builder::new()
            .name("parley-net".into())
            .spawn(move || read_lines(reader, generation, events))?;
        Ok(Connection { stream, generation })
    }

    /// Writes one encoded line (CRLF included).
    pub fn send(&mut self, line: &[u8]) -> io::Result<()> {
        self.stream.write_all(line)
    }

    /// Closes both directions; the reader thread then reports `Closed`.
    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn read_lines(stream: TcpStream, generation: u64, events: Sender<Incoming>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::with_capacity(512);
    let why = loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break None,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                if events.send(Incoming::Line(generation, line)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e.to_string()),
        }
    };
    let _ = events.send(Incoming::Closed(generation, why));
}

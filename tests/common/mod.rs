//! Shared test harness: an in-process server on port 0 and a line-oriented
//! test client whose every read is bounded by a timeout.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use parley::{Config, Server, ServerHandle};

/// How long any single expected line may take to arrive.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A server running in this process; shut down on drop.
pub struct TestServer {
    handle: Option<ServerHandle>,
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// Starts a server on 127.0.0.1:0 after `tweak` adjusts the defaults.
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            workers: 2,
            // A private database per server, so tests leave no parley.db behind.
            db: ":memory:".into(),
            ..Config::default()
        };
        tweak(&mut config);
        let handle = Server::start(config).expect("server starts");
        let addr = handle.local_addr();
        TestServer {
            handle: Some(handle),
            addr,
        }
    }

    /// The bound address of a listener of the given kind.
    pub fn addr_of(&self, kind: parley::ListenKind) -> SocketAddr {
        let handle = self.handle.as_ref().expect("server running");
        handle.addr_of(kind).expect("a listener of that kind")
    }

    pub fn connect(&self) -> TestClient {
        TestClient::connect(self.addr)
    }

    /// Connects and registers with `nick`, reading through the end of the MOTD.
    pub fn client(&self, nick: &str) -> TestClient {
        let mut c = self.connect();
        c.register(nick);
        c
    }

    /// Graceful shutdown, returning once every thread has finished.
    pub fn shutdown(mut self) {
        self.handle
            .take()
            .unwrap()
            .shutdown()
            .expect("clean shutdown");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.shutdown();
        }
    }
}

/// What a test client talks over: plain TCP, or TLS on top of it.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A raw IRC connection for tests.
pub struct TestClient {
    stream: BufReader<Box<dyn Stream>>,
    pub nick: String,
}

impl TestClient {
    pub fn connect(addr: SocketAddr) -> TestClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        TestClient::over(stream)
    }

    /// A client on an already open stream whose reads time out (e.g. TLS).
    pub fn over(stream: impl Stream + 'static) -> TestClient {
        TestClient {
            stream: BufReader::new(Box::new(stream)),
            nick: String::new(),
        }
    }

    /// Sends one line (CRLF is added).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends raw bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let w = self.stream.get_mut();
        w.write_all(bytes).expect("send");
        // A TLS stream holds records until flushed; TCP's flush does nothing.
        w.flush().expect("send");
    }

    /// The next line, without CRLF. Panics on timeout or close.
    pub fn recv(&mut self) -> String {
        match self.try_recv() {
            Some(l) => l,
            None => panic!("{}: connection closed while waiting for a line", self.nick),
        }
    }

    /// The next line, or None if the server closed the connection.
    pub fn try_recv(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.stream.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                let s = String::from_utf8_lossy(&buf);
                Some(s.trim_end_matches(['\r', '\n']).to_string())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("{}: no line within {TIMEOUT:?}", self.nick)
            }
            Err(_) => None,
        }
    }

    /// Asserts the next line is exactly `line`.
    pub fn expect(&mut self, line: &str) {
        let got = self.recv();
        assert_eq!(got, line, "{}: unexpected line", self.nick);
    }

    /// Reads lines until one satisfies `pred`, returning it. Bounded by TIMEOUT.
    pub fn recv_until(&mut self, mut pred: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: wanted line never came",
                self.nick
            );
            let l = self.recv();
            if pred(&l) {
                return l;
            }
        }
    }

    /// Reads until a line contains `needle`, returning it.
    pub fn recv_containing(&mut self, needle: &str) -> String {
        self.recv_until(|l| l.contains(needle))
    }

    /// Sends PING and reads up to the PONG; returns the lines before it. Used
    /// to prove that nothing else was sent, without sleeping.
    pub fn sync(&mut self) -> Vec<String> {
        self.send("PING :sync-token");
        let mut seen = Vec::new();
        loop {
            let l = self.recv();
            if l.ends_with("PONG parley.local :sync-token") {
                return seen;
            }
            seen.push(l);
        }
    }

    /// Asserts the connection is closed by the server (after any lines).
    pub fn expect_closed(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(l) = self.try_recv() {
            seen.push(l);
        }
        seen
    }

    /// Registers with NICK/USER and reads through the end of the MOTD.
    pub fn register(&mut self, nick: &str) {
        self.nick = nick.to_string();
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :Real {nick}"));
        self.expect(&format!(
            ":parley.local 001 {nick} :Welcome to the Parley IRC Network, {nick}!~{nick}@127.0.0.1"
        ));
        self.recv_until(|l| l.contains(" 376 ") || l.contains(" 422 "));
    }

    /// Starts registering as `nick` asking for `caps` (CAP LS, NICK, USER,
    /// CAP REQ), stopping before CAP END.
    pub fn negotiate(&mut self, nick: &str, caps: &str) {
        self.nick = nick.to_string();
        self.send("CAP LS 302");
        self.recv_until(|l| l.contains("CAP * LS"));
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :Real {nick}"));
        self.send(&format!("CAP REQ :{caps}"));
        self.expect(&format!(":parley.local CAP {nick} ACK :{caps}"));
    }

    /// JOINs a channel and reads through the end of NAMES.
    pub fn join(&mut self, chan: &str) {
        self.send(&format!("JOIN {chan}"));
        self.recv_until(|l| l.contains(" 366 "));
    }

    /// The prefix the server uses for this client.
    pub fn prefix(&self) -> String {
        format!("{0}!~{0}@127.0.0.1", self.nick)
    }
}

/// The `AUTHENTICATE` payload of SASL PLAIN for `authcid` and `pass`.
pub fn sasl_plain(authcid: &str, pass: &str) -> String {
    use base64ct::{Base64, Encoding};
    Base64::encode_string(format!("\0{authcid}\0{pass}").as_bytes())
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Asserts `line` is `head` followed by one Unix timestamp taken between
/// `since` and now.
pub fn expect_stamped(line: &str, head: &str, since: u64) {
    let rest = line
        .strip_prefix(head)
        .unwrap_or_else(|| panic!("{line:?} does not start with {head:?}"));
    let ts: u64 = rest
        .parse()
        .unwrap_or_else(|_| panic!("{line:?}: {rest:?} is not a timestamp"));
    assert!(since <= ts && ts <= now(), "{line:?}: {ts} out of range");
}

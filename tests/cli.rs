//! The `parley` terminal client, driven as a real process through pipes (so in
//! its script mode: plain lines, no colour, no time stamps) against a server
//! started in this process. Every wait is bounded; children are killed when a
//! test fails.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestServer, TIMEOUT};
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use parley::client::{Ask, Incoming, Options, Session, Ui};

/// One line of the child's output, or the end of one of its streams.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Stdout(String),
    Stderr(String),
    StdoutEnd,
    StderrEnd,
}

/// A running `parley` process.
struct Parley {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<Out>,
    /// Everything read so far, for failure messages.
    seen: Vec<Out>,
}

fn pump(reader: impl std::io::Read + Send + 'static, tx: Sender<Out>, err: bool) {
    thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(if err {
                Out::Stderr(line)
            } else {
                Out::Stdout(line)
            });
        }
        let _ = tx.send(if err { Out::StderrEnd } else { Out::StdoutEnd });
    });
}

impl Parley {
    /// Starts `parley --host 127.0.0.1 --port <port>` plus `args`.
    fn start(addr: SocketAddr, args: &[&str]) -> Parley {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .arg("--host")
            .arg(addr.ip().to_string())
            .arg("--port")
            .arg(addr.port().to_string())
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("parley starts");
        let (tx, rx) = unbounded();
        pump(child.stdout.take().unwrap(), tx.clone(), false);
        pump(child.stderr.take().unwrap(), tx, true);
        let name = args
            .windows(2)
            .find(|w| w[0] == "--nick")
            .map_or("parley".to_string(), |w| w[1].to_string());
        Parley {
            name,
            stdin: child.stdin.take(),
            child,
            out: rx,
            seen: Vec::new(),
        }
    }

    /// Types one line.
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to parley");
        stdin.flush().unwrap();
    }

    /// Ends the input (like Ctrl-D).
    fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// The next output item, or a panic showing what was seen.
    fn next(&mut self, deadline: Instant) -> Out {
        match self.out.recv_deadline(deadline) {
            Ok(o) => {
                self.seen.push(o.clone());
                o
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "{}: nothing more within {TIMEOUT:?}; saw {:#?}",
                    self.name, self.seen
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{}: output ended; saw {:#?}", self.name, self.seen)
            }
        }
    }

    /// The next stdout line, which must be exactly `want`.
    fn expect(&mut self, want: &str) {
        match self.next(Instant::now() + TIMEOUT) {
            Out::Stdout(l) => assert_eq!(
                l, want,
                "{}: unexpected line; saw {:#?}",
                self.name, self.seen
            ),
            other => panic!(
                "{}: {other:?} while waiting for {want:?}; saw {:#?}",
                self.name, self.seen
            ),
        }
    }

    /// Skips stdout lines until one is exactly `want`.
    fn skip_to(&mut self, want: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next(deadline) {
                Out::Stdout(l) if l == want => return,
                Out::Stdout(_) => {}
                other => panic!(
                    "{}: {other:?} while waiting for {want:?}; saw {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Reads everything up to the end of both streams and returns the exit
    /// status with the stdout and stderr lines that came.
    fn finish(mut self) -> (ExitStatus, Vec<String>, Vec<String>) {
        let deadline = Instant::now() + TIMEOUT;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut ends = 0;
        while ends < 2 {
            match self.next(deadline) {
                Out::Stdout(l) => out.push(l),
                Out::Stderr(l) => err.push(l),
                Out::StdoutEnd | Out::StderrEnd => ends += 1,
            }
        }
        // Both pipes are closed: the process is exiting.
        let status = self.child.wait().expect("wait for parley");
        (status, out, err)
    }
}

impl Drop for Parley {
    fn drop(&mut self) {
        // Only matters when a test failed before the child exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_clients_talk_in_a_room_and_privately() {
    let server = TestServer::start();
    let mut alice = Parley::start(server.addr, &["--nick", "alice", "--channel", "#t"]);
    alice.expect("-- Welcome to the Parley IRC Network, alice!~alice@127.0.0.1");
    alice.skip_to("-- now talking in #t");
    alice.expect("-- people in #t: @alice");

    let mut bob = Parley::start(server.addr, &["--nick", "bob", "--channel", "#t"]);
    bob.skip_to("-- now talking in #t");
    bob.expect("-- people in #t: @alice bob");
    alice.expect("-- bob joined #t");

    bob.send("hello alice");
    bob.expect("<bob> hello alice");
    alice.expect("<bob> hello alice");

    alice.send("/msg bob psst, over here");
    alice.expect("-> *bob* psst, over here");
    bob.expect("*alice* psst, over here");

    bob.send("/me waves");
    bob.expect("* bob waves");
    alice.expect("* bob waves");

    // A room alice is not looking at is named on the line.
    bob.send("/join #other");
    bob.expect("-- now talking in #other");
    bob.expect("-- people in #other: @bob");
    alice.send("/join #other");
    alice.expect("-- now talking in #other");
    alice.expect("-- people in #other: @bob alice");
    bob.expect("-- alice joined #other");
    alice.send("/switch #t");
    alice.expect("-- now talking in #t");
    bob.send("over there");
    bob.expect("<bob> over there");
    alice.expect("#other <bob> over there");

    // Own messages are shown as the server echoes them, so a message that
    // went nowhere shows only the error.
    alice.send("/msg nobody hi");
    alice.expect("! nobody called nobody is online");

    bob.close_stdin();
    let (status, out, err) = bob.finish();
    assert!(status.success(), "bob: {status:?} {out:?} {err:?}");
    assert_eq!(out, Vec::<String>::new());
    assert_eq!(err, Vec::<String>::new());
    alice.expect("-- bob quit (Quit: Leaving)");

    alice.send("/quit see you");
    let (status, out, err) = alice.finish();
    assert!(status.success(), "alice: {status:?} {out:?} {err:?}");
    assert!(out.is_empty() && err.is_empty(), "{out:?} {err:?}");
}

#[test]
fn a_piped_script_waits_for_its_join_then_quits_at_the_end() {
    let server = TestServer::start();
    let mut watcher = server.client("watcher");
    watcher.join("#a");

    // The whole script is written at once, before any reply could come.
    let mut bot = Parley::start(server.addr, &["--nick", "bot", "--channel", ""]);
    bot.send("/join #a");
    bot.send("hello");
    bot.send("/topic built by a script");
    bot.send("/me says bye");
    bot.close_stdin();

    watcher.expect(":bot!~bot@127.0.0.1 JOIN #a");
    watcher.expect(":bot!~bot@127.0.0.1 PRIVMSG #a :hello");
    // bot is not an operator of #a, so the topic is refused (see below).
    watcher.expect(":bot!~bot@127.0.0.1 PRIVMSG #a :\x01ACTION says bye\x01");
    watcher.expect(":bot!~bot@127.0.0.1 QUIT :Quit: Leaving");

    let (status, out, err) = bot.finish();
    assert!(status.success(), "{status:?} {out:?} {err:?}");
    let from_join: Vec<&str> = out
        .iter()
        .map(String::as_str)
        .skip_while(|l| *l != "-- now talking in #a")
        .collect();
    assert_eq!(
        from_join,
        [
            "-- now talking in #a",
            "-- people in #a: @watcher bot",
            "<bot> hello",
            "! you need to be an operator of #a to do that",
            "* bot says bye",
        ]
    );
    assert!(err.is_empty(), "{err:?}");
}

#[test]
fn a_taken_name_ends_a_script_with_a_clear_error() {
    let server = TestServer::start();
    let _holder = server.client("bob");
    let bob = Parley::start(server.addr, &["--nick", "bob"]);
    let (status, out, err) = bob.finish();
    assert_eq!(status.code(), Some(2), "{out:?} {err:?}");
    assert_eq!(
        err,
        ["parley: the name bob is taken; choose another with --nick"]
    );
    assert!(out.is_empty(), "{out:?}");

    // Without --nick a script gives its name as the first line; the same rule.
    let mut anon = Parley::start(server.addr, &[]);
    anon.send("bob");
    let (status, _, err) = anon.finish();
    assert_eq!(status.code(), Some(2));
    assert_eq!(
        err,
        ["parley: the name bob is taken; choose another with --nick"]
    );
}

#[test]
fn a_script_without_nick_gives_its_name_on_the_first_line() {
    let server = TestServer::start();
    let mut carol = Parley::start(server.addr, &[]);
    carol.send("carol");
    carol.skip_to("-- now talking in #lobby");
    carol.expect("-- people in #lobby: @carol");
    carol.close_stdin();
    let (status, _, err) = carol.finish();
    assert!(status.success(), "{err:?}");
}

#[test]
fn server_shutdown_ends_the_client_with_a_clear_message() {
    let server = TestServer::start();
    let addr = server.addr;
    let mut dave = Parley::start(addr, &["--nick", "dave"]);
    dave.skip_to("-- now talking in #lobby");
    dave.expect("-- people in #lobby: @dave");
    server.shutdown();
    let (status, out, err) = dave.finish();
    assert_eq!(status.code(), Some(1), "{out:?} {err:?}");
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        err,
        [format!(
            "parley: lost the connection to {addr} (Server shutting down)"
        )]
    );
}

#[test]
fn nobody_listening_is_a_clear_error() {
    // Bind and drop to find a port with nothing on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = Parley::start(addr, &["--nick", "x"]);
    let (status, out, err) = p.finish();
    assert_eq!(status.code(), Some(1));
    assert!(out.is_empty());
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].starts_with(&format!("parley: could not connect to {addr}: ")),
        "{err:?}"
    );
}

#[test]
fn with_reconnect_the_client_comes_back_and_rejoins() {
    let server = TestServer::start();
    let addr = server.addr;
    let mut erin = Parley::start(addr, &["--nick", "erin", "--channel", "#r", "--reconnect"]);
    erin.skip_to("-- now talking in #r");
    erin.expect("-- people in #r: @erin");
    erin.send("/join #s");
    erin.expect("-- now talking in #s");
    erin.expect("-- people in #s: @erin");
    erin.send("/switch #r");
    erin.expect("-- now talking in #r");
    server.shutdown();
    erin.expect(
        "! lost the connection to the server (Server shutting down); trying again in 1s (attempt 1 of 8)",
    );
    // A new server on the same address; the client's next attempt finds it.
    let _again = TestServer::start_with(|c| c.listen = vec![addr]);
    erin.expect(&format!("-- connected to {addr} again"));
    erin.skip_to("-- now talking in #s");
    erin.expect("-- people in #s: @erin");
    // The room it was talking in is rejoined last, so it stays current.
    erin.expect("-- now talking in #r");
    erin.expect("-- people in #r: @erin");
    erin.send("still here");
    erin.expect("<erin> still here");
    erin.close_stdin();
    let (status, _, err) = erin.finish();
    assert!(status.success(), "{err:?}");
}

#[test]
fn the_client_answers_the_servers_pings() {
    let server = TestServer::start_with(|c| {
        c.ping_interval = 1;
        c.ping_timeout = 1;
    });
    let mut fay = Parley::start(server.addr, &["--nick", "fay", "--channel", "#p"]);
    fay.skip_to("-- now talking in #p");
    fay.expect("-- people in #p: @fay");
    // Idle through several PING rounds: a client that did not answer would be
    // dropped after two seconds, and fay would print the loss.
    let quiet_until = Instant::now() + Duration::from_secs(4);
    match fay.out.recv_deadline(quiet_until) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("fay: {other:?} while idle"),
    }
    fay.send("/whois fay");
    fay.expect("-- fay is ~fay@127.0.0.1 (fay)");
}

/// The front end used to drive a [`Session`] in-process: the asks and shown
/// lines go to the test.
struct ScriptUi {
    shown: Sender<String>,
    asks: Sender<Ask>,
}

impl Ui for ScriptUi {
    fn show(&mut self, line: &str) {
        let _ = self.shown.send(line.to_string());
    }
    fn fatal(&mut self, line: &str) {
        let _ = self.shown.send(format!("FATAL {line}"));
    }
    fn ask(&mut self, ask: Ask) {
        let _ = self.asks.send(ask);
    }
}

/// A person at a terminal whose name is taken is asked for another one. (The
/// binary only takes this path on a real terminal; this drives the same
/// session code with `interactive` set.)
#[test]
fn a_taken_name_is_asked_again_at_a_terminal() {
    let server = TestServer::start();
    let _holder = server.client("gus");
    let (tx, rx) = unbounded();
    let (shown_tx, shown) = unbounded();
    let (asks_tx, asks) = unbounded();
    let opts = Options {
        host: server.addr.ip().to_string(),
        port: server.addr.port(),
        nick: None,
        channel: Some("#lobby".into()),
        reconnect: false,
        tls: None,
        interactive: true,
        color: false,
        timestamps: false,
    };
    let ui = ScriptUi {
        shown: shown_tx,
        asks: asks_tx,
    };
    let input = tx.clone();
    let session = thread::spawn(move || Session::new(opts, ui, tx, rx).run());

    let ask = || asks.recv_timeout(TIMEOUT).expect("an ask");
    let line = || shown.recv_timeout(TIMEOUT).expect("a line");
    assert_eq!(ask(), Ask::Name);
    input.send(Incoming::Input("gus".into())).unwrap();
    assert_eq!(
        line(),
        "! that name is taken: gus; please pick another name"
    );
    assert_eq!(ask(), Ask::Name);
    input.send(Incoming::Input("gus2".into())).unwrap();
    assert_eq!(
        line(),
        "-- Welcome to the Parley IRC Network, gus2!~gus@127.0.0.1"
    );
    assert_eq!(ask(), Ask::Chat("#lobby> ".into()));
    input.send(Incoming::InputEnd).unwrap();
    let code = session.join().unwrap();
    assert_eq!(code, 0);
}

#[test]
fn tls_client_talks_to_a_plain_one() {
    let server = TestServer::start_with(|c| c.listen_tls = vec!["127.0.0.1:0".parse().unwrap()]);
    let tls_addr = server.addr_of(parley::ListenKind::Tls);
    let mut watcher = server.client("watcher");
    watcher.join("#sec");
    // The test server's certificate is self-signed: --insecure accepts it.
    let mut bot = Parley::start(
        tls_addr,
        &[
            "--tls",
            "--insecure",
            "--nick",
            "tlsbot",
            "--channel",
            "#sec",
        ],
    );
    bot.send("hello over tls");
    watcher.expect(":tlsbot!~tlsbot@127.0.0.1 JOIN #sec");
    watcher.expect(":tlsbot!~tlsbot@127.0.0.1 PRIVMSG #sec :hello over tls");
    watcher.send("PRIVMSG #sec :hello back");
    bot.skip_to("<watcher> hello back");
    bot.close_stdin();
    watcher.expect(":tlsbot!~tlsbot@127.0.0.1 QUIT :Quit: Leaving");
    let (status, _out, err) = bot.finish();
    assert!(status.success(), "{status:?} {err:?}");
}

#[test]
fn tls_refuses_an_unverified_certificate_without_insecure() {
    let server = TestServer::start_with(|c| c.listen_tls = vec!["127.0.0.1:0".parse().unwrap()]);
    let tls_addr = server.addr_of(parley::ListenKind::Tls);
    let mut bot = Parley::start(tls_addr, &["--tls", "--nick", "strict", "--channel", ""]);
    bot.close_stdin();
    let (status, _out, err) = bot.finish();
    assert!(!status.success());
    assert!(err.iter().any(|l| l.contains("certificate")), "{err:?}");
}

//! Durability: the real `parleyd` binary on a database file, killed with
//! SIGKILL right after it acknowledged a registration, restarted on the same
//! file; the account (and the registered channel) must still be there. Later
//! changes to a registered channel survive a graceful stop (SIGTERM).

mod common;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestClient;

const NS: &str = ":NickServ!NickServ@parley.local NOTICE";
const CS: &str = ":ChanServ!ChanServ@parley.local NOTICE";

/// A running `parleyd`, killed (SIGKILL) on drop if still running.
struct Daemon {
    child: Child,
    addr: SocketAddr,
}

impl Daemon {
    /// Starts `parleyd` on a free port with database `db`, waiting (bounded)
    /// until it accepts connections.
    fn start(db: &Path) -> Daemon {
        for _ in 0..5 {
            // The binary cannot report an ephemeral port, so find a free one
            // and hand it over; if another process takes it first, retry.
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut child = Command::new(env!("CARGO_BIN_EXE_parleyd"))
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--db")
                .arg(db)
                .arg("--log")
                .arg("warn")
                .arg("--workers")
                .arg("2")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("parleyd starts");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if TcpStream::connect(addr).is_ok() {
                    return Daemon { child, addr };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("parleyd did not start");
    }

    fn client(&self, nick: &str) -> TestClient {
        let mut c = TestClient::connect(self.addr);
        c.register(nick);
        c
    }

    /// SIGKILL: no shutdown code runs, nothing is flushed by the process.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM: the graceful stop; waits (bounded) for a clean exit.
    fn terminate(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "parleyd exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "parleyd did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn account_and_channel_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parley.db");
    let since = common::now();

    let d = Daemon::start(&db);
    let mut c = d.client("rita");
    c.send("PRIVMSG NickServ :REGISTER durable-pw");
    c.expect(":parley.local 900 rita rita!~rita@127.0.0.1 rita :You are now logged in as rita");
    c.expect(&format!(
        "{NS} rita :Account rita registered. You are now logged in."
    ));
    c.join("#keep");
    c.send("TOPIC #keep :kept across a kill");
    c.recv_containing("TOPIC #keep");
    c.send("MODE #keep +b *!*@one.example");
    c.expect(":rita!~rita@127.0.0.1 MODE #keep +b *!*@one.example");
    c.send("PRIVMSG ChanServ :REGISTER #keep");
    c.expect(&format!("{CS} rita :#keep is now registered to rita."));
    d.kill();

    let d = Daemon::start(&db);
    let mut c = sasl_login(&d);
    // The channel comes back with its founder, topic, modes and bans.
    join_keep(&mut c);
    c.expect(":ChanServ!ChanServ@parley.local TOPIC #keep :kept across a kill");
    c.send("MODE #keep");
    c.expect(":parley.local 324 rita #keep +nt");
    c.recv_containing(" 329 rita #keep ");
    c.send("MODE #keep b");
    expect_ban(&mut c, "*!*@one.example", since);
    c.expect(":parley.local 368 rita #keep :End of channel ban list");
    c.send("PRIVMSG ChanServ :INFO #keep");
    c.expect(&format!("{CS} rita :Information on #keep:"));
    c.expect(&format!("{CS} rita :Founder: rita"));
    c.recv_containing(" :Registered: ");
    c.expect(&format!("{CS} rita :Modes: +nt"));
    c.expect(&format!("{CS} rita :End of info."));
    // Changes after registration are saved as they happen; a graceful stop
    // waits for saves still under way.
    c.send("MODE #keep +mb *!*@two.example");
    c.expect(":rita!~rita@127.0.0.1 MODE #keep +mb *!*@two.example");
    c.send("MODE #keep -b *!*@one.example");
    c.expect(":rita!~rita@127.0.0.1 MODE #keep -b *!*@one.example");
    c.send("TOPIC #keep :changed later");
    c.expect(":rita!~rita@127.0.0.1 TOPIC #keep :changed later");
    d.terminate();

    let d = Daemon::start(&db);
    let mut c = sasl_login(&d);
    join_keep(&mut c);
    c.expect(":ChanServ!ChanServ@parley.local MODE #keep +mnt");
    c.expect(":ChanServ!ChanServ@parley.local TOPIC #keep :changed later");
    c.send("MODE #keep b");
    expect_ban(&mut c, "*!*@two.example", since);
    c.expect(":parley.local 368 rita #keep :End of channel ban list");
    d.kill();
}

/// One line of a ban list set by rita during this test:
/// `367 rita #keep <mask> rita <time>`.
fn expect_ban(c: &mut TestClient, mask: &str, since: u64) {
    let head = format!(":parley.local 367 rita #keep {mask} rita ");
    common::expect_stamped(&c.recv(), &head, since);
}

/// rita joins #keep and, as its founder, is its only (op) member.
fn join_keep(c: &mut TestClient) {
    c.send("JOIN #keep");
    c.expect(":rita!~rita@127.0.0.1 JOIN #keep");
    c.expect(":parley.local 353 rita = #keep :@rita");
    c.expect(":parley.local 366 rita #keep :End of /NAMES list");
}

/// Connects as rita and logs in with SASL PLAIN before registration.
fn sasl_login(d: &Daemon) -> TestClient {
    let mut c = TestClient::connect(d.addr);
    c.negotiate("rita", "sasl");
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send(&format!(
        "AUTHENTICATE {}",
        common::sasl_plain("rita", "durable-pw")
    ));
    c.expect(":parley.local 900 rita rita!~rita@127.0.0.1 rita :You are now logged in as rita");
    c.expect(":parley.local 903 rita :SASL authentication successful");
    c.send("CAP END");
    c.recv_containing(" 376 ");
    c
}

//! Durability: the real `parleyd` binary on a database file, killed with
//! SIGKILL right after it acknowledged a registration, restarted on the same
//! file; the account (and the registered channel) must still be there.

mod common;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
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
    c.send("PRIVMSG ChanServ :REGISTER #keep");
    c.expect(&format!("{CS} rita :#keep is now registered to rita."));
    d.kill();

    let d = Daemon::start(&db);
    let mut c = TestClient::connect(d.addr);
    c.nick = "rita".into();
    c.send("CAP LS 302");
    c.recv_containing("CAP * LS");
    c.send("NICK rita");
    c.send("USER rita 0 * :Rita");
    c.send("CAP REQ :sasl");
    c.expect(":parley.local CAP rita ACK :sasl");
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send(&format!(
        "AUTHENTICATE {}",
        Base64::encode_string(b"\0rita\0durable-pw")
    ));
    c.expect(":parley.local 900 rita rita!~rita@127.0.0.1 rita :You are now logged in as rita");
    c.expect(":parley.local 903 rita :SASL authentication successful");
    c.send("CAP END");
    c.recv_containing(" 376 ");
    // The channel comes back with its founder, topic and modes.
    c.send("JOIN #keep");
    c.expect(":rita!~rita@127.0.0.1 JOIN #keep");
    c.expect(":parley.local 353 rita = #keep :@rita");
    c.expect(":parley.local 366 rita #keep :End of /NAMES list");
    c.expect(":ChanServ!ChanServ@parley.local TOPIC #keep :kept across a kill");
    c.send("MODE #keep");
    c.expect(":parley.local 324 rita #keep +nt");
    c.recv_containing(" 329 rita #keep ");
    c.send("PRIVMSG ChanServ :INFO #keep");
    c.expect(&format!("{CS} rita :Information on #keep:"));
    c.expect(&format!("{CS} rita :Founder: rita"));
    d.kill();
}

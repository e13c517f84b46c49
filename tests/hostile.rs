//! Hostile clients: while well-behaved clients chat and a checker verifies
//! every message arrives in order, other connections attack the server. The
//! chatters must lose nothing and see no error; each attacker gets its
//! documented reply or close; memory stays bounded.

mod common;
use common::{TestClient, TestServer};
use std::thread;

fn vm_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// Sends `n` numbered messages from `from` and checks `to` gets them in order
/// with nothing else in between (PINGs are answered).
fn chat_round(from: &mut TestClient, to: &mut TestClient, round: usize, n: usize) {
    for i in 0..n {
        from.send(&format!("PRIVMSG #safe :r{round} m{i}"));
    }
    for i in 0..n {
        let want = format!(":{} PRIVMSG #safe :r{round} m{i}", from.prefix());
        to.expect(&want);
    }
}

#[test]
fn attacks_do_not_harm_well_behaved_clients() {
    let server = TestServer::start_with(|c| {
        c.sendq = 64 * 1024;
        c.registration_timeout = 2;
        // Chatters stay within their burst; the flooder sends 500 lines at once.
        c.flood_burst = 100;
        c.flood_rate = 20_000;
        c.flood_max_held = 50;
    });
    let mut alice = server.client("alice");
    let mut bob = server.client("bob");
    alice.join("#safe");
    bob.join("#safe");
    alice.recv_containing(" JOIN #safe");
    let rss_before = vm_rss_kb();

    // Bad bytes, each with its documented answer; the connection survives.
    let mut bad = server.client("mallory");
    bad.send_raw(b"PRIVMSG alice :\xff\xfe broken\r\n");
    bad.expect(":parley.local FAIL PRIVMSG INVALID_UTF8 :Message rejected, your message contained invalid UTF-8");
    bad.send_raw(b"\r\n\r\n      \r\n\n");
    bad.send_raw(format!("@{} PING :x\r\n", "a".repeat(9000)).as_bytes());
    bad.expect(":parley.local 417 mallory :Input line was too long");
    bad.send_raw(&vec![b'z'; 1 << 20]);
    bad.send_raw(b"\r\n");
    bad.expect(":parley.local 417 mallory :Input line was too long");
    bad.send("PRIVMSG a,b,c,d,e :x");
    bad.expect(":parley.local 407 mallory a,b,c,d,e :Too many targets");
    // Thousands of parameters: the 15th takes the rest of the line.
    bad.send(&format!(
        "ISON{}",
        " nobody".repeat(3000).chars().take(500).collect::<String>()
    ));
    bad.expect(":parley.local 303 mallory :");
    bad.send_raw(b"PRIVMSG bob :nul\0and\rcr\r\n");
    bob.expect(":mallory!~mallory@127.0.0.1 PRIVMSG bob :nul and cr");
    bad.send("\u{1}\u{2}");
    bad.expect(":parley.local 421 mallory \u{1}\u{2} :Unknown command");
    assert!(bad.sync().is_empty());

    // Attackers that run in the background while the chat goes on.
    let addr = server.addr;
    let attackers = thread::spawn(move || {
        // Never registers: timed out.
        let mut lurker = TestClient::connect(addr);
        lurker.send("NICK lurker");
        // Slowloris: half a line, never finished.
        let mut slow = TestClient::connect(addr);
        slow.send_raw(b"NICK slo");
        // Flooder.
        let mut flooder = TestClient::connect(addr);
        flooder.register("flooder");
        let flood: String = (0..500)
            .map(|i| format!("PRIVMSG flooder :{i}\r\n"))
            .collect();
        flooder.send_raw(flood.as_bytes());
        // Many connections that open and drop at once.
        for _ in 0..50 {
            drop(TestClient::connect(addr));
        }
        (
            lurker.expect_closed(),
            slow.expect_closed(),
            flooder.expect_closed(),
        )
    });
    // A registered client that stops reading while a big channel talks.
    let mut deaf = server.client("deaf");
    deaf.join("#safe");
    alice.recv_containing(":deaf!");
    bob.recv_containing(":deaf!");

    for round in 0..20 {
        chat_round(&mut alice, &mut bob, round, 5);
        chat_round(&mut bob, &mut alice, round, 5);
    }
    // Push the deaf client past its send queue (and its kernel buffers) with
    // large messages, in small batches that bob reads as they come.
    let big = "b".repeat(400);
    let mut dropped = false;
    let mut i = 0;
    while i < 20_000 {
        for k in i..i + 8 {
            alice.send(&format!("PRIVMSG #safe :{k} {big}"));
        }
        for k in i..i + 8 {
            let mut l = bob.recv();
            if l.starts_with(":deaf!") {
                assert_eq!(l, ":deaf!~deaf@127.0.0.1 QUIT :SendQ exceeded");
                dropped = true;
                l = bob.recv();
            }
            assert_eq!(l, format!(":{} PRIVMSG #safe :{k} {big}", alice.prefix()));
        }
        i += 8;
        if dropped {
            break;
        }
    }
    assert!(dropped, "the deaf client was dropped for its send queue");

    let (lurker, slow, flooder) = attackers.join().unwrap();
    assert_eq!(lurker, vec!["ERROR :Registration timed out"]);
    assert_eq!(slow, vec!["ERROR :Registration timed out"]);
    assert_eq!(
        flooder.last().map(String::as_str),
        Some("ERROR :Excess Flood")
    );

    // The chatters saw nothing unexpected and are still fine.
    for c in [&mut alice, &mut bob] {
        let extra: Vec<String> = c
            .sync()
            .into_iter()
            .filter(|l| !l.starts_with(":deaf!"))
            .collect();
        assert!(extra.is_empty(), "{}: {extra:?}", c.nick);
    }
    chat_round(&mut alice, &mut bob, 99, 3);
    let grown = vm_rss_kb().saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "memory grew by {grown} kB");
}

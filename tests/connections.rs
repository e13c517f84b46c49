//! Connection-level behaviour owned by the reactor: line limits, send queues,
//! timers, channel ordering, clients that vanish, and graceful shutdown.

mod common;
use common::TestServer;
use std::thread;

#[test]
fn overlong_line_gets_417_and_the_connection_stays() {
    let server = TestServer::start();
    let mut c = server.client("longy");
    c.send(&format!("PRIVMSG longy :{}", "x".repeat(600)));
    c.expect(":parley.local 417 longy :Input line was too long");
    // A megabyte with no newline is skipped without being buffered, then one 417.
    c.send_raw(&vec![b'y'; 1 << 20]);
    c.send_raw(b"\r\n");
    c.expect(":parley.local 417 longy :Input line was too long");
    assert!(c.sync().is_empty());
    // Exactly at the limit (510 bytes + CRLF) is accepted.
    let line = format!("PING :{}", "z".repeat(510 - "PING :".len()));
    c.send(&line);
    c.expect(&format!(
        ":parley.local PONG parley.local :{}",
        "z".repeat(504)
    ));
}

#[test]
fn bare_lf_endings_and_blank_lines_are_accepted() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.send_raw(b"\n\r\n   \r\nPING :lf\n");
    c.expect(":parley.local PONG parley.local :lf");
}

#[test]
fn client_that_never_reads_is_dropped_and_others_keep_receiving() {
    let server = TestServer::start_with(|c| {
        c.sendq = 256 * 1024;
        c.flood_rate = 0;
    });
    let mut stuck = server.client("stuck");
    stuck.join("#flood");
    let mut reader = server.client("reader");
    reader.join("#flood");
    let mut sender = server.client("sender");
    sender.join("#flood");
    let stuck_prefix = stuck.prefix();
    const N: usize = 30_000;
    let body = "m".repeat(380);
    // The sender waits for the reader every BATCH messages, so a client that
    // does read never has more than BATCH messages (~40 KB) outstanding, while
    // the stuck one piles up far more than its kernel buffers and send queue.
    const BATCH: usize = 100;
    let (progress_tx, progress_rx) = std::sync::mpsc::channel();
    let reader_thread = thread::spawn(move || {
        let mut next = 0;
        let mut saw_quit = false;
        while next < N {
            let l = reader.recv();
            if l.starts_with(&format!(":{stuck_prefix} QUIT")) {
                assert_eq!(l, format!(":{stuck_prefix} QUIT :SendQ exceeded"));
                saw_quit = true;
                continue;
            }
            if l.contains(" JOIN ") {
                continue;
            }
            let want_suffix = format!(" :{next} ");
            assert!(
                l.contains(&want_suffix),
                "message {next} out of order: {l:.80}"
            );
            next += 1;
            if next % BATCH == 0 {
                let _ = progress_tx.send(next);
            }
        }
        if !saw_quit {
            reader.recv_containing(" QUIT :SendQ exceeded");
        }
        reader
    });
    for i in 0..N {
        sender.send(&format!("PRIVMSG #flood :{i} {body}"));
        if (i + 1) % BATCH == 0 {
            let got = progress_rx
                .recv_timeout(common::TIMEOUT)
                .expect("reader keeps up");
            assert_eq!(got, i + 1);
        }
    }
    let mut reader = reader_thread
        .join()
        .expect("reader saw every message in order");
    assert!(reader.sync().is_empty());
    // The stuck client, reading at last, finds its queue cut off with the error.
    let rest = stuck.expect_closed();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("ERROR :SendQ exceeded")
    );
}

#[test]
fn every_member_sees_the_same_order() {
    let server = TestServer::start_with(|c| {
        c.workers = 2;
        c.flood_rate = 0;
    });
    let nicks = ["s1", "s2", "r1", "r2", "r3"];
    let mut clients: Vec<_> = nicks.iter().map(|n| server.client(n)).collect();
    for c in &mut clients {
        c.join("#order");
    }
    // Drain the JOINs of later members so every client starts at the same point.
    for (i, c) in clients.iter_mut().enumerate() {
        for _ in i + 1..nicks.len() {
            c.recv_containing(" JOIN #order");
        }
    }
    const PER_SENDER: usize = 500;
    let mut senders: Vec<_> = clients.drain(..2).collect();
    let handles: Vec<_> = senders
        .drain(..)
        .chain(clients)
        .enumerate()
        .map(|(idx, mut c)| {
            thread::spawn(move || {
                let mut seen = Vec::new();
                let is_sender = idx < 2;
                if is_sender {
                    for i in 0..PER_SENDER {
                        c.send(&format!("PRIVMSG #order :{} {i}", c.nick));
                    }
                }
                // Senders see only the other sender's messages (no echo).
                let expected = if is_sender {
                    PER_SENDER
                } else {
                    2 * PER_SENDER
                };
                while seen.len() < expected {
                    let l = c.recv();
                    let text = l.rsplit_once(" :").expect("PRIVMSG").1.to_string();
                    seen.push(text);
                }
                (c.nick.clone(), seen)
            })
        })
        .collect();
    let results: Vec<(String, Vec<String>)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let reference = &results[2].1;
    for (nick, seen) in &results[2..] {
        assert_eq!(seen, reference, "{nick} saw a different order");
    }
    for (nick, seen) in &results[..2] {
        let others: Vec<&String> = reference
            .iter()
            .filter(|t| !t.starts_with(&format!("{nick} ")))
            .collect();
        assert_eq!(
            seen.iter().collect::<Vec<_>>(),
            others,
            "{nick} saw a different order"
        );
    }
    for sender in ["s1", "s2"] {
        let seq: Vec<usize> = reference
            .iter()
            .filter_map(|t| t.strip_prefix(&format!("{sender} ")))
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(seq, (0..PER_SENDER).collect::<Vec<_>>());
    }
}

#[test]
fn silent_clients_are_pinged_then_dropped() {
    let server = TestServer::start_with(|c| {
        c.ping_interval = 1;
        c.ping_timeout = 2;
    });
    let mut watcher = server.client("watcher");
    watcher.join("#p");
    let mut quiet = server.client("quiet");
    quiet.join("#p");
    watcher.recv_containing(" JOIN #p");
    // The watcher answers its own PINGs while it waits for quiet's QUIT.
    let watching = thread::spawn(move || loop {
        let l = watcher.recv();
        if l == "PING :parley.local" {
            watcher.send("PONG :parley.local");
        } else if l.starts_with(":quiet!") {
            assert_eq!(l, ":quiet!~quiet@127.0.0.1 QUIT :Ping timeout: 2 seconds");
            return;
        }
    });
    quiet.expect("PING :parley.local");
    quiet.expect("ERROR :Ping timeout");
    assert!(quiet.expect_closed().is_empty());
    watching.join().expect("watcher saw the QUIT");
}

#[test]
fn answering_ping_keeps_the_client() {
    let server = TestServer::start_with(|c| {
        c.ping_interval = 1;
        c.ping_timeout = 2;
    });
    let mut c = server.client("lively");
    for _ in 0..2 {
        c.expect("PING :parley.local");
        c.send("PONG :parley.local");
    }
    assert!(c.sync().iter().all(|l| l == "PING :parley.local"));
}

#[test]
fn unregistered_connections_time_out() {
    let server = TestServer::start_with(|c| c.registration_timeout = 1);
    let mut c = server.connect();
    c.send("NICK slowpoke");
    c.expect("ERROR :Registration timed out");
    assert!(c.expect_closed().is_empty());
    // The nick it held is free again.
    server.client("slowpoke");
}

#[test]
fn vanished_client_is_seen_quitting_and_server_keeps_serving() {
    let server = TestServer::start();
    let mut a = server.client("stays");
    a.join("#v");
    let mut b = server.client("vanisher");
    b.join("#v");
    a.recv_containing(" JOIN #v");
    drop(b);
    a.expect(":vanisher!~vanisher@127.0.0.1 QUIT :Connection closed");
    let mut c = server.client("vanisher");
    c.join("#v");
    c.send("PRIVMSG #v :back");
    a.recv_containing(" JOIN #v");
    a.expect(":vanisher!~vanisher@127.0.0.1 PRIVMSG #v :back");
}

#[test]
fn shutdown_tells_every_client_and_returns() {
    let server = TestServer::start();
    let mut a = server.client("a1");
    let mut b = server.connect();
    b.send("NICK unreg");
    b.sync();
    server.shutdown();
    assert_eq!(a.expect_closed(), vec!["ERROR :Server shutting down"]);
    assert_eq!(b.expect_closed(), vec!["ERROR :Server shutting down"]);
}

#[test]
fn server_full_is_refused_with_error() {
    let server = TestServer::start_with(|c| c.max_clients = 2);
    let _a = server.client("f1");
    let _b = server.client("f2");
    let mut c = server.connect();
    assert_eq!(c.expect_closed(), vec!["ERROR :Server is full"]);
}

#[test]
fn flooding_client_is_held_back_in_order_then_dropped_past_the_limit() {
    let server = TestServer::start_with(|c| {
        c.flood_burst = 3;
        c.flood_rate = 50;
        c.flood_max_held = 40;
    });
    // Within the hold limit: every line is answered, in order, just later.
    let mut lagged = server.client("lagged");
    let burst: String = (0..30).map(|i| format!("PING :t{i}\r\n")).collect();
    lagged.send_raw(burst.as_bytes());
    for i in 0..30 {
        lagged.expect(&format!(":parley.local PONG parley.local :t{i}"));
    }
    // Far over: dropped with the error, while a bystander is unaffected.
    let mut bystander = server.client("bystander");
    let mut flooder = server.client("flooder");
    let flood: String = (0..200).map(|i| format!("PING :f{i}\r\n")).collect();
    flooder.send_raw(flood.as_bytes());
    let seen = flooder.expect_closed();
    assert_eq!(seen.last().map(String::as_str), Some("ERROR :Excess Flood"));
    assert!(seen.len() < 200, "the flood was cut short");
    assert!(bystander.sync().is_empty());
}

#[test]
fn connections_per_address_are_limited() {
    let server = TestServer::start_with(|c| c.max_per_ip = 2);
    let _a = server.client("ip1");
    let _b = server.connect();
    let mut c = server.connect();
    assert_eq!(
        c.expect_closed(),
        vec!["ERROR :Too many connections from your address"]
    );
    drop(_b);
    // The slot frees once the server has seen the close; retry until then.
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    loop {
        let mut d = server.connect();
        d.send("PING :in");
        match d.try_recv() {
            Some(l) if l == ":parley.local PONG parley.local :in" => break,
            other => assert!(
                std::time::Instant::now() < deadline,
                "never readmitted: {other:?}"
            ),
        }
    }
}

#[test]
fn unregistered_connections_are_limited() {
    let server = TestServer::start_with(|c| c.max_unregistered = 1);
    let mut first = server.connect();
    first.send("PING :x");
    first.expect(":parley.local PONG parley.local :x");
    let mut second = server.connect();
    assert_eq!(
        second.expect_closed(),
        vec!["ERROR :Too many unregistered connections, try again later"]
    );
    first.register("nowreg");
    server.client("another");
}

#[test]
fn long_replies_are_paced_through_a_small_send_queue() {
    let server = TestServer::start_with(|c| {
        c.sendq = 4096;
        c.max_channels_per_client = 1000;
        c.flood_rate = 0;
    });
    let mut owner = server.client("owner");
    let joins: Vec<String> = (0..400).map(|i| format!("#room{i:03}")).collect();
    // Joined a few at a time, reading the replies, so the owner's own small
    // send queue is never passed.
    for chunk in joins.chunks(5) {
        owner.send(&format!("JOIN {}", chunk.join(",")));
        owner.sync();
    }
    // About 13 KB of LIST reply through a 4 KB send queue: paced, not dropped.
    let mut lister = server.client("lister");
    lister.send("LIST");
    lister.expect(":parley.local 321 lister Channel :Users  Name");
    let mut rooms = Vec::new();
    loop {
        let l = lister.recv();
        if l == ":parley.local 323 lister :End of /LIST" {
            break;
        }
        let rest = l
            .strip_prefix(":parley.local 322 lister ")
            .expect("a 322 line");
        assert!(rest.ends_with(" 1 :"), "{l}");
        rooms.push(rest.split(' ').next().unwrap().to_string());
    }
    rooms.sort();
    assert_eq!(rooms, joins);
    // The client is still there and everything arrived in order.
    assert!(lister.sync().is_empty());
}

//! Read-only questions: WHO, WHOIS, ISON, USERHOST, LUSERS, MOTD, VERSION,
//! TIME, LIST, NAMES; and the generic errors 421 and 461.

mod common;
use common::{now, TestClient, TestServer};

/// Reads lines up to and including the one containing `end`, returning all of
/// them but the last, sorted (for replies whose row order is unspecified),
/// and asserting the last is exactly `last`.
fn rows_until(c: &mut TestClient, end: &str, last: &str) -> Vec<String> {
    let mut rows = Vec::new();
    loop {
        let l = c.recv();
        if l.contains(end) {
            assert_eq!(l, last);
            rows.sort();
            return rows;
        }
        rows.push(l);
    }
}

/// Registers `nick` with the multi-prefix capability.
fn multi_prefix(server: &TestServer, nick: &str) -> TestClient {
    let mut c = server.connect();
    c.nick = nick.into();
    c.send("CAP REQ multi-prefix");
    c.expect(":parley.local CAP * ACK :multi-prefix");
    c.send("CAP END");
    c.register(nick);
    c
}

#[test]
fn who_channel_and_who_nick() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = server.client("bob");
    bob.join("#c");
    let mut carol = multi_prefix(&server, "carol");
    carol.join("#c");
    alice.send("MODE #c +vv bob alice");
    alice.recv_containing("MODE #c +vv bob alice");
    bob.recv_containing("MODE #c +vv bob alice");
    bob.send("AWAY :out");
    bob.expect(":parley.local 306 bob :You have been marked as being away");
    let _dave = server.client("dave");

    alice.send("WHO #C");
    assert_eq!(
        rows_until(
            &mut alice,
            " 315 ",
            ":parley.local 315 alice #C :End of /WHO list"
        ),
        [
            ":parley.local 352 alice #c ~alice 127.0.0.1 parley.local alice H@ :0 Real alice",
            ":parley.local 352 alice #c ~bob 127.0.0.1 parley.local bob G+ :0 Real bob",
            ":parley.local 352 alice #c ~carol 127.0.0.1 parley.local carol H :0 Real carol",
        ]
    );
    // multi-prefix shows every status.
    carol.recv_containing("MODE #c +vv bob alice");
    carol.send("WHO #c");
    assert_eq!(
        rows_until(
            &mut carol,
            " 315 ",
            ":parley.local 315 carol #c :End of /WHO list"
        ),
        [
            ":parley.local 352 carol #c ~alice 127.0.0.1 parley.local alice H@+ :0 Real alice",
            ":parley.local 352 carol #c ~bob 127.0.0.1 parley.local bob G+ :0 Real bob",
            ":parley.local 352 carol #c ~carol 127.0.0.1 parley.local carol H :0 Real carol",
        ]
    );

    alice.send("WHO Dave");
    alice.expect(":parley.local 352 alice * ~dave 127.0.0.1 parley.local dave H :0 Real dave");
    alice.expect(":parley.local 315 alice Dave :End of /WHO list");
    alice.send("WHO nobody");
    alice.expect(":parley.local 315 alice nobody :End of /WHO list");
}

#[test]
fn whois_reports_user_channels_server_away_and_idle() {
    let server = TestServer::start();
    let before = now();
    let mut bob = server.client("bob");
    bob.join("#c");
    bob.join("#d");
    let mut alice = server.client("alice");
    alice.join("#d");
    bob.expect(":alice!~alice@127.0.0.1 JOIN #d");
    bob.send("MODE #d +v bob");
    bob.expect(":bob!~bob@127.0.0.1 MODE #d +v bob");
    alice.expect(":bob!~bob@127.0.0.1 MODE #d +v bob");

    alice.send("WHOIS BOB");
    alice.expect(":parley.local 311 alice bob ~bob 127.0.0.1 * :Real bob");
    alice.expect(":parley.local 319 alice bob :@#c @#d");
    alice.expect(":parley.local 312 alice bob parley.local :Parley server");
    let idle = alice.recv();
    let rest = idle
        .strip_prefix(":parley.local 317 alice bob ")
        .and_then(|r| r.strip_suffix(" :seconds idle, signon time"))
        .unwrap_or_else(|| panic!("bad 317: {idle}"));
    let (secs, signon) = rest.split_once(' ').unwrap();
    assert!(secs.parse::<u64>().unwrap() <= now() - before, "{idle}");
    let signon: u64 = signon.parse().unwrap();
    assert!(before <= signon && signon <= now(), "{idle}");
    alice.expect(":parley.local 318 alice bob :End of /WHOIS list");

    // Away shows up as 301; a user in no channel has no 319.
    bob.send("AWAY :busy");
    bob.expect(":parley.local 306 bob :You have been marked as being away");
    let _loner = server.client("loner");
    alice.send("WHOIS bob");
    alice.expect(":parley.local 311 alice bob ~bob 127.0.0.1 * :Real bob");
    alice.expect(":parley.local 319 alice bob :@#c @#d");
    alice.expect(":parley.local 312 alice bob parley.local :Parley server");
    alice.expect(":parley.local 301 alice bob :busy");
    alice.recv_containing(" 317 alice bob ");
    alice.expect(":parley.local 318 alice bob :End of /WHOIS list");
    alice.send("WHOIS parley.local loner");
    alice.expect(":parley.local 311 alice loner ~loner 127.0.0.1 * :Real loner");
    alice.expect(":parley.local 312 alice loner parley.local :Parley server");
    alice.recv_containing(" 317 alice loner ");
    alice.expect(":parley.local 318 alice loner :End of /WHOIS list");

    alice.send("WHOIS ghost");
    alice.expect(":parley.local 401 alice ghost :No such nick/channel");
    alice.expect(":parley.local 318 alice ghost :End of /WHOIS list");
    alice.send("WHOIS");
    alice.expect(":parley.local 431 alice :No nickname given");
}

#[test]
fn ison_and_userhost() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    let mut bob = server.client("Bob");
    let _carol = server.client("carol");
    // A connection that chose a nick but never registered is not online.
    let mut half = server.connect();
    half.send("NICK half");
    half.sync();

    alice.send("ISON bob ghost CAROL half");
    alice.expect(":parley.local 303 alice :Bob carol");
    alice.send("ISON :bob alice");
    alice.expect(":parley.local 303 alice :Bob alice");
    alice.send("ISON ghost");
    alice.expect(":parley.local 303 alice :");

    bob.send("AWAY :away");
    bob.expect(":parley.local 306 Bob :You have been marked as being away");
    alice.send("USERHOST bob carol ghost half");
    alice.expect(":parley.local 302 alice :Bob=-~Bob@127.0.0.1 carol=+~carol@127.0.0.1");
    alice.send("USERHOST ghost");
    alice.expect(":parley.local 302 alice :");
    alice.send("ISON");
    alice.expect(":parley.local 461 alice ISON :Not enough parameters");
    alice.send("USERHOST");
    alice.expect(":parley.local 461 alice USERHOST :Not enough parameters");
}

/// Sends LUSERS and returns every line up to 266.
fn lusers(c: &mut TestClient) -> Vec<String> {
    c.send("LUSERS");
    let mut out = Vec::new();
    loop {
        let l = c.recv();
        let end = l.contains(" 266 ");
        out.push(l);
        if end {
            return out;
        }
    }
}

#[test]
fn lusers_counts_follow_clients_and_channels() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    assert_eq!(
        lusers(&mut alice),
        [
            ":parley.local 251 alice :There are 1 users and 0 invisible on 1 servers",
            ":parley.local 254 alice 0 :channels formed",
            ":parley.local 255 alice :I have 1 clients and 0 servers",
            ":parley.local 265 alice 1 1 :Current local users 1, max 1",
            ":parley.local 266 alice 1 1 :Current global users 1, max 1",
        ]
    );

    let mut bob = server.client("bob");
    bob.send("MODE bob +i");
    bob.expect(":bob MODE bob :+i");
    let mut pending = server.connect();
    pending.sync();
    alice.join("#one");
    alice.join("#two");
    assert_eq!(
        lusers(&mut alice),
        [
            ":parley.local 251 alice :There are 1 users and 1 invisible on 1 servers",
            ":parley.local 253 alice 1 :unknown connection(s)",
            ":parley.local 254 alice 2 :channels formed",
            ":parley.local 255 alice :I have 2 clients and 0 servers",
            ":parley.local 265 alice 2 2 :Current local users 2, max 2",
            ":parley.local 266 alice 2 2 :Current global users 2, max 2",
        ]
    );

    bob.send("QUIT");
    bob.expect_closed();
    pending.send("QUIT");
    pending.expect_closed();
    alice.send("PART #two");
    alice.expect(":alice!~alice@127.0.0.1 PART #two");
    // The QUITs were handled before the sockets closed, so the counts are
    // settled; the maximum is remembered.
    assert_eq!(
        lusers(&mut alice),
        [
            ":parley.local 251 alice :There are 1 users and 0 invisible on 1 servers",
            ":parley.local 254 alice 1 :channels formed",
            ":parley.local 255 alice :I have 1 clients and 0 servers",
            ":parley.local 265 alice 1 2 :Current local users 1, max 2",
            ":parley.local 266 alice 1 2 :Current global users 1, max 2",
        ]
    );
}

#[test]
fn motd_version_and_time() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.send("MOTD");
    alice.expect(":parley.local 375 alice :- parley.local Message of the day - ");
    alice.expect(":parley.local 372 alice :- Welcome to parley.");
    alice.expect(":parley.local 372 alice :- Be kind; have fun.");
    alice.expect(":parley.local 376 alice :End of /MOTD command.");

    alice.send("VERSION");
    alice.expect(":parley.local 351 alice parley-0.1.0 parley.local :parley IRC server");
    let isupport = alice.recv();
    assert!(
        isupport.starts_with(":parley.local 005 alice AWAYLEN=390 CASEMAPPING=rfc1459 "),
        "{isupport}"
    );
    assert!(isupport.ends_with(" :are supported by this server"));
    let isupport2 = alice.recv();
    assert!(
        isupport2.starts_with(":parley.local 005 alice "),
        "{isupport2}"
    );
    assert!(isupport2.ends_with(" :are supported by this server"));
    assert!(alice.sync().is_empty());

    alice.send("TIME");
    let line = alice.recv();
    let stamp = line
        .strip_prefix(":parley.local 391 alice parley.local :")
        .unwrap_or_else(|| panic!("bad 391: {line}"));
    let shape = "dddd-dd-ddTdd:dd:ddZ";
    assert_eq!(stamp.len(), shape.len(), "{line}");
    for (got, want) in stamp.chars().zip(shape.chars()) {
        assert!(
            if want == 'd' {
                got.is_ascii_digit()
            } else {
                got == want
            },
            "{line}"
        );
    }
}

#[test]
fn missing_motd_is_422() {
    let server = TestServer::start_with(|c| c.motd = Some(String::new()));
    let mut alice = server.client("alice");
    alice.send("MOTD");
    alice.expect(":parley.local 422 alice :MOTD File is missing");
}

#[test]
fn list_shows_channels_with_counts_and_topics() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#a");
    alice.join("#b");
    alice.send("TOPIC #a :the a channel");
    alice.expect(":alice!~alice@127.0.0.1 TOPIC #a :the a channel");
    let mut bob = server.client("bob");
    bob.join("#a");
    bob.send("LIST");
    bob.expect(":parley.local 321 bob Channel :Users  Name");
    assert_eq!(
        rows_until(&mut bob, " 323 ", ":parley.local 323 bob :End of /LIST"),
        [
            ":parley.local 322 bob #a 2 :the a channel",
            ":parley.local 322 bob #b 1 :",
        ]
    );
    bob.send("LIST #B,#none");
    bob.expect(":parley.local 321 bob Channel :Users  Name");
    bob.expect(":parley.local 322 bob #b 1 :");
    bob.expect(":parley.local 323 bob :End of /LIST");
}

#[test]
fn names_from_outside_and_for_unknown_channels() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = server.client("bob");
    bob.join("#c");
    let mut dave = server.client("dave");
    dave.send("NAMES #c");
    dave.expect(":parley.local 353 dave = #c :@alice bob");
    dave.expect(":parley.local 366 dave #c :End of /NAMES list");
    dave.send("NAMES #c,#none");
    dave.expect(":parley.local 353 dave = #c :@alice bob");
    dave.expect(":parley.local 366 dave #c :End of /NAMES list");
    dave.expect(":parley.local 366 dave #none :End of /NAMES list");
    dave.send("NAMES");
    dave.expect(":parley.local 366 dave * :End of /NAMES list");
}

#[test]
fn unknown_commands_and_missing_parameters() {
    // Many lines in a row: no flood control, so nothing is held back.
    let server = TestServer::start_with(|c| c.flood_rate = 0);
    let mut alice = server.client("alice");
    alice.send("FROBNICATE now");
    alice.expect(":parley.local 421 alice FROBNICATE :Unknown command");
    alice.send("frobnicate");
    alice.expect(":parley.local 421 alice FROBNICATE :Unknown command");
    for cmd in [
        "JOIN", "PART", "TOPIC", "KICK", "INVITE", "MODE", "OPER", "WALLOPS", "KILL", "ISON",
        "USERHOST", "USER", "PASS", "CAP",
    ] {
        alice.send(cmd);
        alice.expect(&format!(
            ":parley.local 461 alice {cmd} :Not enough parameters"
        ));
    }
    // Commands with their own "nothing given" replies.
    alice.send("PRIVMSG");
    alice.expect(":parley.local 411 alice :No recipient given (PRIVMSG)");
    alice.send("NICK");
    alice.expect(":parley.local 431 alice :No nickname given");
    alice.send("WHOIS");
    alice.expect(":parley.local 431 alice :No nickname given");
    alice.send("PING");
    alice.expect(":parley.local 409 alice :No origin specified");
    // Parameters present but too few.
    alice.send("KICK #c");
    alice.expect(":parley.local 461 alice KICK :Not enough parameters");
    alice.send("OPER name");
    alice.expect(":parley.local 461 alice OPER :Not enough parameters");
    alice.send("USER a b c");
    alice.expect(":parley.local 461 alice USER :Not enough parameters");
    // After registration USER and PASS are refused as re-registration.
    alice.send("USER a 0 * :x");
    alice.expect(":parley.local 462 alice :You may not reregister");
    alice.send("PASS x");
    alice.expect(":parley.local 462 alice :You may not reregister");
}

#[test]
fn invisible_members_are_hidden_from_outsiders_only() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut ghost = server.client("ghost");
    ghost.send("MODE ghost +i");
    ghost.expect(":ghost MODE ghost :+i");
    ghost.join("#c");
    alice.expect(":ghost!~ghost@127.0.0.1 JOIN #c");

    // A member sees everyone.
    alice.send("NAMES #c");
    alice.expect(":parley.local 353 alice = #c :@alice ghost");
    alice.expect(":parley.local 366 alice #c :End of /NAMES list");
    alice.send("WHO #c");
    assert_eq!(
        rows_until(
            &mut alice,
            " 315 ",
            ":parley.local 315 alice #c :End of /WHO list"
        ),
        [
            ":parley.local 352 alice #c ~alice 127.0.0.1 parley.local alice H@ :0 Real alice",
            ":parley.local 352 alice #c ~ghost 127.0.0.1 parley.local ghost H :0 Real ghost",
        ]
    );
    // An outsider does not see the invisible member.
    let mut dave = server.client("dave");
    dave.send("NAMES #c");
    dave.expect(":parley.local 353 dave = #c :@alice");
    dave.expect(":parley.local 366 dave #c :End of /NAMES list");
    dave.send("WHO #c");
    dave.expect(":parley.local 352 dave #c ~alice 127.0.0.1 parley.local alice H@ :0 Real alice");
    dave.expect(":parley.local 315 dave #c :End of /WHO list");
}

#[test]
fn whois_channels_follow_multi_prefix() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    alice.send("MODE #c +v alice");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +v alice");
    let mut plain = server.client("plain");
    plain.send("WHOIS alice");
    plain.recv_containing(" 311 ");
    plain.expect(":parley.local 319 plain alice :@#c");
    let mut multi = multi_prefix(&server, "multi");
    multi.send("WHOIS alice");
    multi.recv_containing(" 311 ");
    multi.expect(":parley.local 319 multi alice :@+#c");
}

#[test]
fn hostile_parameters_still_get_well_formed_replies() {
    // One worker: if a reply panicked it, every later line would go unanswered.
    let server = TestServer::start_with(|c| {
        c.workers = 1;
        c.flood_rate = 0;
    });
    let mut alice = server.client("alice");
    alice.join("#c");
    for (line, replies) in [
        (
            "JOIN :a b",
            &[":parley.local 403 alice a_b :No such channel"][..],
        ),
        (
            "PART :a b",
            &[":parley.local 403 alice a_b :No such channel"],
        ),
        ("TOPIC ::x", &[":parley.local 403 alice x :No such channel"]),
        (
            "MODE :a b",
            &[":parley.local 401 alice a_b :No such nick/channel"],
        ),
        (
            "PRIVMSG alice,:x :hi",
            &[
                ":alice!~alice@127.0.0.1 PRIVMSG alice :hi",
                ":parley.local 401 alice x :No such nick/channel",
            ],
        ),
        (
            "WHOIS :a b",
            &[
                ":parley.local 401 alice a_b :No such nick/channel",
                ":parley.local 318 alice a_b :End of /WHOIS list",
            ],
        ),
        (
            "NAMES :a b",
            &[":parley.local 366 alice a_b :End of /NAMES list"],
        ),
        ("WHO ::", &[":parley.local 315 alice * :End of /WHO list"]),
        (
            "NICK :a b",
            &[":parley.local 432 alice a_b :Erroneous nickname"],
        ),
        (
            ":src :cmd x",
            &[":parley.local 421 alice CMD :Unknown command"],
        ),
        (
            "CAP :x y",
            &[":parley.local 410 alice X_Y :Invalid CAP command"],
        ),
        (
            "MODE #c +k ::x",
            &[":parley.local 525 alice #c :Key is not well-formed"],
        ),
        (
            "MODE #c +k key",
            &[":alice!~alice@127.0.0.1 MODE #c +k key"],
        ),
        // The ':' mask is dropped; the -k after it still applies.
        (
            "MODE #c +b-k ::x",
            &[":alice!~alice@127.0.0.1 MODE #c -k *"],
        ),
    ] {
        alice.send(line);
        let got = alice.sync();
        assert_eq!(got, replies, "replies to {line:?}");
    }
    alice.send_raw(b":a :b\xff\r\n");
    alice.expect(
        ":parley.local FAIL B\u{FFFD} INVALID_UTF8 :Message rejected, your message contained invalid UTF-8",
    );
}

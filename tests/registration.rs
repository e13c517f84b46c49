//! Registration: the welcome burst line by line, nick collisions, CAP.

mod common;
use common::TestServer;

#[test]
fn welcome_burst_is_complete_and_exact() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.nick = "alice".into();
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice Liddell");
    c.expect(":parley.local 001 alice :Welcome to the Parley IRC Network, alice!~alice@127.0.0.1");
    c.expect(":parley.local 002 alice :Your host is parley.local, running version parley-0.1.0");
    assert!(c
        .recv()
        .starts_with(":parley.local 003 alice :This server was created "));
    c.expect(":parley.local 004 alice parley.local parley-0.1.0 iow biklmnotv bklov");
    let isupport = c.recv();
    assert!(
        isupport.starts_with(":parley.local 005 alice AWAYLEN=390 CASEMAPPING=rfc1459 "),
        "{isupport}"
    );
    for token in [
        "CHANMODES=b,k,l,imnt",
        "CHANTYPES=#",
        "PREFIX=(ov)@+",
        "NICKLEN=30",
        "NETWORK=Parley",
    ] {
        assert!(isupport.contains(token), "{token} missing from {isupport}");
    }
    assert!(isupport.ends_with(" :are supported by this server"));
    let isupport2 = c.recv();
    assert!(isupport2.contains("TOPICLEN=390"), "{isupport2}");
    c.expect(":parley.local 251 alice :There are 1 users and 0 invisible on 1 servers");
    c.expect(":parley.local 254 alice 0 :channels formed");
    c.expect(":parley.local 255 alice :I have 1 clients and 0 servers");
    c.expect(":parley.local 265 alice 1 1 :Current local users 1, max 1");
    c.expect(":parley.local 266 alice 1 1 :Current global users 1, max 1");
    c.expect(":parley.local 375 alice :- parley.local Message of the day - ");
    c.expect(":parley.local 372 alice :- Welcome to parley.");
    c.expect(":parley.local 372 alice :- Be kind; have fun.");
    c.expect(":parley.local 376 alice :End of /MOTD command.");
}

#[test]
fn nick_collision_is_refused_case_insensitively() {
    let server = TestServer::start();
    let _alice = server.client("Alice");
    let mut c = server.connect();
    c.send("NICK aLICE");
    c.expect(":parley.local 433 * aLICE :Nickname is already in use");
    // rfc1459 casemapping: [] are the upper case of {}.
    let mut holder = server.connect();
    holder.send("NICK [x]");
    holder.sync();
    c.send("NICK {X}");
    c.expect(":parley.local 433 * {X} :Nickname is already in use");
    c.send("NICK 9bad");
    c.expect(":parley.local 432 * 9bad :Erroneous nickname");
    c.send("NICK");
    c.expect(":parley.local 431 * :No nickname given");
    c.register("bob");
}

#[test]
fn commands_before_registration_get_451() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.send("JOIN #a");
    c.expect(":parley.local 451 * :You have not registered");
    c.send("PING :x");
    c.expect(":parley.local PONG parley.local :x");
}

#[test]
fn cap_negotiation_holds_registration_until_end() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.nick = "carol".into();
    c.send("CAP LS 302");
    c.expect(":parley.local CAP * LS :account-notify account-tag away-notify cap-notify draft/account-registration=before-connect echo-message extended-join message-tags multi-prefix sasl=PLAIN server-time");
    c.send("NICK carol");
    c.send("USER carol 0 * :Carol");
    c.send("CAP REQ :echo-message bogus");
    c.expect(":parley.local CAP carol NAK :echo-message bogus");
    c.send("CAP REQ :echo-message multi-prefix");
    c.expect(":parley.local CAP carol ACK :echo-message multi-prefix");
    c.send("CAP LIST");
    c.expect(":parley.local CAP carol LIST :cap-notify echo-message multi-prefix");
    c.send("CAP END");
    c.expect(":parley.local 001 carol :Welcome to the Parley IRC Network, carol!~carol@127.0.0.1");
}

#[test]
fn server_password_is_enforced() {
    let server = TestServer::start_with(|c| c.password = Some("sesame".into()));
    let mut bad = server.connect();
    bad.send("PASS wrong");
    bad.send("NICK dan");
    bad.send("USER dan 0 * :Dan");
    bad.expect(":parley.local 464 dan :Password incorrect");
    bad.expect("ERROR :Bad password");
    assert!(bad.expect_closed().is_empty());
    let mut good = server.connect();
    good.send("PASS sesame");
    good.register("dan");
}

//! PRIVMSG, NOTICE and TAGMSG (fan-out, echo, errors, IRCv3 tags), AWAY,
//! nick changes after registration, and leaving: QUIT and dropped sockets.

mod common;
use common::{TestClient, TestServer};

/// Connects and registers `nick` after acknowledging the capabilities `caps`.
fn with_caps(server: &TestServer, nick: &str, caps: &str) -> TestClient {
    let mut c = server.connect();
    c.nick = nick.into();
    c.send(&format!("CAP REQ :{caps}"));
    c.expect(&format!(":parley.local CAP * ACK :{caps}"));
    c.send("CAP END");
    c.register(nick);
    c
}

/// Asserts `line` is `@time=<RFC 3339 UTC with milliseconds><rest>` and
/// returns the timestamp.
fn expect_time_tagged<'a>(line: &'a str, rest: &str) -> &'a str {
    let stamp = line
        .strip_prefix("@time=")
        .and_then(|l| l.strip_suffix(rest))
        .unwrap_or_else(|| panic!("{line:?} is not @time=...{rest:?}"));
    // 2024-05-06T07:08:09.123Z
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    assert_eq!(stamp.len(), shape.len(), "bad time tag {stamp:?}");
    for (got, want) in stamp.chars().zip(shape.chars()) {
        if want == 'd' {
            assert!(got.is_ascii_digit(), "bad time tag {stamp:?}");
        } else {
            assert_eq!(got, want, "bad time tag {stamp:?}");
        }
    }
    stamp
}

/// `n` plain clients, all joined to `chan` in order, every JOIN read.
fn members(server: &TestServer, nicks: &[&str], chan: &str) -> Vec<TestClient> {
    let mut out: Vec<TestClient> = Vec::new();
    for nick in nicks {
        let mut c = server.client(nick);
        c.join(chan);
        for earlier in &mut out {
            earlier.expect(&format!(":{} JOIN {chan}", c.prefix()));
        }
        out.push(c);
    }
    out
}

#[test]
fn channel_messages_fan_out_to_every_member_but_the_sender() {
    let server = TestServer::start();
    let mut m = members(&server, &["alice", "bob", "carol", "dave"], "#c");
    m[0].send("PRIVMSG #C :hello, all of you");
    for c in &mut m[1..] {
        c.expect(":alice!~alice@127.0.0.1 PRIVMSG #c :hello, all of you");
    }
    m[2].send("NOTICE #c :a notice");
    for i in [0, 1, 3] {
        m[i].expect(":carol!~carol@127.0.0.1 NOTICE #c :a notice");
    }
    // Without echo-message, senders do not hear themselves.
    for c in &mut m {
        assert!(c.sync().is_empty(), "{}", c.nick);
    }
    // A one-word message arrives as a trailing parameter all the same.
    m[3].send("PRIVMSG #c word");
    for c in &mut m[..3] {
        c.expect(":dave!~dave@127.0.0.1 PRIVMSG #c :word");
    }
}

#[test]
fn echo_message_returns_the_senders_own_messages() {
    let server = TestServer::start();
    let mut alice = with_caps(&server, "alice", "echo-message");
    alice.join("#c");
    let mut bob = server.client("bob");
    bob.join("#c");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #c");

    alice.send("PRIVMSG #c :echoed");
    alice.expect(":alice!~alice@127.0.0.1 PRIVMSG #c :echoed");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #c :echoed");
    alice.send("NOTICE bob :direct");
    alice.expect(":alice!~alice@127.0.0.1 NOTICE bob :direct");
    bob.expect(":alice!~alice@127.0.0.1 NOTICE bob :direct");
    // A message to oneself arrives once, not twice.
    alice.send("PRIVMSG ALICE :to me");
    alice.expect(":alice!~alice@127.0.0.1 PRIVMSG alice :to me");
    assert!(alice.sync().is_empty());
    // bob lacks the capability: no echo for him.
    bob.send("PRIVMSG #c :not echoed");
    alice.expect(":bob!~bob@127.0.0.1 PRIVMSG #c :not echoed");
    assert!(bob.sync().is_empty());
}

#[test]
fn private_messages_to_nicks() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    let mut bob = server.client("Bob");
    let mut carol = server.client("carol");
    alice.send("PRIVMSG bob :hi bob");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG Bob :hi bob");
    alice.send("NOTICE BOB :psst");
    bob.expect(":alice!~alice@127.0.0.1 NOTICE Bob :psst");
    // Several targets at once, a nick and a channel.
    carol.join("#c");
    alice.send("PRIVMSG bob,carol :both of you");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG Bob :both of you");
    carol.expect(":alice!~alice@127.0.0.1 PRIVMSG carol :both of you");
    assert!(alice.sync().is_empty());
    // A message to oneself arrives once.
    alice.send("PRIVMSG alice :note to self");
    alice.expect(":alice!~alice@127.0.0.1 PRIVMSG alice :note to self");
    assert!(alice.sync().is_empty());
}

#[test]
fn message_errors_and_notice_never_answers() {
    let server = TestServer::start_with(|c| c.max_targets = 3);
    let mut alice = server.client("alice");
    let mut bob = server.client("bob");
    alice.send("PRIVMSG ghost :hello?");
    alice.expect(":parley.local 401 alice ghost :No such nick/channel");
    alice.send("PRIVMSG #ghosts :hello?");
    alice.expect(":parley.local 401 alice #ghosts :No such nick/channel");
    alice.send("PRIVMSG");
    alice.expect(":parley.local 411 alice :No recipient given (PRIVMSG)");
    alice.send("PRIVMSG bob");
    alice.expect(":parley.local 412 alice :No text to send");
    alice.send("PRIVMSG bob :");
    alice.expect(":parley.local 412 alice :No text to send");
    alice.send("PRIVMSG bob,bob,bob,bob :x");
    alice.expect(":parley.local 407 alice bob,bob,bob,bob :Too many targets");
    // An error for one target does not stop the others.
    alice.send("PRIVMSG ghost,bob :still delivered");
    alice.expect(":parley.local 401 alice ghost :No such nick/channel");
    bob.expect(":alice!~alice@127.0.0.1 PRIVMSG bob :still delivered");

    bob.join("#c");
    for line in [
        "NOTICE ghost :hello?",
        "NOTICE #ghosts :hello?",
        "NOTICE",
        "NOTICE bob",
        "NOTICE bob,bob,bob,bob :x",
        "NOTICE #c :outside a +n channel",
        "NOTICE $* :not an operator",
    ] {
        alice.send(line);
        assert!(alice.sync().is_empty(), "reply to {line:?}");
    }
    assert!(bob.sync().is_empty());
}

#[test]
fn cannot_send_to_channel_404() {
    let server = TestServer::start();
    let mut m = members(&server, &["alice", "bob", "carol"], "#c");
    let mut dave = server.client("dave");
    // +n (the default): outsiders may not send.
    dave.send("PRIVMSG #c :from outside");
    dave.expect(":parley.local 404 dave #c :Cannot send to channel");
    m[0].send("MODE #c -n");
    for c in &mut m {
        c.expect(":alice!~alice@127.0.0.1 MODE #c -n");
    }
    dave.send("PRIVMSG #c :from outside");
    for c in &mut m {
        c.expect(":dave!~dave@127.0.0.1 PRIVMSG #c :from outside");
    }

    // +m: only voiced members and operators speak.
    m[0].send("MODE #c +mv bob");
    for c in &mut m {
        c.expect(":alice!~alice@127.0.0.1 MODE #c +mv bob");
    }
    m[2].send("PRIVMSG #c :unvoiced");
    m[2].expect(":parley.local 404 carol #c :Cannot send to channel");
    m[1].send("PRIVMSG #c :voiced");
    m[0].expect(":bob!~bob@127.0.0.1 PRIVMSG #c :voiced");
    m[2].expect(":bob!~bob@127.0.0.1 PRIVMSG #c :voiced");
    m[0].send("PRIVMSG #c :op");
    m[1].expect(":alice!~alice@127.0.0.1 PRIVMSG #c :op");
    m[2].expect(":alice!~alice@127.0.0.1 PRIVMSG #c :op");
    m[0].send("MODE #c -m");
    for c in &mut m {
        c.expect(":alice!~alice@127.0.0.1 MODE #c -m");
    }

    // A banned member may not speak (unless voiced).
    m[0].send("MODE #c +b carol!*@*");
    for c in &mut m {
        c.expect(":alice!~alice@127.0.0.1 MODE #c +b carol!*@*");
    }
    m[2].send("PRIVMSG #c :banned");
    m[2].expect(":parley.local 404 carol #c :Cannot send to channel");
    m[1].send("PRIVMSG #c :voiced and not banned");
    m[0].expect(":bob!~bob@127.0.0.1 PRIVMSG #c :voiced and not banned");
    m[2].expect(":bob!~bob@127.0.0.1 PRIVMSG #c :voiced and not banned");
    for c in &mut m {
        assert!(c.sync().is_empty(), "{}", c.nick);
    }
}

#[test]
fn away_is_reported_to_privmsg_senders_and_away_notify_peers() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = with_caps(&server, "bob", "away-notify");
    bob.join("#c");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #c");

    alice.send("AWAY :gone fishing");
    alice.expect(":parley.local 306 alice :You have been marked as being away");
    bob.expect(":alice!~alice@127.0.0.1 AWAY :gone fishing");
    bob.send("PRIVMSG alice :there?");
    bob.expect(":parley.local 301 bob alice :gone fishing");
    alice.expect(":bob!~bob@127.0.0.1 PRIVMSG alice :there?");
    // NOTICE never triggers an automatic reply.
    bob.send("NOTICE alice :fyi");
    alice.expect(":bob!~bob@127.0.0.1 NOTICE alice :fyi");
    assert!(bob.sync().is_empty());

    alice.send("AWAY");
    alice.expect(":parley.local 305 alice :You are no longer marked as being away");
    bob.expect(":alice!~alice@127.0.0.1 AWAY");
    bob.send("PRIVMSG alice :back?");
    alice.expect(":bob!~bob@127.0.0.1 PRIVMSG alice :back?");
    assert!(bob.sync().is_empty());
    // alice did not ask for away-notify: she hears nothing of bob's.
    bob.send("AWAY :brb");
    bob.expect(":parley.local 306 bob :You have been marked as being away");
    assert!(alice.sync().is_empty());

    // A user who joins while away is announced as away to away-notify members.
    let mut carol = server.client("carol");
    carol.send("AWAY :not here");
    carol.expect(":parley.local 306 carol :You have been marked as being away");
    carol.join("#c");
    bob.expect(":carol!~carol@127.0.0.1 JOIN #c");
    bob.expect(":carol!~carol@127.0.0.1 AWAY :not here");
    alice.expect(":carol!~carol@127.0.0.1 JOIN #c");
    assert!(alice.sync().is_empty());
    assert!(carol.sync().is_empty());
}

#[test]
fn server_time_and_client_tags() {
    let server = TestServer::start();
    let mut alice = with_caps(&server, "alice", "message-tags");
    alice.join("#c");
    let mut timed = with_caps(&server, "timed", "server-time");
    timed.join("#c");
    let mut tagged = with_caps(&server, "tagged", "message-tags");
    tagged.join("#c");
    let mut both = with_caps(&server, "both", "message-tags server-time");
    both.join("#c");
    let mut plain = server.client("plain");
    plain.join("#c");
    for c in [&mut alice, &mut timed, &mut tagged, &mut both] {
        assert!(c
            .recv_until(|l| l.ends_with(" JOIN #c") && l.contains(":plain!"))
            .ends_with(":plain!~plain@127.0.0.1 JOIN #c"));
    }

    alice.send("PRIVMSG #c :what time is it");
    let src = ":alice!~alice@127.0.0.1";
    expect_time_tagged(
        &timed.recv(),
        &format!(" {src} PRIVMSG #c :what time is it"),
    );
    tagged.expect(&format!("{src} PRIVMSG #c :what time is it"));
    expect_time_tagged(&both.recv(), &format!(" {src} PRIVMSG #c :what time is it"));
    plain.expect(&format!("{src} PRIVMSG #c :what time is it"));

    // Client-only tags go to message-tags users; server tags from a client
    // are dropped.
    alice.send("@+draft/reply=abc;time=forged;+x PRIVMSG #c :tagged text");
    expect_time_tagged(&timed.recv(), &format!(" {src} PRIVMSG #c :tagged text"));
    tagged.expect(&format!(
        "@+draft/reply=abc;+x {src} PRIVMSG #c :tagged text"
    ));
    expect_time_tagged(
        &both.recv(),
        &format!(";+draft/reply=abc;+x {src} PRIVMSG #c :tagged text"),
    );
    plain.expect(&format!("{src} PRIVMSG #c :tagged text"));

    // TAGMSG reaches only message-tags users.
    alice.send("@+typing=active TAGMSG #c");
    tagged.expect(&format!("@+typing=active {src} TAGMSG #c"));
    expect_time_tagged(&both.recv(), &format!(";+typing=active {src} TAGMSG #c"));
    assert!(timed.sync().is_empty());
    assert!(plain.sync().is_empty());
    assert!(alice.sync().is_empty());
}

#[test]
fn multi_prefix_names_shows_every_prefix() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = with_caps(&server, "bob", "multi-prefix");
    bob.join("#c");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #c");
    alice.send("MODE #c +v alice");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +v alice");
    bob.expect(":alice!~alice@127.0.0.1 MODE #c +v alice");
    bob.send("NAMES #c");
    bob.expect(":parley.local 353 bob = #c :@+alice bob");
    bob.expect(":parley.local 366 bob #c :End of /NAMES list");
    alice.send("NAMES #c");
    alice.expect(":parley.local 353 alice = #c :@alice bob");
    alice.expect(":parley.local 366 alice #c :End of /NAMES list");
}

#[test]
fn nick_change_is_seen_once_by_each_peer_and_by_the_client() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#a");
    alice.join("#b");
    let mut bob = server.client("bob");
    bob.join("#a");
    bob.join("#b");
    let mut carol = server.client("carol");
    carol.join("#b");
    let mut loner = server.client("loner");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #a");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #b");
    alice.expect(":carol!~carol@127.0.0.1 JOIN #b");
    bob.expect(":carol!~carol@127.0.0.1 JOIN #b");

    alice.send("NICK alicia");
    alice.expect(":alice!~alice@127.0.0.1 NICK :alicia");
    bob.expect(":alice!~alice@127.0.0.1 NICK :alicia");
    carol.expect(":alice!~alice@127.0.0.1 NICK :alicia");
    for c in [&mut alice, &mut bob, &mut carol, &mut loner] {
        assert!(c.sync().is_empty(), "{}", c.nick);
    }
    // The new nick is live and the old one is free.
    bob.send("PRIVMSG alicia :hi");
    alice.expect(":bob!~bob@127.0.0.1 PRIVMSG alicia :hi");
    bob.send("PRIVMSG alice :hi");
    bob.expect(":parley.local 401 bob alice :No such nick/channel");

    // A case-only change is allowed.
    alice.send("NICK ALICIA");
    alice.expect(":alicia!~alice@127.0.0.1 NICK :ALICIA");
    bob.expect(":alicia!~alice@127.0.0.1 NICK :ALICIA");
    carol.expect(":alicia!~alice@127.0.0.1 NICK :ALICIA");
    // The same nick again changes nothing.
    alice.send("NICK ALICIA");
    assert!(alice.sync().is_empty());

    alice.send("NICK Bob");
    alice.expect(":parley.local 433 ALICIA Bob :Nickname is already in use");
    alice.send("NICK 1x");
    alice.expect(":parley.local 432 ALICIA 1x :Erroneous nickname");
    alice.send("NICK");
    alice.expect(":parley.local 431 ALICIA :No nickname given");
    assert!(bob.sync().is_empty());

    // A client in no channel still sees its own change.
    loner.send("NICK hermit");
    loner.expect(":loner!~loner@127.0.0.1 NICK :hermit");
    assert!(bob.sync().is_empty());
}

#[test]
fn quit_with_reason_is_seen_by_peers_and_closes_the_link() {
    let server = TestServer::start();
    let mut m = members(&server, &["alice", "bob", "carol"], "#c");
    let mut outsider = server.client("outsider");
    let mut carol = m.pop().unwrap();
    // alice shares two channels with carol and still sees one QUIT.
    m[0].join("#d");
    carol.join("#d");
    m[0].expect(":carol!~carol@127.0.0.1 JOIN #d");
    carol.send("QUIT :see you");
    carol.expect("ERROR :Closing Link: 127.0.0.1 (Quit: see you)");
    assert!(carol.expect_closed().is_empty());
    for c in &mut m {
        c.expect(":carol!~carol@127.0.0.1 QUIT :Quit: see you");
    }
    assert!(outsider.sync().is_empty());
    m[0].send("NAMES #c");
    m[0].expect(":parley.local 353 alice = #c :@alice bob");
    m[0].expect(":parley.local 366 alice #c :End of /NAMES list");

    // Without a reason.
    let mut bob = m.pop().unwrap();
    bob.send("QUIT");
    bob.expect("ERROR :Closing Link: 127.0.0.1 (Client Quit)");
    assert!(bob.expect_closed().is_empty());
    m[0].expect(":bob!~bob@127.0.0.1 QUIT :Client Quit");
    // The nick is free again.
    let _bob = server.client("bob");
}

#[test]
fn dropped_socket_is_a_quit_and_the_server_keeps_serving() {
    let server = TestServer::start();
    let mut m = members(&server, &["alice", "bob", "dropper"], "#c");
    let dropper = m.pop().unwrap();
    drop(dropper);
    for c in &mut m {
        c.expect(":dropper!~dropper@127.0.0.1 QUIT :Connection closed");
    }
    let mut newbie = server.client("newbie");
    newbie.join("#c");
    for c in &mut m {
        c.expect(":newbie!~newbie@127.0.0.1 JOIN #c");
    }
    newbie.send("PRIVMSG #c :hello after the drop");
    for c in &mut m {
        c.expect(":newbie!~newbie@127.0.0.1 PRIVMSG #c :hello after the drop");
    }
    // The nick was released.
    let _again = server.client("dropper");
}

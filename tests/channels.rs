//! Channel membership: JOIN (keys, limits, invites, bans, JOIN 0), PART,
//! TOPIC, KICK and INVITE, each checked line by line.

mod common;
use common::{expect_stamped, now, TestClient, TestServer};

/// Three registered clients, `alice` having created `#c` (so she is its op)
/// and the others having joined it, with every JOIN already read.
fn trio(server: &TestServer) -> (TestClient, TestClient, TestClient) {
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = server.client("bob");
    bob.join("#c");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #c");
    let mut carol = server.client("carol");
    carol.join("#c");
    alice.expect(":carol!~carol@127.0.0.1 JOIN #c");
    bob.expect(":carol!~carol@127.0.0.1 JOIN #c");
    (alice, bob, carol)
}

#[test]
fn first_joiner_is_op_and_everyone_sees_each_join() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.send("JOIN #Room");
    alice.expect(":alice!~alice@127.0.0.1 JOIN #Room");
    alice.expect(":parley.local 353 alice = #Room :@alice");
    alice.expect(":parley.local 366 alice #Room :End of /NAMES list");

    let mut bob = server.client("bob");
    // Another spelling of the same channel: the creator's spelling is shown.
    bob.send("JOIN #room");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #Room");
    bob.expect(":parley.local 353 bob = #Room :@alice bob");
    bob.expect(":parley.local 366 bob #Room :End of /NAMES list");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #Room");

    let mut carol = server.client("carol");
    carol.send("JOIN #ROOM");
    carol.expect(":carol!~carol@127.0.0.1 JOIN #Room");
    carol.expect(":parley.local 353 carol = #Room :@alice bob carol");
    carol.expect(":parley.local 366 carol #Room :End of /NAMES list");
    alice.expect(":carol!~carol@127.0.0.1 JOIN #Room");
    bob.expect(":carol!~carol@127.0.0.1 JOIN #Room");

    // Joining again is a no-op: nobody hears anything.
    bob.send("JOIN #room");
    assert!(bob.sync().is_empty());
    assert!(alice.sync().is_empty());
    assert!(carol.sync().is_empty());
}

#[test]
fn join_shows_the_topic_with_its_setter_and_time() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let before = now();
    alice.send("TOPIC #c :All about c");
    alice.expect(":alice!~alice@127.0.0.1 TOPIC #c :All about c");
    let mut bob = server.client("bob");
    bob.send("JOIN #c");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #c");
    bob.expect(":parley.local 332 bob #c :All about c");
    expect_stamped(&bob.recv(), ":parley.local 333 bob #c alice ", before);
    bob.expect(":parley.local 353 bob = #c :@alice bob");
    bob.expect(":parley.local 366 bob #c :End of /NAMES list");
}

#[test]
fn join_several_channels_with_keys() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#a");
    alice.join("#b");
    alice.send("MODE #a +k ka");
    alice.expect(":alice!~alice@127.0.0.1 MODE #a +k ka");
    alice.send("MODE #b +k kb");
    alice.expect(":alice!~alice@127.0.0.1 MODE #b +k kb");

    let mut bob = server.client("bob");
    // Keys pair up with channels in order; #new needs none.
    bob.send("JOIN #a,#b,#new ka,wrong");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #a");
    bob.expect(":parley.local 353 bob = #a :@alice bob");
    bob.expect(":parley.local 366 bob #a :End of /NAMES list");
    bob.expect(":parley.local 475 bob #b :Cannot join channel (+k)");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #new");
    bob.expect(":parley.local 353 bob = #new :@bob");
    bob.expect(":parley.local 366 bob #new :End of /NAMES list");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #a");
    assert!(alice.sync().is_empty());

    bob.send("JOIN #b kb");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #b");
    bob.expect(":parley.local 353 bob = #b :@alice bob");
    bob.expect(":parley.local 366 bob #b :End of /NAMES list");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #b");
}

#[test]
fn join_zero_parts_every_channel() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#a");
    alice.join("#b");
    let mut bob = server.client("bob");
    bob.join("#a");
    bob.join("#b");
    bob.join("#solo");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #a");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #b");
    bob.send("JOIN 0");
    bob.expect(":bob!~bob@127.0.0.1 PART #a");
    bob.expect(":bob!~bob@127.0.0.1 PART #b");
    bob.expect(":bob!~bob@127.0.0.1 PART #solo");
    assert!(bob.sync().is_empty());
    alice.expect(":bob!~bob@127.0.0.1 PART #a");
    alice.expect(":bob!~bob@127.0.0.1 PART #b");
    assert!(alice.sync().is_empty());
    // #solo died with its last member.
    bob.send("LIST #solo");
    bob.expect(":parley.local 321 bob Channel :Users  Name");
    bob.expect(":parley.local 323 bob :End of /LIST");
}

#[test]
fn join_refusals_bad_name_and_too_many_channels() {
    let server = TestServer::start_with(|c| c.max_channels_per_client = 2);
    let mut bob = server.client("bob");
    bob.send("JOIN nohash");
    bob.expect(":parley.local 403 bob nohash :No such channel");
    bob.send("JOIN #");
    bob.expect(":parley.local 403 bob # :No such channel");
    bob.send("JOIN #one,#two,#three");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #one");
    bob.recv_until(|l| l.contains(" 366 "));
    bob.expect(":bob!~bob@127.0.0.1 JOIN #two");
    bob.recv_until(|l| l.contains(" 366 "));
    bob.expect(":parley.local 405 bob #three :You have joined too many channels");
    assert!(bob.sync().is_empty());
    // Leaving one makes room again.
    bob.send("PART #one");
    bob.expect(":bob!~bob@127.0.0.1 PART #one");
    bob.send("JOIN #three");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #three");
}

#[test]
fn join_refusals_limit_invite_only_and_ban() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = server.client("bob");

    alice.send("MODE #c +l 1");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +l 1");
    bob.send("JOIN #c");
    bob.expect(":parley.local 471 bob #c :Cannot join channel (+l)");
    alice.send("MODE #c -l");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c -l");

    alice.send("MODE #c +i");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +i");
    bob.send("JOIN #c");
    bob.expect(":parley.local 473 bob #c :Cannot join channel (+i)");
    alice.send("INVITE bob #c");
    alice.expect(":parley.local 341 alice bob #c");
    bob.expect(":alice!~alice@127.0.0.1 INVITE bob #c");
    bob.send("JOIN #c");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #c");
    bob.expect(":parley.local 353 bob = #c :@alice bob");
    bob.expect(":parley.local 366 bob #c :End of /NAMES list");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #c");
    // The invitation is used up by the join.
    bob.send("PART #c");
    bob.expect(":bob!~bob@127.0.0.1 PART #c");
    alice.expect(":bob!~bob@127.0.0.1 PART #c");
    bob.send("JOIN #c");
    bob.expect(":parley.local 473 bob #c :Cannot join channel (+i)");
    alice.send("MODE #c -i");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c -i");

    alice.send("MODE #c +b bob");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +b bob!*@*");
    bob.send("JOIN #c");
    bob.expect(":parley.local 474 bob #c :Cannot join channel (+b)");
    // Other users are not caught by bob's ban.
    let mut carol = server.client("carol");
    carol.send("JOIN #c");
    carol.expect(":carol!~carol@127.0.0.1 JOIN #c");
    alice.send("MODE #c -b bob!*@*");
    alice.expect(":carol!~carol@127.0.0.1 JOIN #c");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c -b bob!*@*");
    bob.send("JOIN #c");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #c");
}

#[test]
fn part_with_and_without_reason_is_seen_by_all_members() {
    let server = TestServer::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.send("PART #c :off to bed");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.expect(":bob!~bob@127.0.0.1 PART #c :off to bed");
    }
    carol.send("PART #C");
    for c in [&mut alice, &mut carol] {
        c.expect(":carol!~carol@127.0.0.1 PART #c");
    }
    assert!(bob.sync().is_empty());
    alice.send("NAMES #c");
    alice.expect(":parley.local 353 alice = #c :@alice");
    alice.expect(":parley.local 366 alice #c :End of /NAMES list");
}

#[test]
fn part_errors_and_empty_channel_disappears() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = server.client("bob");
    bob.send("PART #c");
    bob.expect(":parley.local 442 bob #c :You're not on that channel");
    bob.send("PART #nowhere");
    bob.expect(":parley.local 403 bob #nowhere :No such channel");
    bob.send("PART");
    bob.expect(":parley.local 461 bob PART :Not enough parameters");

    bob.send("LIST");
    bob.expect(":parley.local 321 bob Channel :Users  Name");
    bob.expect(":parley.local 322 bob #c 1 :");
    bob.expect(":parley.local 323 bob :End of /LIST");
    alice.send("PART #c");
    alice.expect(":alice!~alice@127.0.0.1 PART #c");
    bob.send("LIST");
    bob.expect(":parley.local 321 bob Channel :Users  Name");
    bob.expect(":parley.local 323 bob :End of /LIST");
    // Rejoining makes a fresh channel with a fresh operator.
    bob.send("JOIN #c");
    bob.expect(":bob!~bob@127.0.0.1 JOIN #c");
    bob.expect(":parley.local 353 bob = #c :@bob");
}

#[test]
fn topic_query_set_and_permissions() {
    let server = TestServer::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.send("TOPIC #c");
    bob.expect(":parley.local 331 bob #c :No topic is set");

    let before = now();
    alice.send("TOPIC #c :Rust and IRC");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.expect(":alice!~alice@127.0.0.1 TOPIC #c :Rust and IRC");
    }
    bob.send("TOPIC #C");
    bob.expect(":parley.local 332 bob #c :Rust and IRC");
    expect_stamped(&bob.recv(), ":parley.local 333 bob #c alice ", before);

    // New channels are +t: only operators may change the topic.
    bob.send("TOPIC #c :mine now");
    bob.expect(":parley.local 482 bob #c :You're not channel operator");
    assert!(alice.sync().is_empty());

    alice.send("MODE #c -t");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.expect(":alice!~alice@127.0.0.1 MODE #c -t");
    }
    bob.send("TOPIC #c :mine now");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.expect(":bob!~bob@127.0.0.1 TOPIC #c :mine now");
    }

    // Outsiders may read but not set.
    let mut dave = server.client("dave");
    dave.send("TOPIC #c");
    dave.expect(":parley.local 332 dave #c :mine now");
    expect_stamped(&dave.recv(), ":parley.local 333 dave #c bob ", before);
    dave.send("TOPIC #c :outsider");
    dave.expect(":parley.local 442 dave #c :You're not on that channel");
    dave.send("TOPIC #none");
    dave.expect(":parley.local 403 dave #none :No such channel");
    dave.send("TOPIC");
    dave.expect(":parley.local 461 dave TOPIC :Not enough parameters");

    // An empty topic clears it.
    carol.send("TOPIC #c :");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.expect(":carol!~carol@127.0.0.1 TOPIC #c :");
    }
    dave.send("TOPIC #c");
    dave.expect(":parley.local 331 dave #c :No topic is set");
}

#[test]
fn kick_is_seen_by_all_and_removes_the_victim() {
    let server = TestServer::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    alice.send("KICK #c bob :behave");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.expect(":alice!~alice@127.0.0.1 KICK #c bob :behave");
    }
    alice.send("NAMES #c");
    alice.expect(":parley.local 353 alice = #c :@alice carol");
    alice.expect(":parley.local 366 alice #c :End of /NAMES list");
    // bob is out: he no longer hears the channel.
    carol.send("PRIVMSG #c :still here");
    alice.expect(":carol!~carol@127.0.0.1 PRIVMSG #c :still here");
    assert!(bob.sync().is_empty());

    // Without a reason the kicker's nick is used.
    alice.send("KICK #c carol");
    for c in [&mut alice, &mut carol] {
        c.expect(":alice!~alice@127.0.0.1 KICK #c carol :alice");
    }
}

#[test]
fn kick_errors() {
    let server = TestServer::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.send("KICK #c carol");
    bob.expect(":parley.local 482 bob #c :You're not channel operator");
    let mut dave = server.client("dave");
    alice.send("KICK #c dave");
    alice.expect(":parley.local 441 alice dave #c :They aren't on that channel");
    alice.send("KICK #c nobody");
    alice.expect(":parley.local 401 alice nobody :No such nick/channel");
    alice.send("KICK #nope bob");
    alice.expect(":parley.local 403 alice #nope :No such channel");
    dave.send("KICK #c bob");
    dave.expect(":parley.local 442 dave #c :You're not on that channel");
    alice.send("KICK #c");
    alice.expect(":parley.local 461 alice KICK :Not enough parameters");
    // Nobody was kicked by any of that.
    for c in [&mut alice, &mut bob, &mut carol] {
        assert!(c.sync().is_empty());
    }
}

#[test]
fn invite_replies_and_errors() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    let mut bob = server.client("bob");
    let mut carol = server.client("carol");
    carol.join("#c");
    alice.expect(":carol!~carol@127.0.0.1 JOIN #c");

    alice.send("INVITE bob #c");
    alice.expect(":parley.local 341 alice bob #c");
    bob.expect(":alice!~alice@127.0.0.1 INVITE bob #c");
    assert!(carol.sync().is_empty());

    alice.send("INVITE carol #c");
    alice.expect(":parley.local 443 alice carol #c :is already on channel");
    bob.send("INVITE carol #c");
    bob.expect(":parley.local 442 bob #c :You're not on that channel");
    alice.send("INVITE ghost #c");
    alice.expect(":parley.local 401 alice ghost :No such nick/channel");
    alice.send("INVITE bob #void");
    alice.expect(":parley.local 403 alice #void :No such channel");
    alice.send("INVITE bob");
    alice.expect(":parley.local 461 alice INVITE :Not enough parameters");

    // On a +i channel only operators may invite.
    alice.send("MODE #c +i");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +i");
    carol.expect(":alice!~alice@127.0.0.1 MODE #c +i");
    carol.send("INVITE bob #c");
    carol.expect(":parley.local 482 carol #c :You're not channel operator");

    // Inviting someone who is away says so.
    bob.send("AWAY :lunch");
    bob.expect(":parley.local 306 bob :You have been marked as being away");
    alice.send("INVITE bob #c");
    alice.expect(":parley.local 341 alice bob #c");
    alice.expect(":parley.local 301 alice bob :lunch");
    bob.expect(":alice!~alice@127.0.0.1 INVITE bob #c");
    assert!(bob.sync().is_empty());
}

#[test]
fn an_invitation_belongs_to_the_user_not_the_nick() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.join("#c");
    alice.send("MODE #c +i");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +i");
    let mut bob = server.client("bob");
    alice.send("INVITE bob #c");
    alice.expect(":parley.local 341 alice bob #c");
    bob.expect(":alice!~alice@127.0.0.1 INVITE bob #c");
    bob.send("NICK bobby");
    bob.expect(":bob!~bob@127.0.0.1 NICK :bobby");
    // Whoever picks up the old nick is not invited...
    let mut mallory = server.client("bob");
    mallory.send("JOIN #c");
    mallory.expect(":parley.local 473 bob #c :Cannot join channel (+i)");
    // ...while the invited user still is, under the new nick.
    bob.send("JOIN #c");
    bob.expect(":bobby!~bob@127.0.0.1 JOIN #c");
    bob.expect(":parley.local 353 bobby = #c :@alice bobby");
}

#[test]
fn part_and_kick_with_several_targets() {
    let server = TestServer::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.join("#d");
    alice.send("JOIN #d");
    alice.expect(":alice!~alice@127.0.0.1 JOIN #d");
    alice.recv_until(|l| l.contains(" 366 "));
    bob.expect(":alice!~alice@127.0.0.1 JOIN #d");

    // One PART line per channel, each with the reason.
    alice.send("PART #c,#d :both");
    for c in [&mut alice, &mut bob] {
        c.expect(":alice!~alice@127.0.0.1 PART #c :both");
        c.expect(":alice!~alice@127.0.0.1 PART #d :both");
    }
    carol.expect(":alice!~alice@127.0.0.1 PART #c :both");

    // One KICK line per victim.
    let mut dave = server.client("dave");
    dave.join("#k");
    bob.join("#k");
    carol.join("#k");
    dave.expect(":bob!~bob@127.0.0.1 JOIN #k");
    dave.expect(":carol!~carol@127.0.0.1 JOIN #k");
    bob.expect(":carol!~carol@127.0.0.1 JOIN #k");
    dave.send("KICK #k bob,ghost,carol :out");
    for c in [&mut dave, &mut bob, &mut carol] {
        c.expect(":dave!~dave@127.0.0.1 KICK #k bob :out");
    }
    dave.expect(":parley.local 401 dave ghost :No such nick/channel");
    for c in [&mut dave, &mut carol] {
        c.expect(":dave!~dave@127.0.0.1 KICK #k carol :out");
    }
    assert!(bob.sync().is_empty());
    dave.send("NAMES #k");
    dave.expect(":parley.local 353 dave = #k :@dave");
}

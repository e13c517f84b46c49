//! ChanServ: registering channels, founder and access-list status on join,
//! OP/DEOP/VOICE, saved topic and modes, TOPICLOCK, DROP; operator accounts.

mod common;
use common::{TestClient, TestServer};

const CS: &str = ":ChanServ!ChanServ@parley.local NOTICE";
const CSRC: &str = ":ChanServ!ChanServ@parley.local";

fn server() -> TestServer {
    TestServer::start_with(|c| c.nick_enforce_grace = 0)
}

/// A client registered as `nick` and logged in to a new account of that name.
fn member(server: &TestServer, nick: &str) -> TestClient {
    let mut c = server.client(nick);
    c.send(&format!("NS REGISTER pw-{nick}-123"));
    c.recv_containing(" 900 ");
    c.recv_containing("registered");
    c
}

fn part_all(clients: &mut [&mut TestClient], chan: &str) {
    for c in clients.iter_mut() {
        c.send(&format!("PART {chan}"));
        c.recv_containing(&format!("PART {chan}"));
    }
}

#[test]
fn register_info_and_founder_status_on_join() {
    let server = server();
    let mut uma = member(&server, "uma");
    let mut anon = server.client("anon");
    anon.join("#room");
    anon.send("CS REGISTER #room");
    anon.expect(&format!(
        "{CS} anon :You must be logged in to register a channel."
    ));
    uma.join("#room");
    anon.recv_containing("JOIN #room");
    uma.send("PRIVMSG ChanServ :REGISTER #room");
    uma.expect(&format!(
        "{CS} uma :You must be a channel operator in #room to register it."
    ));
    uma.send("CS REGISTER #nowhere");
    uma.expect(&format!("{CS} uma :#nowhere does not exist."));
    part_all(&mut [&mut anon], "#room");
    uma.recv_containing("PART #room");
    part_all(&mut [&mut uma], "#room");
    uma.join("#Room");
    uma.send("PRIVMSG ChanServ :REGISTER #room");
    uma.expect(&format!("{CS} uma :#Room is now registered to uma."));
    uma.send("CS REGISTER #ROOM");
    uma.expect(&format!("{CS} uma :#Room is already registered."));
    uma.send("CS INFO #room");
    uma.expect(&format!("{CS} uma :Information on #Room:"));
    uma.expect(&format!("{CS} uma :Founder: uma"));
    uma.recv_containing("Registered: ");
    uma.expect(&format!("{CS} uma :Modes: +nt"));
    uma.expect(&format!("{CS} uma :End of info."));
    uma.send("CS INFO #other");
    uma.expect(&format!("{CS} uma :#other is not registered."));

    // Someone without access who recreates the channel does not keep op.
    part_all(&mut [&mut uma], "#Room");
    anon.send("JOIN #room");
    anon.expect(":anon!~anon@127.0.0.1 JOIN #room");
    anon.expect(":parley.local 353 anon = #room :@anon");
    anon.recv_containing(" 366 ");
    anon.expect(&format!("{CSRC} MODE #room -o anon"));
    // The founder gets op on join, and everyone sees it.
    uma.send("JOIN #room");
    uma.expect(":uma!~uma@127.0.0.1 JOIN #room");
    uma.expect(":parley.local 353 uma = #room :anon uma");
    uma.recv_containing(" 366 ");
    uma.expect(&format!("{CSRC} MODE #room +o uma"));
    anon.expect(":uma!~uma@127.0.0.1 JOIN #room");
    anon.expect(&format!("{CSRC} MODE #room +o uma"));
}

#[test]
fn access_list_and_op_deop_voice() {
    let server = server();
    let mut f = member(&server, "fay");
    let mut g = member(&server, "gus");
    let mut h = member(&server, "hal");
    f.join("#a");
    f.send("CS REGISTER #a");
    f.recv_containing("is now registered");
    g.send("CS ACCESS #a ADD hal op");
    g.expect(&format!(
        "{CS} gus :Only the founder of #a can change its access list."
    ));
    f.send("CS ACCESS #a ADD gus op");
    f.expect(&format!("{CS} fay :gus now has op access on #a."));
    f.send("CS ACCESS #a ADD hal voice");
    f.expect(&format!("{CS} fay :hal now has voice access on #a."));
    f.send("CS ACCESS #a ADD nobody op");
    f.expect(&format!("{CS} fay :nobody is not registered."));
    f.send("CS ACCESS #a ADD hal owner");
    f.expect(&format!("{CS} fay :The level must be op or voice."));
    f.send("CS ACCESS #a LIST");
    f.expect(&format!("{CS} fay :Access list for #a:"));
    f.expect(&format!("{CS} fay :founder fay"));
    f.expect(&format!("{CS} fay :op gus"));
    f.expect(&format!("{CS} fay :voice hal"));
    f.expect(&format!("{CS} fay :End of access list."));

    g.send("JOIN #a");
    g.recv_containing(" 366 ");
    g.expect(&format!("{CSRC} MODE #a +o gus"));
    f.expect(":gus!~gus@127.0.0.1 JOIN #a");
    f.expect(&format!("{CSRC} MODE #a +o gus"));
    h.send("JOIN #a");
    h.recv_containing(" 366 ");
    h.expect(&format!("{CSRC} MODE #a +v hal"));
    f.expect(":hal!~hal@127.0.0.1 JOIN #a");
    f.expect(&format!("{CSRC} MODE #a +v hal"));
    g.recv_containing("JOIN #a");
    g.recv_containing("+v hal");

    // Voice access may not op; op access may.
    h.send("CS OP #a");
    h.expect(&format!(
        "{CS} hal :You do not have access to do that on #a."
    ));
    h.send("CS DEVOICE #a gus");
    h.expect(&format!(
        "{CS} hal :You do not have access to do that on #a."
    ));
    g.send("CS DEOP #a hal");
    g.send("CS DEVOICE #a hal");
    f.expect(&format!("{CSRC} MODE #a -v hal"));
    h.expect(&format!("{CSRC} MODE #a -v hal"));
    h.send("CS VOICE #a");
    h.expect(&format!("{CSRC} MODE #a +v hal"));
    g.send("CS OP #a nobody");
    g.recv_until(|l| l.contains("+v hal"));
    g.expect(&format!("{CS} gus :nobody is not on #a."));
    f.send("CS ACCESS #a DEL gus");
    f.recv_until(|l| l.contains("+v hal"));
    f.expect(&format!(
        "{CS} fay :gus was removed from the access list of #a."
    ));
    g.send("CS DEOP #a");
    g.expect(&format!(
        "{CS} gus :You do not have access to do that on #a."
    ));
}

#[test]
fn topic_and_modes_come_back_when_the_channel_is_recreated() {
    let server = server();
    let mut f = member(&server, "ida");
    f.join("#t");
    f.send("TOPIC #t :the saved topic");
    f.recv_containing("TOPIC #t");
    f.send("CS REGISTER #t");
    f.recv_containing("is now registered");
    f.send("MODE #t +ik sekrit");
    f.expect(":ida!~ida@127.0.0.1 MODE #t +ik sekrit");
    f.send("TOPIC #t :changed after registering");
    f.recv_containing("TOPIC #t");
    f.send("PART #t");
    f.recv_containing("PART #t");
    f.send("JOIN #t");
    f.expect(":ida!~ida@127.0.0.1 JOIN #t");
    f.expect(":parley.local 353 ida = #t :@ida");
    f.recv_containing(" 366 ");
    f.expect(&format!("{CSRC} MODE #t +intk sekrit"));
    f.expect(&format!("{CSRC} TOPIC #t :changed after registering"));
    f.send("CS INFO #t");
    f.recv_containing("Information on #t:");
    f.recv_containing("Founder: ida");
    f.recv_containing("Registered:");
    f.expect(&format!("{CS} ida :Modes: +intk"));
}

#[test]
fn topiclock_reverts_changes_without_op_access() {
    let server = server();
    let mut f = member(&server, "jan");
    let mut o = server.client("ole");
    f.join("#l");
    f.send("TOPIC #l :locked topic");
    f.recv_containing("TOPIC #l");
    f.send("CS REGISTER #l");
    f.recv_containing("is now registered");
    o.send("CS SET #l TOPICLOCK ON");
    o.expect(&format!("{CS} ole :Only the founder of #l can do that."));
    f.send("CS SET #l TOPICLOCK ON");
    f.expect(&format!("{CS} jan :Topic lock for #l is now on."));
    o.join("#l");
    f.recv_containing("JOIN #l");
    f.send("MODE #l +o ole");
    f.recv_containing("MODE #l +o ole");
    o.recv_containing("MODE #l +o ole");
    // A channel operator without op access cannot change the topic.
    o.send("TOPIC #l :defaced");
    o.expect(":ole!~ole@127.0.0.1 TOPIC #l :defaced");
    o.expect(&format!("{CSRC} TOPIC #l :locked topic"));
    f.expect(":ole!~ole@127.0.0.1 TOPIC #l :defaced");
    f.expect(&format!("{CSRC} TOPIC #l :locked topic"));
    // The founder can.
    f.send("TOPIC #l :new official topic");
    f.expect(":jan!~jan@127.0.0.1 TOPIC #l :new official topic");
    assert!(f.sync().is_empty());
    f.send("CS SET #l TOPICLOCK OFF");
    f.expect(&format!("{CS} jan :Topic lock for #l is now off."));
}

#[test]
fn drop_channel_and_account_drop_cascades() {
    let server = server();
    let mut f = member(&server, "kai");
    let mut o = member(&server, "lou");
    f.join("#d");
    f.join("#e");
    f.send("CS REGISTER #d");
    f.recv_containing("is now registered");
    f.send("CS REGISTER #e");
    f.recv_containing("is now registered");
    o.send("CS DROP #d");
    o.expect(&format!("{CS} lou :Only the founder of #d can drop it."));
    f.send("CS DROP #d");
    f.expect(&format!("{CS} kai :#d has been dropped."));
    f.send("CS INFO #d");
    f.expect(&format!("{CS} kai :#d is not registered."));
    f.send("NS DROP pw-kai-123");
    f.recv_containing(" 901 ");
    f.recv_containing("has been dropped");
    f.send("CS INFO #e");
    f.expect(&format!("{CS} kai :#e is not registered."));
    f.send("CS HELP");
    f.expect(&format!(
        "{CS} kai :ChanServ keeps a channel's founder, access list, topic and modes."
    ));
    f.recv_containing("End of help.");
}

#[test]
fn operator_accounts_from_config_and_by_operators() {
    let server = TestServer::start_with(|c| {
        c.nick_enforce_grace = 0;
        c.oper_accounts = vec!["Boss".into()];
    });
    let mut first = server.client("boss");
    first.send("NS REGISTER pw-boss-123");
    first.recv_containing(" 900 ");
    // The configuration makes the account an operator from the start.
    first.expect(":parley.local 381 boss :You are now an IRC operator");
    first.send("QUIT");
    first.expect_closed();
    let mut w = member(&server, "worker");
    let mut b = server.client("boss");
    b.send("NS IDENTIFY pw-boss-123");
    b.expect(":parley.local 900 boss boss!~boss@127.0.0.1 boss :You are now logged in as boss");
    b.expect(":parley.local 381 boss :You are now an IRC operator");
    b.expect(":boss MODE boss :+o");
    b.recv_containing("identified");
    w.send("NS OPER worker ON");
    w.expect(":NickServ!NickServ@parley.local NOTICE worker :Only IRC operators may do that.");
    b.send("NS OPER worker ON");
    b.expect(":NickServ!NickServ@parley.local NOTICE boss :worker is now an operator account.");
    // The flag applies at the next login, including SASL before registration.
    let mut w2 = server.connect();
    w2.nick = "worker2".into();
    w2.send("PASS worker:pw-worker-123");
    w2.send("NICK worker2");
    w2.send("USER w 0 * :W");
    w2.recv_containing(" 900 ");
    w2.recv_containing(" 376 ");
    w2.expect(":parley.local 381 worker2 :You are now an IRC operator");
    w2.expect(":worker2 MODE worker2 :+o");
    w.send("NS INFO worker");
    w.recv_containing("Information on worker:");
    w.recv_containing("Registered:");
    w.recv_containing("Logged in from: 2");
    w.recv_containing("Operator: yes");
}

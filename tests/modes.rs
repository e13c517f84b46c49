//! MODE for users (+i, +w, 221, 501, 502) and channels (query 324/329,
//! +o +v +k +l +b +i +m +n +t, ban lists, errors), checked line by line.

mod common;
use common::{expect_stamped, now, TestClient, TestServer};

/// alice (op, creator), bob and carol in `#c`, every JOIN read.
fn trio(server: &TestServer) -> Vec<TestClient> {
    let mut out: Vec<TestClient> = Vec::new();
    for nick in ["alice", "bob", "carol"] {
        let mut c = server.client(nick);
        c.join("#c");
        for earlier in &mut out {
            earlier.expect(&format!(":{} JOIN #c", c.prefix()));
        }
        out.push(c);
    }
    out
}

/// Every client in `all` reads exactly `line` next.
fn all_expect(all: &mut [TestClient], line: &str) {
    for c in all {
        c.expect(line);
    }
}

#[test]
fn user_modes_set_query_and_errors() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    let _bob = server.client("bob");
    alice.send("MODE alice");
    alice.expect(":parley.local 221 alice +");
    alice.send("MODE alice +i");
    alice.expect(":alice MODE alice :+i");
    alice.send("MODE ALICE +iw");
    alice.expect(":alice MODE alice :+w");
    alice.send("MODE alice");
    alice.expect(":parley.local 221 alice +iw");
    alice.send("MODE alice -i+i-w");
    alice.expect(":alice MODE alice :-i+i-w");
    alice.send("MODE alice -i");
    alice.expect(":alice MODE alice :-i");
    // Setting a mode that is already set says nothing.
    alice.send("MODE alice -i");
    assert!(alice.sync().is_empty());
    // +o comes only from OPER.
    alice.send("MODE alice +o");
    assert!(alice.sync().is_empty());
    alice.send("MODE alice");
    alice.expect(":parley.local 221 alice +");

    alice.send("MODE alice +Z");
    alice.expect(":parley.local 501 alice :Unknown MODE flag");
    alice.send("MODE alice +Zi");
    alice.expect(":parley.local 501 alice :Unknown MODE flag");
    alice.expect(":alice MODE alice :+i");
    alice.send("MODE bob +i");
    alice.expect(":parley.local 502 alice :Cant change mode for other users");
    alice.send("MODE bob");
    alice.expect(":parley.local 502 alice :Cant change mode for other users");
    alice.send("MODE nobody +i");
    alice.expect(":parley.local 401 alice nobody :No such nick/channel");
    alice.send("MODE");
    alice.expect(":parley.local 461 alice MODE :Not enough parameters");
}

#[test]
fn channel_mode_query_shows_modes_and_creation_time() {
    let server = TestServer::start();
    let before = now();
    let mut m = trio(&server);
    m[1].send("MODE #c");
    m[1].expect(":parley.local 324 bob #c +nt");
    expect_stamped(&m[1].recv(), ":parley.local 329 bob #c ", before);

    m[0].send("MODE #c +imlk 10 sesame");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c +imlk 10 sesame");
    m[1].send("MODE #C");
    m[1].expect(":parley.local 324 bob #c +imntkl sesame 10");
    expect_stamped(&m[1].recv(), ":parley.local 329 bob #c ", before);
    // Outsiders do not learn the key.
    let mut dave = server.client("dave");
    dave.send("MODE #c");
    dave.expect(":parley.local 324 dave #c +imntkl * 10");
    expect_stamped(&dave.recv(), ":parley.local 329 dave #c ", before);
    dave.send("MODE #nothing");
    dave.expect(":parley.local 403 dave #nothing :No such channel");
}

#[test]
fn op_and_voice_changes_reach_every_member_in_one_line() {
    let server = TestServer::start();
    let mut m = trio(&server);
    m[0].send("MODE #c +ov bob carol");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c +ov bob carol");
    for c in &mut m {
        assert!(c.sync().is_empty());
    }
    m[0].send("NAMES #c");
    m[0].expect(":parley.local 353 alice = #c :+carol @alice @bob");
    m[0].expect(":parley.local 366 alice #c :End of /NAMES list");

    // bob is an operator now and may take alice's status.
    m[1].send("MODE #c -o+v alice alice");
    all_expect(&mut m, ":bob!~bob@127.0.0.1 MODE #c -o+v alice alice");
    m[0].send("MODE #c +m");
    m[0].expect(":parley.local 482 alice #c :You're not channel operator");
    // Changes that change nothing are left out of the line.
    m[1].send("MODE #c +oo bob carol");
    all_expect(&mut m, ":bob!~bob@127.0.0.1 MODE #c +o carol");
    m[1].send("MODE #c -v+o-v carol bob alice");
    all_expect(&mut m, ":bob!~bob@127.0.0.1 MODE #c -vv carol alice");
    m[1].send("MODE #c -v carol");
    assert!(m[1].sync().is_empty());
    m[1].send("NAMES #c");
    m[1].expect(":parley.local 353 bob = #c :@bob @carol alice");
    m[1].expect(":parley.local 366 bob #c :End of /NAMES list");
}

#[test]
fn key_and_limit_set_and_unset() {
    let server = TestServer::start();
    let mut m = trio(&server);
    m[0].send("MODE #c +k sesame");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c +k sesame");
    let mut dave = server.client("dave");
    dave.send("JOIN #c");
    dave.expect(":parley.local 475 dave #c :Cannot join channel (+k)");
    m[0].send("MODE #c -k");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c -k *");
    // Removing an absent key changes nothing.
    m[0].send("MODE #c -k");
    assert!(m[0].sync().is_empty());
    m[0].send("MODE #c +k");
    m[0].expect(":parley.local 461 alice MODE :Not enough parameters");
    m[0].send("MODE #c +k :two words");
    m[0].expect(":parley.local 525 alice #c :Key is not well-formed");

    m[0].send("MODE #c +l 3");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c +l 3");
    dave.send("JOIN #c");
    dave.expect(":parley.local 471 dave #c :Cannot join channel (+l)");
    m[0].send("MODE #c +l many");
    m[0].expect(":parley.local 696 alice #c l many :Invalid limit");
    m[0].send("MODE #c -l");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c -l");
    dave.send("JOIN #c");
    dave.expect(":dave!~dave@127.0.0.1 JOIN #c");
}

#[test]
fn ban_list_add_show_remove() {
    let server = TestServer::start();
    let mut m = trio(&server);
    m[1].send("MODE #c +b");
    m[1].expect(":parley.local 368 bob #c :End of channel ban list");
    let before = now();
    m[0].send("MODE #c +bb evil *@10.0.0.1");
    all_expect(
        &mut m,
        ":alice!~alice@127.0.0.1 MODE #c +bb evil!*@* *!*@10.0.0.1",
    );
    // Anyone on the channel may read the list.
    m[1].send("MODE #c b");
    expect_stamped(
        &m[1].recv(),
        ":parley.local 367 bob #c evil!*@* alice ",
        before,
    );
    expect_stamped(
        &m[1].recv(),
        ":parley.local 367 bob #c *!*@10.0.0.1 alice ",
        before,
    );
    m[1].expect(":parley.local 368 bob #c :End of channel ban list");
    // Adding it twice changes nothing; non-ops may not change it.
    m[0].send("MODE #c +b EVIL!*@*");
    assert!(m[0].sync().is_empty());
    m[1].send("MODE #c +b bob");
    m[1].expect(":parley.local 482 bob #c :You're not channel operator");
    m[0].send("MODE #c -b evil!*@*");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c -b evil!*@*");
    m[2].send("MODE #c +b");
    expect_stamped(
        &m[2].recv(),
        ":parley.local 367 carol #c *!*@10.0.0.1 alice ",
        before,
    );
    m[2].expect(":parley.local 368 carol #c :End of channel ban list");
}

#[test]
fn mixed_flag_changes_in_one_line() {
    let server = TestServer::start();
    let mut m = trio(&server);
    m[0].send("MODE #c +im-t+k key");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c +im-t+k key");
    m[0].send("MODE #c -imn+t");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c -imn+t");
    m[0].send("MODE #c");
    m[0].expect(":parley.local 324 alice #c +tk key");
}

#[test]
fn channel_mode_errors() {
    let server = TestServer::start();
    let mut m = trio(&server);
    let mut dave = server.client("dave");
    m[0].send("MODE #c +Z");
    m[0].expect(":parley.local 472 alice Z :is unknown mode char to me");
    // Known letters around an unknown one still apply.
    m[0].send("MODE #c +mZ");
    m[0].expect(":parley.local 472 alice Z :is unknown mode char to me");
    all_expect(&mut m, ":alice!~alice@127.0.0.1 MODE #c +m");
    m[1].send("MODE #c -m");
    m[1].expect(":parley.local 482 bob #c :You're not channel operator");
    m[1].send("MODE #c +o bob");
    m[1].expect(":parley.local 482 bob #c :You're not channel operator");
    dave.send("MODE #c -m");
    dave.expect(":parley.local 442 dave #c :You're not on that channel");
    m[0].send("MODE #c +o ghost");
    m[0].expect(":parley.local 401 alice ghost :No such nick/channel");
    m[0].send("MODE #c +v dave");
    m[0].expect(":parley.local 441 alice dave #c :They aren't on that channel");
    m[0].send("MODE #c +o");
    m[0].expect(":parley.local 461 alice MODE :Not enough parameters");
    for c in &mut m {
        assert!(c.sync().is_empty(), "{}", c.nick);
    }
}

#[test]
fn full_ban_list_is_478() {
    let server = TestServer::start_with(|c| c.max_bans = 2);
    let mut alice = server.client("alice");
    alice.join("#c");
    alice.send("MODE #c +bbb a b c");
    alice.expect(":parley.local 478 alice #c b :Channel list is full");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c +bb a!*@* b!*@*");
    alice.send("MODE #c +b d");
    alice.expect(":parley.local 478 alice #c b :Channel list is full");
    alice.send("MODE #c -b+b a d");
    alice.expect(":alice!~alice@127.0.0.1 MODE #c -b+b a!*@* d!*@*");
}

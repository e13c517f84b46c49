//! Accounts: NickServ, SASL PLAIN, PASS account:password, REGISTER
//! (draft/account-registration), account-tag/account-notify/extended-join,
//! WHOIS 330, sessions, throttling, nick enforcement and hostile input.

mod common;
use base64ct::{Base64, Encoding};
use common::{TestClient, TestServer};

const NS: &str = ":NickServ!NickServ@parley.local NOTICE";

/// A server with nick enforcement off (tested on its own below).
fn server() -> TestServer {
    TestServer::start_with(|c| c.nick_enforce_grace = 0)
}

/// Registers account `nick` with NickServ from connection `c` (already
/// registered as `nick`), reading the replies.
fn ns_register(c: &mut TestClient, nick: &str, pass: &str) {
    c.send(&format!("PRIVMSG NickServ :REGISTER {pass}"));
    c.expect(&format!(
        ":parley.local 900 {nick} {nick}!~{nick}@127.0.0.1 {nick} :You are now logged in as {nick}"
    ));
    c.expect(&format!(
        "{NS} {nick} :Account {nick} registered. You are now logged in."
    ));
}

/// Creates account `nick` from a throwaway connection.
fn make_account(server: &TestServer, nick: &str, pass: &str) {
    let mut c = server.client(nick);
    ns_register(&mut c, nick, pass);
    c.send("QUIT");
    c.expect_closed();
}

use common::sasl_plain as plain;

/// Opens a connection that asks for `caps` and sends NICK/USER, stopping
/// before CAP END.
fn negotiating(server: &TestServer, nick: &str, caps: &str) -> TestClient {
    let mut c = server.connect();
    c.negotiate(nick, caps);
    c
}

fn finish_registration(c: &mut TestClient) {
    c.send("CAP END");
    c.expect(&format!(
        ":parley.local 001 {0} :Welcome to the Parley IRC Network, {0}!~{0}@127.0.0.1",
        c.nick
    ));
    c.recv_containing(" 376 ");
}

#[test]
fn nickserv_register_identify_info_logout() {
    let server = server();
    let mut a = server.client("alice");
    a.send("PRIVMSG NickServ :REGISTER abc");
    a.expect(&format!(
        "{NS} alice :Passwords must be at least 5 characters long."
    ));
    a.send("PRIVMSG NickServ :REGISTER s3cret! alice@example.org");
    a.expect(
        ":parley.local 900 alice alice!~alice@127.0.0.1 alice :You are now logged in as alice",
    );
    a.expect(&format!(
        "{NS} alice :Account alice registered. You are now logged in."
    ));
    a.send("PRIVMSG NickServ :REGISTER another1");
    a.expect(&format!("{NS} alice :You are already logged in as alice."));
    a.send("NICKSERV LOGOUT");
    a.expect(":parley.local 901 alice alice!~alice@127.0.0.1 :You are now logged out");
    a.expect(&format!("{NS} alice :You have been logged out."));
    a.send("NS LOGOUT");
    a.expect(&format!("{NS} alice :You are not logged in."));
    a.send("PRIVMSG NickServ :IDENTIFY wrong-one");
    a.expect(&format!("{NS} alice :Invalid password for alice."));
    a.send("PRIVMSG nickserv :identify s3cret!");
    a.expect(
        ":parley.local 900 alice alice!~alice@127.0.0.1 alice :You are now logged in as alice",
    );
    a.expect(&format!("{NS} alice :You are now identified for alice."));
    a.send("PRIVMSG NickServ :INFO");
    a.expect(&format!("{NS} alice :Information on alice:"));
    assert!(a.recv().starts_with(&format!("{NS} alice :Registered: 20")));
    a.expect(&format!("{NS} alice :Logged in from: 1 connection(s)"));
    a.expect(&format!("{NS} alice :Email: alice@example.org"));
    a.expect(&format!("{NS} alice :End of info."));

    // Another user sees the info without the email, by nick or account name.
    let mut b = server.client("bob");
    b.send("PRIVMSG NickServ :INFO ALICE");
    b.expect(&format!("{NS} bob :Information on alice:"));
    b.recv_containing("Registered: ");
    b.expect(&format!("{NS} bob :Logged in from: 1 connection(s)"));
    b.expect(&format!("{NS} bob :End of info."));
    b.send("PRIVMSG NickServ :INFO bob");
    b.expect(&format!("{NS} bob :bob is not registered."));
    b.send("PRIVMSG NickServ :IDENTIFY alice s3cret!");
    b.expect(":parley.local 900 bob bob!~bob@127.0.0.1 alice :You are now logged in as alice");
    b.expect(&format!("{NS} bob :You are now identified for alice."));
    b.send("PRIVMSG NickServ :HELP");
    b.expect(&format!(
        "{NS} bob :NickServ lets you own your nickname as an account."
    ));
    b.recv_containing("End of help.");
    b.send("PRIVMSG NickServ :FROB");
    b.expect(&format!(
        "{NS} bob :Unknown command FROB. Use /msg NickServ HELP for a list of commands."
    ));
    b.send("PRIVMSG NickServ :IDENTIFY");
    b.expect(&format!("{NS} bob :Syntax: IDENTIFY [account] <password>"));
    // The service nicks cannot be taken.
    b.send("NICK nickserv");
    b.expect(":parley.local 432 bob nickserv :Erroneous nickname");
}

#[test]
fn sasl_plain_logs_in_before_registration() {
    let server = server();
    make_account(&server, "bob", "hunter22");
    let mut c = negotiating(&server, "bob", "sasl");
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    // CAP END right behind the credentials: registration waits for the check.
    c.send(&format!("AUTHENTICATE {}", plain("bob", "hunter22")));
    c.send("CAP END");
    c.expect(":parley.local 900 bob bob!~bob@127.0.0.1 bob :You are now logged in as bob");
    c.expect(":parley.local 903 bob :SASL authentication successful");
    c.expect(":parley.local 001 bob :Welcome to the Parley IRC Network, bob!~bob@127.0.0.1");
    c.recv_containing(" 376 ");
    c.send("AUTHENTICATE PLAIN");
    c.expect(":parley.local 907 bob :You have already authenticated using SASL");
    c.send("WHOIS bob");
    c.recv_containing(" 312 ");
    c.expect(":parley.local 330 bob bob bob :is logged in as");
}

#[test]
fn sasl_failures_abort_and_limits() {
    let server = server();
    make_account(&server, "carol", "hunter22");
    let mut c = negotiating(&server, "carol", "sasl");
    // Unknown mechanism.
    c.send("AUTHENTICATE EXTERNAL");
    c.expect(":parley.local 908 carol PLAIN :are available SASL mechanisms");
    c.expect(":parley.local 904 carol :SASL authentication failed");
    // Wrong password.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send(&format!("AUTHENTICATE {}", plain("carol", "hunter23")));
    c.expect(":parley.local 904 carol :SASL authentication failed");
    // No such account: the same answer.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send(&format!("AUTHENTICATE {}", plain("nobody", "hunter22")));
    c.expect(":parley.local 904 carol :SASL authentication failed");
    // Not base64, and no NULs.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send("AUTHENTICATE %%%%");
    c.expect(":parley.local 904 carol :SASL authentication failed");
    c.send("AUTHENTICATE plain");
    c.expect("AUTHENTICATE +");
    c.send(&format!(
        "AUTHENTICATE {}",
        Base64::encode_string(b"carol hunter22")
    ));
    c.expect(":parley.local 904 carol :SASL authentication failed");
    // Abort.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send("AUTHENTICATE *");
    c.expect(":parley.local 906 carol :SASL authentication aborted");
    // A chunk over 400 bytes.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send(&format!("AUTHENTICATE {}", "A".repeat(401)));
    c.expect(":parley.local 905 carol :SASL message too long");
    // CAP END in the middle of an exchange aborts it; registration goes on
    // without an account.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    c.send("CAP END");
    c.expect(":parley.local 906 carol :SASL authentication aborted");
    c.expect(":parley.local 001 carol :Welcome to the Parley IRC Network, carol!~carol@127.0.0.1");
    c.recv_containing(" 376 ");
    c.send("WHOIS carol");
    loop {
        let l = c.recv();
        assert!(!l.contains(" 330 "), "{l}");
        if l.contains(" 318 ") {
            break;
        }
    }
}

#[test]
fn sasl_response_in_400_byte_chunks() {
    let server = server();
    let mut c = negotiating(&server, "dave", "sasl");
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    // A full 400-byte chunk means more follows: no answer yet.
    c.send(&format!("AUTHENTICATE {}", "A".repeat(400)));
    assert!(c.sync().is_empty());
    // "+" ends it; 300 NUL bytes are no credentials.
    c.send("AUTHENTICATE +");
    c.expect(":parley.local 904 dave :SASL authentication failed");
    // Past the total limit the exchange is cut off.
    c.send("AUTHENTICATE PLAIN");
    c.expect("AUTHENTICATE +");
    for _ in 0..5 {
        c.send(&format!("AUTHENTICATE {}", "A".repeat(400)));
    }
    c.send("AUTHENTICATE AAAA");
    c.expect(":parley.local 905 dave :SASL message too long");
}

#[test]
fn pass_account_password_logs_in_or_refuses() {
    let server = server();
    make_account(&server, "erin", "hunter22");
    let mut c = server.connect();
    c.nick = "erin".into();
    c.send("PASS erin:hunter22");
    c.send("NICK erin");
    c.send("USER erin 0 * :Erin");
    c.expect(":parley.local 900 erin erin!~erin@127.0.0.1 erin :You are now logged in as erin");
    c.expect(":parley.local 001 erin :Welcome to the Parley IRC Network, erin!~erin@127.0.0.1");
    let mut bad = server.connect();
    bad.send("PASS erin:wrong");
    bad.send("NICK erin2");
    bad.send("USER erin 0 * :Erin");
    bad.expect(":parley.local 464 erin2 :Password incorrect");
    bad.expect("ERROR :Bad password");
    assert!(bad.expect_closed().is_empty());
}

#[test]
fn register_command_from_account_registration() {
    let server = server();
    let mut early = server.connect();
    early.send("REGISTER * * secret12");
    early.expect(":parley.local FAIL REGISTER NEED_NICK * :You must choose a nickname first");
    let mut c = negotiating(&server, "frank", "draft/account-registration");
    c.send("REGISTER * frank@example.org secret12");
    c.expect(":parley.local REGISTER SUCCESS frank :Account successfully registered");
    c.expect(
        ":parley.local 900 frank frank!~frank@127.0.0.1 frank :You are now logged in as frank",
    );
    c.send("REGISTER * * secret12");
    c.expect(":parley.local FAIL REGISTER ALREADY_AUTHENTICATED frank :You are already logged in");
    finish_registration(&mut c);

    let mut d = server.client("gina");
    d.send("REGISTER frank * secret12");
    d.expect(":parley.local FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK frank :The account name must be your current nickname");
    d.send("REGISTER 9lives * secret12");
    d.expect(":parley.local FAIL REGISTER BAD_ACCOUNT_NAME 9lives :That account name is not valid");
    d.send("REGISTER * not-an-email secret12");
    d.expect(":parley.local FAIL REGISTER INVALID_EMAIL gina :That email address is not valid");
    d.send("REGISTER * * abc");
    d.expect(":parley.local FAIL REGISTER WEAK_PASSWORD gina :Passwords must be at least 5 characters long.");
    d.send("REGISTER gina *");
    d.expect(":parley.local 461 gina REGISTER :Not enough parameters");
    // An existing account, told apart case-insensitively.
    c.send("QUIT");
    c.expect_closed();
    let mut e = server.client("FRANK");
    e.send("REGISTER * * secret12");
    e.expect(":parley.local FAIL REGISTER ACCOUNT_EXISTS FRANK :Account already exists");
}

#[test]
fn account_tag_notify_extended_join_and_whois() {
    let server = server();
    make_account(&server, "ivy", "hunter22");
    let mut w = negotiating(
        &server,
        "watcher",
        "account-notify account-tag extended-join",
    );
    finish_registration(&mut w);
    w.join("#c");
    let mut plain_user = server.client("plainuser");
    plain_user.join("#c");
    w.expect(":plainuser!~plainuser@127.0.0.1 JOIN #c * :Real plainuser");
    let mut ivy = server.client("ivy");
    ivy.join("#c");
    w.expect(":ivy!~ivy@127.0.0.1 JOIN #c * :Real ivy");
    plain_user.expect(":ivy!~ivy@127.0.0.1 JOIN #c");
    ivy.send("PRIVMSG NickServ :IDENTIFY hunter22");
    ivy.recv_containing(" 900 ");
    ivy.recv_containing("identified");
    w.expect("@account=ivy :ivy!~ivy@127.0.0.1 ACCOUNT ivy");
    ivy.send("PRIVMSG #c :hello");
    w.expect("@account=ivy :ivy!~ivy@127.0.0.1 PRIVMSG #c :hello");
    // Without the caps nothing changes.
    plain_user.expect(":ivy!~ivy@127.0.0.1 PRIVMSG #c :hello");
    ivy.send("PART #c");
    w.expect("@account=ivy :ivy!~ivy@127.0.0.1 PART #c");
    ivy.send("JOIN #c");
    w.expect("@account=ivy :ivy!~ivy@127.0.0.1 JOIN #c ivy :Real ivy");
    plain_user.expect(":ivy!~ivy@127.0.0.1 PART #c");
    plain_user.expect(":ivy!~ivy@127.0.0.1 JOIN #c");
    plain_user.send("WHOIS ivy");
    plain_user.recv_containing(" 312 ");
    plain_user.expect(":parley.local 330 plainuser ivy ivy :is logged in as");
    plain_user.recv_containing(" 318 ");
    ivy.recv_until(|l| l.contains(" 366 "));
    ivy.send("NS LOGOUT");
    w.expect(":ivy!~ivy@127.0.0.1 ACCOUNT *");
    assert!(plain_user.sync().is_empty());
}

#[test]
fn sessions_share_an_account_and_end_separately() {
    let server = server();
    let mut a = server.client("jack");
    ns_register(&mut a, "jack", "hunter22");
    let mut b = server.client("jack_away");
    b.send("NS IDENTIFY jack hunter22");
    b.expect(":parley.local 900 jack_away jack_away!~jack_away@127.0.0.1 jack :You are now logged in as jack");
    b.expect(&format!("{NS} jack_away :You are now identified for jack."));
    a.send("NS SESSIONS");
    a.expect(&format!("{NS} jack :2 session(s) logged in to jack:"));
    a.expect(&format!("{NS} jack :1: jack from 127.0.0.1 (this one)"));
    a.expect(&format!("{NS} jack :2: jack_away from 127.0.0.1"));
    a.expect(&format!("{NS} jack :End of sessions."));
    // Logging one out leaves the other.
    b.send("NS LOGOUT");
    b.recv_containing(" 901 ");
    b.recv_containing("logged out");
    a.send("NS SESSIONS");
    a.expect(&format!("{NS} jack :1 session(s) logged in to jack:"));
    a.recv_containing("this one");
    a.recv_containing("End of sessions.");
    // So does a disconnection.
    b.send("NS IDENTIFY jack hunter22");
    b.recv_containing(" 900 ");
    b.recv_containing("identified");
    let mut c = server.client("jill");
    c.send("NS IDENTIFY jack hunter22");
    c.recv_containing(" 900 ");
    c.recv_containing("identified");
    a.send("NS SESSIONS");
    a.expect(&format!("{NS} jack :3 session(s) logged in to jack:"));
    a.recv_containing("End of sessions.");
    b.send("QUIT");
    b.expect_closed();
    c.send("NS SESSIONS");
    c.expect(&format!("{NS} jill :2 session(s) logged in to jack:"));
    c.expect(&format!("{NS} jill :1: jack from 127.0.0.1"));
    c.expect(&format!("{NS} jill :2: jill from 127.0.0.1 (this one)"));
    c.expect(&format!("{NS} jill :End of sessions."));
    a.send("NS INFO");
    a.recv_containing("Information on jack:");
    a.recv_containing("Registered:");
    a.expect(&format!("{NS} jack :Logged in from: 2 connection(s)"));
}

#[test]
fn set_password_and_drop() {
    let server = server();
    let mut a = server.client("kate");
    ns_register(&mut a, "kate", "hunter22");
    let mut other = server.client("kate2");
    other.send("NS IDENTIFY kate hunter22");
    other.recv_containing(" 900 ");
    other.recv_containing("identified");
    a.send("NS SET PASSWORD x");
    a.expect(&format!(
        "{NS} kate :Passwords must be at least 5 characters long."
    ));
    a.send("NS SET PASSWORD newpass99");
    a.expect(&format!("{NS} kate :Your password has been changed."));
    a.send("NS SET");
    a.expect(&format!("{NS} kate :Syntax: SET PASSWORD <new password>"));
    let mut b = server.client("kim");
    b.send("NS IDENTIFY kate hunter22");
    b.expect(&format!("{NS} kim :Invalid password for kate."));
    b.send("NS IDENTIFY kate newpass99");
    b.recv_containing(" 900 ");
    b.recv_containing("identified");
    b.send("NS DROP hunter22");
    b.expect(&format!("{NS} kim :Invalid password for kate."));
    b.send("NS DROP newpass99");
    // Every session is logged out.
    b.expect(":parley.local 901 kim kim!~kim@127.0.0.1 :You are now logged out");
    b.expect(&format!("{NS} kim :Account kate has been dropped."));
    a.expect(":parley.local 901 kate kate!~kate@127.0.0.1 :You are now logged out");
    other.expect(":parley.local 901 kate2 kate2!~kate2@127.0.0.1 :You are now logged out");
    a.send("NS INFO kate");
    a.expect(&format!("{NS} kate :kate is not registered."));
    a.send("NS DROP x");
    a.expect(&format!("{NS} kate :You are not logged in."));
    // The name is free again.
    ns_register(&mut a, "kate", "third-pass");
}

#[test]
fn failed_logins_are_throttled_per_connection_and_per_account() {
    let server = server();
    make_account(&server, "leo", "hunter22");
    let mut a = server.client("mallory");
    for _ in 0..4 {
        a.send("NS IDENTIFY leo guess");
        a.expect(&format!("{NS} mallory :Invalid password for leo."));
    }
    // The fourth failure set a wait on this connection: even the right
    // password is not checked now.
    a.send("NS IDENTIFY leo hunter22");
    a.expect(&format!(
        "{NS} mallory :Too many failed logins. Please wait 2 seconds before trying again."
    ));
    // Two more failures from elsewhere pass the account's free tries.
    let mut b = server.client("trudy");
    for _ in 0..2 {
        b.send("NS IDENTIFY leo guess");
        b.expect(&format!("{NS} trudy :Invalid password for leo."));
    }
    let mut owner = server.client("leo");
    owner.send("NS IDENTIFY hunter22");
    let got = owner.recv();
    assert!(
        got.starts_with(&format!("{NS} leo :Too many failed logins. Please wait ")),
        "{got}"
    );
    // SASL is throttled by the same counters.
    let mut s = negotiating(&server, "leo2", "sasl");
    s.send("AUTHENTICATE PLAIN");
    s.expect("AUTHENTICATE +");
    s.send(&format!("AUTHENTICATE {}", plain("leo", "hunter22")));
    s.expect(":parley.local 904 leo2 :SASL authentication failed");
    // Once the wait is over the owner gets in.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    owner.send("NS IDENTIFY hunter22");
    owner.expect(":parley.local 900 leo leo!~leo@127.0.0.1 leo :You are now logged in as leo");
}

#[test]
fn registered_nick_is_renamed_after_the_grace_period() {
    let server = TestServer::start_with(|c| c.nick_enforce_grace = 1);
    make_account(&server, "nina", "hunter22");
    let mut w = server.client("witness");
    w.join("#n");
    let mut c = server.client("nina");
    c.expect(&format!(
        "{NS} nina :This nickname is registered. Please identify with /msg NickServ IDENTIFY <password> within 1 seconds, or your nick will be changed."
    ));
    c.join("#n");
    w.recv_containing("JOIN #n");
    let notice = c.recv();
    assert!(
        notice.starts_with(&format!(
            "{NS} nina :You did not identify for nina in time; your nick is now Guest"
        )),
        "{notice}"
    );
    let guest = notice
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    c.expect(&format!(":nina!~nina@127.0.0.1 NICK :{guest}"));
    w.expect(&format!(":nina!~nina@127.0.0.1 NICK :{guest}"));

    // Identifying in time keeps the nick; so does logging in with SASL.
    let mut d = server.client("nina");
    d.recv_containing("This nickname is registered.");
    d.send("NS IDENTIFY hunter22");
    d.recv_containing(" 900 ");
    d.recv_containing("identified");
    let mut s = negotiating(&server, "nina_", "sasl");
    s.send("AUTHENTICATE PLAIN");
    s.expect("AUTHENTICATE +");
    s.send(&format!("AUTHENTICATE {}", plain("nina", "hunter22")));
    s.recv_containing(" 903 ");
    finish_registration(&mut s);
    d.send("QUIT");
    d.expect_closed();
    s.send("NICK nina");
    s.expect(":nina_!~nina_@127.0.0.1 NICK :nina");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(s.sync().is_empty());
}

#[test]
fn hostile_names_and_passwords_get_errors_not_damage() {
    let server = server();
    let mut a = server.client("oscar");
    let quotes = "x');DROP--\"TABLE'accounts";
    a.send(&format!("NS REGISTER {quotes}"));
    a.recv_containing(" 900 ");
    a.recv_containing("registered");
    a.send("NS LOGOUT");
    a.recv_containing(" 901 ");
    a.recv_containing("logged out");
    a.send(&format!("NS IDENTIFY {quotes}"));
    a.recv_containing(" 900 ");
    a.recv_containing("identified");
    a.send("NS LOGOUT");
    a.recv_containing(" 901 ");
    a.recv_containing("logged out");
    // A NUL in a password, a very long one, a very long account name.
    let mut b = server.client("pat");
    b.send("NS REGISTER abc\0defgh");
    b.expect(&format!(
        "{NS} pat :Passwords may not contain control characters."
    ));
    b.send(&format!("NS REGISTER {}", "y".repeat(400)));
    b.expect(&format!(
        "{NS} pat :Passwords must be at most 256 bytes long."
    ));
    b.send(&format!("NS IDENTIFY {} whatever", "'\"".repeat(150)));
    b.recv_containing("Invalid password for");
    b.send(&format!("REGISTER {} * secret12", "a".repeat(300)));
    b.recv_containing("FAIL REGISTER BAD_ACCOUNT_NAME");
    let mut s = negotiating(&server, "quinn", "sasl");
    s.send("AUTHENTICATE PLAIN");
    s.expect("AUTHENTICATE +");
    s.send(&format!(
        "AUTHENTICATE {}",
        Base64::encode_string(format!("\0{}\0pw\0x", "'".repeat(200)).as_bytes())
    ));
    s.expect(":parley.local 904 quinn :SASL authentication failed");
    // The account table is intact and the first account still works.
    a.send(&format!("NS IDENTIFY oscar {quotes}"));
    a.recv_containing(" 900 ");
    a.send("NS INFO oscar");
    a.recv_containing("Information on oscar:");
}

//! Server operators: OPER (argon2-hashed passwords), what being an operator
//! shows (221, 313, WHO `*`, USERHOST `*`, 252), WALLOPS, `$` broadcasts, KILL.

mod common;
use argon2::password_hash::{rand_core::OsRng, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use common::{TestClient, TestServer};
use parley::config::OperConfig;

/// An argon2id PHC hash of `password`, with small parameters so that the
/// unoptimised test build verifies it quickly.
fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::new(1024, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// A server with one operator account, `root` / `hunter2`.
fn server_with_oper() -> TestServer {
    let password_hash = hash("hunter2");
    TestServer::start_with(move |c| {
        c.opers = vec![OperConfig {
            name: "root".into(),
            password_hash,
        }]
    })
}

/// Registers `nick` and makes it an operator.
fn oper(server: &TestServer, nick: &str) -> TestClient {
    let mut c = server.client(nick);
    c.send("OPER root hunter2");
    c.expect(&format!(
        ":parley.local 381 {nick} :You are now an IRC operator"
    ));
    c.expect(&format!(":{nick} MODE {nick} :+o"));
    c
}

#[test]
fn oper_without_any_operator_accounts_is_491() {
    let server = TestServer::start();
    let mut alice = server.client("alice");
    alice.send("OPER root hunter2");
    alice.expect(":parley.local 491 alice :No O-lines for your host");
}

#[test]
fn oper_checks_the_password_and_grants_plus_o() {
    let server = server_with_oper();
    let mut alice = server.client("alice");
    let mut bob = server.client("bob");
    alice.send("OPER root wrong");
    alice.expect(":parley.local 464 alice :Password incorrect");
    alice.send("OPER nobody hunter2");
    alice.expect(":parley.local 464 alice :Password incorrect");
    alice.send("MODE alice");
    alice.expect(":parley.local 221 alice +");

    alice.send("OPER root hunter2");
    alice.expect(":parley.local 381 alice :You are now an IRC operator");
    alice.expect(":alice MODE alice :+o");
    alice.send("MODE alice");
    alice.expect(":parley.local 221 alice +o");

    // Others can tell.
    bob.send("WHOIS alice");
    bob.expect(":parley.local 311 bob alice ~alice 127.0.0.1 * :Real alice");
    bob.expect(":parley.local 312 bob alice parley.local :Parley server");
    bob.expect(":parley.local 313 bob alice :is an IRC operator");
    bob.recv_containing(" 317 bob alice ");
    bob.expect(":parley.local 318 bob alice :End of /WHOIS list");
    bob.send("WHO alice");
    bob.expect(":parley.local 352 bob * ~alice 127.0.0.1 parley.local alice H* :0 Real alice");
    bob.expect(":parley.local 315 bob alice :End of /WHO list");
    bob.send("USERHOST alice");
    bob.expect(":parley.local 302 bob :alice*=+~alice@127.0.0.1");
    bob.send("LUSERS");
    bob.expect(":parley.local 251 bob :There are 2 users and 0 invisible on 1 servers");
    bob.expect(":parley.local 252 bob 1 :operator(s) online");
    bob.expect(":parley.local 254 bob 0 :channels formed");
    bob.recv_until(|l| l.contains(" 266 "));

    // Dropping +o is allowed, and the count follows.
    alice.send("MODE alice -o");
    alice.expect(":alice MODE alice :-o");
    bob.send("LUSERS");
    bob.expect(":parley.local 251 bob :There are 2 users and 0 invisible on 1 servers");
    bob.expect(":parley.local 254 bob 0 :channels formed");
}

#[test]
fn wallops_reaches_plus_w_users_only() {
    let server = server_with_oper();
    let mut op = oper(&server, "op");
    op.send("MODE op +w");
    op.expect(":op MODE op :+w");
    let mut watcher = server.client("watcher");
    watcher.send("MODE watcher +w");
    watcher.expect(":watcher MODE watcher :+w");
    let mut plain = server.client("plain");

    op.send("WALLOPS :maintenance at noon");
    op.expect(":op!~op@127.0.0.1 WALLOPS :maintenance at noon");
    watcher.expect(":op!~op@127.0.0.1 WALLOPS :maintenance at noon");
    assert!(plain.sync().is_empty());

    plain.send("WALLOPS :me too");
    plain.expect(":parley.local 481 plain :Permission Denied- You're not an IRC operator");
    assert!(watcher.sync().is_empty());
    op.send("WALLOPS");
    op.expect(":parley.local 461 op WALLOPS :Not enough parameters");
}

#[test]
fn server_wide_notice_and_privmsg_reach_everyone() {
    let server = server_with_oper();
    let mut op = oper(&server, "op");
    let mut a = server.client("a");
    let mut b = server.client("b");
    b.join("#quiet");
    // An unregistered connection is not a user yet.
    let mut pending = server.connect();
    pending.sync();

    op.send("NOTICE $* :server going down");
    a.expect(":op!~op@127.0.0.1 NOTICE $* :server going down");
    b.expect(":op!~op@127.0.0.1 NOTICE $* :server going down");
    op.send("PRIVMSG $parley.local :hello everyone");
    a.expect(":op!~op@127.0.0.1 PRIVMSG $parley.local :hello everyone");
    b.expect(":op!~op@127.0.0.1 PRIVMSG $parley.local :hello everyone");
    op.send("PRIVMSG $*.local :by mask");
    a.expect(":op!~op@127.0.0.1 PRIVMSG $*.local :by mask");
    b.expect(":op!~op@127.0.0.1 PRIVMSG $*.local :by mask");
    assert!(pending.sync().is_empty());
    assert!(op.sync().is_empty());

    op.send("PRIVMSG $other.server :hello");
    op.expect(":parley.local 402 op $other.server :No such server");
    a.send("PRIVMSG $* :me too");
    a.expect(":parley.local 481 a :Permission Denied- You're not an IRC operator");
    a.send("NOTICE $* :me too");
    assert!(a.sync().is_empty());
    assert!(b.sync().is_empty());
}

#[test]
fn kill_disconnects_the_victim_and_peers_see_a_quit() {
    let server = server_with_oper();
    let mut op = oper(&server, "op");
    let mut victim = server.client("victim");
    victim.join("#c");
    let mut peer = server.client("peer");
    peer.join("#c");
    victim.expect(":peer!~peer@127.0.0.1 JOIN #c");

    peer.send("KILL victim :no reason");
    peer.expect(":parley.local 481 peer :Permission Denied- You're not an IRC operator");
    op.send("KILL ghost :gone");
    op.expect(":parley.local 401 op ghost :No such nick/channel");
    op.send("KILL victim");
    op.expect(":parley.local 461 op KILL :Not enough parameters");
    assert!(victim.sync().is_empty());

    op.send("KILL Victim :flooding");
    victim.expect(":op!~op@127.0.0.1 KILL victim :flooding");
    victim.expect(":victim!~victim@127.0.0.1 QUIT :Killed (op (flooding))");
    victim.expect("ERROR :Closing Link: parley.local (Killed (op (flooding)))");
    assert!(victim.expect_closed().is_empty());
    peer.expect(":victim!~victim@127.0.0.1 QUIT :Killed (op (flooding))");
    assert!(op.sync().is_empty());
    peer.send("NAMES #c");
    peer.expect(":parley.local 353 peer = #c :peer");
    peer.expect(":parley.local 366 peer #c :End of /NAMES list");
    // The nick is free and the server carries on.
    let mut again = server.client("victim");
    again.join("#c");
    peer.expect(":victim!~victim@127.0.0.1 JOIN #c");
}

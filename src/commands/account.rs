//! Accounts from the connection's side: checking passwords and logging in and
//! out (shared by SASL, `PASS account:password` and NickServ IDENTIFY),
//! creating accounts (`REGISTER` from draft/account-registration and NickServ
//! REGISTER), nick enforcement, and routing `PRIVMSG NickServ` to the services.
//!
//! Every database query and password hash runs on the accounts pool; the
//! result comes back to this connection's worker as a task.

use std::time::Instant;

use argon2::password_hash::rand_core::{OsRng, RngCore};

use super::registration::{try_register, valid_nick};
use super::{chanserv, need_params, nickserv, unix_now, Ctx, Relay};
use crate::accounts::throttle::{secs, PER_CONNECTION};
use crate::accounts::{password, store};
use crate::bus::ConnId;
use crate::protocol::{irc_eq, irc_lower, numeric::*, Message};
use crate::state::{Caps, Client, UserModes};

pub const RPL_LOGGEDIN: &str = "900";
pub const RPL_LOGGEDOUT: &str = "901";
pub const RPL_SASLSUCCESS: &str = "903";
pub const ERR_SASLFAIL: &str = "904";
pub const ERR_SASLTOOLONG: &str = "905";
pub const ERR_SASLABORTED: &str = "906";
pub const ERR_SASLALREADY: &str = "907";
pub const RPL_SASLMECHS: &str = "908";
pub const RPL_WHOISACCOUNT: &str = "330";

pub const NICKSERV: &str = "NickServ";
pub const CHANSERV: &str = "ChanServ";

/// Nicks that belong to the services and can never be taken.
pub fn is_service(nick: &str) -> bool {
    irc_eq(nick, NICKSERV) || irc_eq(nick, CHANSERV)
}

/// A PRIVMSG addressed to one of the services.
pub fn to_service(msg: &Message) -> bool {
    msg.param(0).is_some_and(is_service)
}

/// `PRIVMSG NickServ :REGISTER ...` and the like.
pub fn service_message(ctx: &mut Ctx, msg: &Message) {
    let target = msg.params()[0];
    let text = msg.param(1).unwrap_or("");
    if irc_eq(target, NICKSERV) {
        nickserv::command(ctx, &[text]);
    } else {
        chanserv::command(ctx, &[text]);
    }
}

/// The words of a service command, whether it came as `NS IDENTIFY pw` or as
/// `PRIVMSG NickServ :IDENTIFY pw`.
pub fn words<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().flat_map(|a| a.split_whitespace()).collect()
}

/// A NOTICE from a service to this client.
pub fn notice(ctx: &mut Ctx, service: &str, text: &str) {
    let source = format!("{service}!{service}@{}", ctx.server_name());
    let target = ctx.me().target().to_string();
    let line = crate::protocol::LineBuilder::new(Some(&source), "NOTICE")
        .param(&target)
        .trailing(text)
        .build();
    ctx.send(line);
}

/// `nick!user@host` with `*` for parts not given yet (for 900/901).
fn mask(c: &Client) -> String {
    let or_star = |s: &str| {
        if s.is_empty() {
            "*".to_string()
        } else {
            s.to_string()
        }
    };
    format!("{}!{}@{}", or_star(&c.nick), or_star(c.user()), c.host())
}

/// What a password check found.
#[derive(Debug)]
pub enum Outcome {
    /// The password is right; the account's name as registered and whether it
    /// is an operator account.
    Ok { name: String, oper: bool },
    /// No such account or a wrong password (deliberately not told apart).
    Bad,
    /// Too many failures: try again after this many seconds.
    Throttled(u64),
    /// The database failed.
    Unavailable,
}

/// Checks `password` for `account` on the accounts pool, after the
/// per-connection and per-account throttles; `done` then runs on this
/// connection's worker. Registration waits while the check runs.
pub fn check_password(
    ctx: &mut Ctx,
    account: &str,
    password: String,
    via: &'static str,
    done: impl FnOnce(&mut Ctx, Outcome) + Send + 'static,
) {
    let key = irc_lower(account);
    let now = Instant::now();
    let wait = ctx
        .me()
        .auth
        .as_ref()
        .and_then(|a| a.fails.wait(now))
        .or_else(|| ctx.env.accounts.account_wait(&key, now));
    if let Some(w) = wait {
        log::warn!(
            "login to account {account:?} via {via} from {} refused: throttled",
            ctx.me().host()
        );
        return done(ctx, Outcome::Throttled(secs(w)));
    }
    ctx.me_mut().auth_mut().pending = true;
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    let account = account.to_string();
    ctx.env.accounts.spawn(move |acc| {
        let outcome = match acc.db(|db| store::account(db, &key)) {
            Ok(row) => {
                let ok = password::verify(&password, row.as_ref().map(|r| r.hash.as_str()));
                match row {
                    Some(r) if ok => Outcome::Ok {
                        oper: r.oper || acc.config_oper(&key),
                        name: r.name,
                    },
                    _ => Outcome::Bad,
                }
            }
            Err(e) => {
                log::error!("database: looking up an account: {e}");
                Outcome::Unavailable
            }
        };
        drop(password);
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| {
                ctx.me_mut().auth_mut().pending = false;
                let now = Instant::now();
                match &outcome {
                    Outcome::Bad => {
                        ctx.me_mut().auth_mut().fails.fail(PER_CONNECTION, now);
                        ctx.env.accounts.account_failed(&key, now);
                        log::warn!(
                            "failed login to account {account:?} via {via} from {} (nick {:?})",
                            ctx.me().host(),
                            ctx.me().nick
                        );
                    }
                    Outcome::Ok { .. } => ctx.env.accounts.account_succeeded(&key),
                    _ => {}
                }
                done(ctx, outcome);
                try_register(ctx);
            }),
        );
    });
}

/// Logs this connection in to account `name`: 900, account-notify, and the
/// operator flag if the account has it.
pub fn login(ctx: &mut Ctx, name: &str, oper: bool, via: &str) {
    let me = ctx.conn;
    ctx.me_mut().account = Some(name.into());
    ctx.env
        .accounts
        .add_session(&irc_lower(name), me, ctx.world);
    let line = ctx
        .numeric(RPL_LOGGEDIN)
        .param(&mask(ctx.me()))
        .param(name)
        .trailing(&format!("You are now logged in as {name}"))
        .build();
    ctx.send(line);
    account_notify(ctx, me, name);
    log::info!(
        "{} ({}) logged in to account {name} via {via}",
        ctx.me().target(),
        ctx.me().host()
    );
    if oper {
        if ctx.me().registered {
            make_oper(ctx);
        } else {
            ctx.me_mut().auth_mut().oper_on_register = true;
        }
    }
}

/// Logs connection `id` out of its account, if it is logged in: 901 to it
/// and account-notify to those who share a channel with it.
pub fn logout(ctx: &mut Ctx, id: ConnId) {
    let Some(c) = ctx.world.client_mut(id) else {
        return;
    };
    let Some(name) = c.account.take() else {
        return;
    };
    if let Some(a) = c.auth.as_mut() {
        a.oper_on_register = false;
    }
    let (target, mask) = (c.target().to_string(), mask(c));
    ctx.env
        .accounts
        .remove_session(&irc_lower(&name), id, ctx.world);
    let line = ctx
        .server_line(RPL_LOGGEDOUT)
        .param(&target)
        .param(&mask)
        .trailing("You are now logged out")
        .build();
    ctx.send_to(id, line);
    account_notify(ctx, id, "*");
    log::info!("{target} logged out of account {name}");
}

/// `ACCOUNT <name>` (or `*`) to everyone with account-notify who shares a
/// channel with `id`, and to `id` itself if it asked for it.
fn account_notify(ctx: &mut Ctx, id: ConnId, value: &str) {
    let Some(c) = ctx.world.client(id).filter(|c| c.registered) else {
        return;
    };
    let prefix = c.prefix();
    let mut targets = ctx.world.peers(id);
    targets.push(id);
    targets.retain(|t| {
        ctx.world
            .client(*t)
            .is_some_and(|c| c.caps.has(Caps::ACCOUNT_NOTIFY))
    });
    let relay = Relay {
        source: &prefix,
        command: "ACCOUNT",
        params: &[value],
        text: None,
        client_tags: None,
    };
    ctx.relay(&targets, &relay, false);
}

/// Operator status from an operator account.
fn make_oper(ctx: &mut Ctx) {
    let me = ctx.conn;
    if ctx.me().is_oper() {
        return;
    }
    ctx.world.set_user_mode(me, UserModes::OPER, true);
    ctx.num(RPL_YOUREOPER, &["You are now an IRC operator"]);
    // As with OPER: operators are not held back by flood control.
    ctx.out.push(crate::bus::Out::FloodExempt(me));
    let nick = ctx.me().nick.to_string();
    let line = crate::protocol::LineBuilder::new(Some(&nick), "MODE")
        .param(&nick)
        .trailing("+o")
        .build();
    ctx.send(line);
    log::info!("{nick} is now an operator (operator account)");
}

/// What creating an account came to.
#[derive(Debug)]
pub enum Created {
    Ok,
    Exists,
    Unavailable,
}

/// Creates account `name` on the pool (hashing `password` there), then runs
/// `done` on this connection's worker. Registration waits meanwhile.
pub fn create_account(
    ctx: &mut Ctx,
    name: &str,
    email: Option<String>,
    password: String,
    done: impl FnOnce(&mut Ctx, Created) + Send + 'static,
) {
    ctx.me_mut().auth_mut().pending = true;
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    let name = name.to_string();
    ctx.env.accounts.spawn(move |acc| {
        let hash = password::hash(&password);
        drop(password);
        let key = irc_lower(&name);
        let now = unix_now() as i64;
        let created = match acc
            .db(|db| store::create_account(db, &name, &key, &hash, email.as_deref(), now))
        {
            Ok(Some(_)) => {
                acc.note_account(&key);
                Created::Ok
            }
            Ok(None) => Created::Exists,
            Err(e) => {
                log::error!("database: creating account {name:?}: {e}");
                Created::Unavailable
            }
        };
        if matches!(created, Created::Ok) {
            log::info!("account {name} registered");
        }
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| {
                ctx.me_mut().auth_mut().pending = false;
                done(ctx, created);
                try_register(ctx);
            }),
        );
    });
}

/// Why `email` is not acceptable, if it is not.
pub fn bad_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return true;
    };
    local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `REGISTER <account> <email> <password>` (IRCv3 draft/account-registration).
pub fn register(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 3).is_none() {
        return;
    }
    let (account, email, pass) = (msg.params()[0], msg.params()[1], msg.params()[2]);
    let fail = |ctx: &mut Ctx, code: &str, acct: &str, text: &str| {
        let line = ctx
            .server_line("FAIL")
            .param("REGISTER")
            .param(code)
            .param(acct)
            .trailing(text)
            .build();
        ctx.send(line);
    };
    if let Some(a) = ctx.me().account.as_deref() {
        let a = a.to_string();
        return fail(
            ctx,
            "ALREADY_AUTHENTICATED",
            &a,
            "You are already logged in",
        );
    }
    if ctx.me().auth_pending() {
        return fail(ctx, "TEMPORARILY_UNAVAILABLE", account, "Please wait");
    }
    let nick = ctx.me().nick.to_string();
    let name = if account == "*" {
        if nick.is_empty() {
            return fail(ctx, "NEED_NICK", "*", "You must choose a nickname first");
        }
        nick.clone()
    } else {
        account.to_string()
    };
    if !valid_nick(&name, ctx.env.config.nicklen) || is_service(&name) {
        return fail(
            ctx,
            "BAD_ACCOUNT_NAME",
            &name,
            "That account name is not valid",
        );
    }
    if !nick.is_empty() && !irc_eq(&nick, &name) {
        return fail(
            ctx,
            "ACCOUNT_NAME_MUST_BE_NICK",
            &name,
            "The account name must be your current nickname",
        );
    }
    let email = match email {
        "*" => None,
        e if bad_email(e) => {
            return fail(
                ctx,
                "INVALID_EMAIL",
                &name,
                "That email address is not valid",
            )
        }
        e => Some(e.to_string()),
    };
    if let Err(why) = password::check_new(pass) {
        let code = if pass.chars().count() < password::MIN_PASSWORD {
            "WEAK_PASSWORD"
        } else {
            "UNACCEPTABLE_PASSWORD"
        };
        return fail(ctx, code, &name, why);
    }
    create_account(
        ctx,
        &name.clone(),
        email,
        pass.to_string(),
        move |ctx, created| match created {
            Created::Ok => {
                let line = ctx
                    .server_line("REGISTER")
                    .param("SUCCESS")
                    .param(&name)
                    .trailing("Account successfully registered")
                    .build();
                ctx.send(line);
                let oper = ctx.env.accounts.config_oper(&irc_lower(&name));
                login(ctx, &name, oper, "REGISTER");
            }
            Created::Exists => fail(ctx, "ACCOUNT_EXISTS", &name, "Account already exists"),
            Created::Unavailable => fail(
                ctx,
                "TEMPORARILY_UNAVAILABLE",
                &name,
                "Accounts are unavailable, try again later",
            ),
        },
    );
}

/// `PASS account:password` when the server has no password of its own. A
/// wrong password refuses the connection, as a wrong server password would.
pub fn pass_login(ctx: &mut Ctx, value: &str) {
    let Some((account, pass)) = value.split_once(':') else {
        return;
    };
    if account.is_empty() || ctx.me().account.is_some() || ctx.me().auth_pending() {
        return;
    }
    check_password(
        ctx,
        account,
        pass.to_string(),
        "PASS",
        |ctx, outcome| match outcome {
            Outcome::Ok { name, oper } => login(ctx, &name, oper, "PASS"),
            _ => ctx.me_mut().pass_ok = false,
        },
    );
}

/// Called once registration has completed.
pub fn registered(ctx: &mut Ctx) {
    if let Some(a) = ctx.me_mut().auth.as_mut() {
        if std::mem::take(&mut a.oper_on_register) {
            make_oper(ctx);
        }
    }
    check_nick(ctx);
}

/// Called after a registered client changed its nick.
pub fn nick_changed(ctx: &mut Ctx) {
    check_nick(ctx);
}

/// Starts the grace period if this client's nick is a registered account it
/// is not logged in to.
fn check_nick(ctx: &mut Ctx) {
    // Any earlier grace period was for another nick (or an older use of this one).
    if let Some(a) = ctx.me_mut().auth.as_mut() {
        a.enforce_seq = a.enforce_seq.wrapping_add(1);
    }
    let grace = ctx.env.accounts.grace();
    if grace.is_zero() {
        return;
    }
    let nick = ctx.me().nick.to_string();
    let key = irc_lower(&nick);
    if ctx.me().logged_in_as(&key) || !ctx.env.accounts.has_account(&key) {
        return;
    }
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let exists = acc
            .db(|db| store::account_exists(db, &key))
            .unwrap_or_else(|e| {
                log::error!("database: {e}");
                false
            });
        if exists {
            resumer.resume(conn, Box::new(move |ctx: &mut Ctx| start_grace(ctx, nick)));
        }
    });
}

fn start_grace(ctx: &mut Ctx, nick: String) {
    if !irc_eq(&ctx.me().nick, &nick) || ctx.me().logged_in_as(&irc_lower(&nick)) {
        return;
    }
    let grace = ctx.env.accounts.grace();
    let auth = ctx.me_mut().auth_mut();
    auth.enforce_seq = auth.enforce_seq.wrapping_add(1);
    let seq = auth.enforce_seq;
    notice(
        ctx,
        NICKSERV,
        &format!(
            "This nickname is registered. Please identify with /msg NickServ IDENTIFY <password> within {} seconds, or your nick will be changed.",
            grace.as_secs()
        ),
    );
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env
        .accounts
        .timer()
        .at(Instant::now() + grace, move || {
            resumer.resume(
                conn,
                Box::new(move |ctx: &mut Ctx| enforce(ctx, &nick, seq)),
            );
        });
}

/// The grace period is over: rename the client if it still holds `nick`
/// without being logged in to it.
fn enforce(ctx: &mut Ctx, nick: &str, seq: u32) {
    let me = ctx.me();
    if me.auth.as_ref().map(|a| a.enforce_seq) != Some(seq)
        || !irc_eq(&me.nick, nick)
        || me.logged_in_as(&irc_lower(nick))
    {
        return;
    }
    let guest = loop {
        let g = format!("Guest{:05}", OsRng.next_u32() % 100_000);
        if ctx.world.find_nick(&g).is_none() {
            break g;
        }
    };
    notice(
        ctx,
        NICKSERV,
        &format!("You did not identify for {nick} in time; your nick is now {guest}."),
    );
    log::info!("nick enforcement: {nick} renamed to {guest}");
    force_nick(ctx, &guest);
}

/// Renames this client, telling it and everyone who shares a channel with
/// it, and cancels any nick enforcement under way for the old nick.
pub fn force_nick(ctx: &mut Ctx, new: &str) {
    super::registration::rename(ctx, new);
    if let Some(a) = ctx.me_mut().auth.as_mut() {
        a.enforce_seq = a.enforce_seq.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(!bad_email("a@b.c"));
        assert!(bad_email("ab.c"));
        assert!(bad_email("a@b@c"));
        assert!(bad_email("a @b"));
        assert!(bad_email("@b"));
    }
}

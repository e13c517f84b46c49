//! NickServ: accounts through private messages, as on most networks.
//! `/msg NickServ REGISTER <password> [email]`, `IDENTIFY [account] <password>`,
//! `INFO [nick]`, `LOGOUT`, `SESSIONS`, `SET PASSWORD <new>`, `DROP <password>`,
//! `OPER <account> ON|OFF` (operators), `HELP`. Replies are NOTICEs.

use super::account::{
    bad_email, check_password, create_account, is_service, login, logout, notice, words, Created,
    Outcome, NICKSERV,
};
use super::registration::valid_nick;
use super::Ctx;
use crate::accounts::{password, store};
use crate::protocol::irc_lower;

const HELP: &[&str] = &[
    "NickServ lets you own your nickname as an account.",
    "  REGISTER <password> [email]   register your current nick as an account",
    "  IDENTIFY [account] <password> log in (SASL and PASS account:password work too)",
    "  INFO [nick]                   show what is known about an account",
    "  LOGOUT                        log this connection out",
    "  SESSIONS                      list the connections logged in to your account",
    "  SET PASSWORD <new password>   change your password",
    "  DROP <password>               delete your account and its channels",
    "  OPER <account> ON|OFF         (operators) grant or remove the operator flag",
    "End of help.",
];

fn say(ctx: &mut Ctx, text: &str) {
    notice(ctx, NICKSERV, text);
}

const UNAVAILABLE: &str = "Accounts are unavailable right now, please try again later.";

pub fn command(ctx: &mut Ctx, args: &[&str]) {
    let w = words(args);
    let Some(cmd) = w.first().map(|c| c.to_ascii_uppercase()) else {
        return say(ctx, "Use /msg NickServ HELP for a list of commands.");
    };
    let rest = &w[1..];
    match cmd.as_str() {
        "HELP" => {
            for line in HELP {
                say(ctx, line);
            }
        }
        "REGISTER" => register(ctx, rest),
        "IDENTIFY" | "LOGIN" => identify(ctx, rest),
        "INFO" => info(ctx, rest),
        "LOGOUT" => {
            if ctx.me().account.is_none() {
                return say(ctx, "You are not logged in.");
            }
            logout(ctx, ctx.conn);
            say(ctx, "You have been logged out.");
        }
        "SESSIONS" => sessions(ctx),
        "SET" => set(ctx, rest),
        "DROP" => drop_account(ctx, rest),
        "OPER" => oper(ctx, rest),
        _ => say(
            ctx,
            &format!("Unknown command {cmd}. Use /msg NickServ HELP for a list of commands."),
        ),
    }
}

fn register(ctx: &mut Ctx, args: &[&str]) {
    let Some(&pass) = args.first() else {
        return say(ctx, "Syntax: REGISTER <password> [email]");
    };
    if let Some(a) = ctx.me().account.as_deref() {
        let text = format!("You are already logged in as {a}.");
        return say(ctx, &text);
    }
    let nick = ctx.me().nick.to_string();
    if !valid_nick(&nick, ctx.env.config.nicklen) || is_service(&nick) {
        return say(ctx, "Your nick cannot be registered.");
    }
    let email = match args.get(1) {
        Some(e) if bad_email(e) => return say(ctx, "That email address is not valid."),
        e => e.map(|e| e.to_string()),
    };
    if let Err(why) = password::check_new(pass) {
        return say(ctx, why);
    }
    if ctx.me().auth_pending() {
        return say(ctx, "Please wait for your last request to finish.");
    }
    create_account(
        ctx,
        &nick.clone(),
        email,
        pass.to_string(),
        move |ctx, created| match created {
            Created::Ok => {
                let oper = ctx.env.accounts.config_oper(&irc_lower(&nick));
                login(ctx, &nick, oper, "NickServ REGISTER");
                say(
                    ctx,
                    &format!("Account {nick} registered. You are now logged in."),
                );
            }
            Created::Exists => say(ctx, &format!("{nick} is already registered.")),
            Created::Unavailable => say(ctx, UNAVAILABLE),
        },
    );
}

fn identify(ctx: &mut Ctx, args: &[&str]) {
    let (account, pass) = match args {
        [pass] => (ctx.me().nick.to_string(), *pass),
        [account, pass, ..] => (account.to_string(), *pass),
        [] => return say(ctx, "Syntax: IDENTIFY [account] <password>"),
    };
    if let Some(a) = ctx.me().account.as_deref() {
        let text = format!("You are already logged in as {a}.");
        return say(ctx, &text);
    }
    if ctx.me().auth_pending() {
        return say(ctx, "Please wait for your last request to finish.");
    }
    check_password(
        ctx,
        &account.clone(),
        pass.to_string(),
        "NickServ",
        move |ctx, o| match o {
            Outcome::Ok { name, oper } => {
                login(ctx, &name, oper, "NickServ IDENTIFY");
                say(ctx, &format!("You are now identified for {name}."));
            }
            Outcome::Bad => say(ctx, &format!("Invalid password for {account}.")),
            Outcome::Throttled(s) => say(
                ctx,
                &format!("Too many failed logins. Please wait {s} seconds before trying again."),
            ),
            Outcome::Unavailable => say(ctx, UNAVAILABLE),
        },
    );
}

fn info(ctx: &mut Ctx, args: &[&str]) {
    let asked = args
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| ctx.me().nick.to_string());
    // An online nick shows the account it is logged in to; otherwise the
    // name is taken as an account name.
    let account = ctx
        .world
        .find_nick(&asked)
        .and_then(|id| ctx.world.client(id)?.account.as_deref().map(str::to_string))
        .unwrap_or_else(|| asked.clone());
    let key = irc_lower(&account);
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let row = acc.db(|db| store::account(db, &key));
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match row {
                Ok(Some(r)) => {
                    let mine = ctx.me().logged_in_as(&key);
                    let sessions = ctx.env.accounts.sessions(&key, ctx.world).len();
                    let registered = humantime::format_rfc3339_seconds(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(r.created as u64),
                    );
                    say(ctx, &format!("Information on {}:", r.name));
                    say(ctx, &format!("Registered: {registered}"));
                    say(ctx, &format!("Logged in from: {sessions} connection(s)"));
                    if let (true, Some(e)) = (mine, &r.email) {
                        say(ctx, &format!("Email: {e}"));
                    }
                    if r.oper || ctx.env.accounts.config_oper(&key) {
                        say(ctx, "Operator: yes");
                    }
                    say(ctx, "End of info.");
                }
                Ok(None) => say(ctx, &format!("{asked} is not registered.")),
                Err(e) => {
                    log::error!("database: {e}");
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

fn sessions(ctx: &mut Ctx) {
    let Some(account) = ctx.me().account.as_deref().map(str::to_string) else {
        return say(ctx, "You are not logged in.");
    };
    let ids = ctx.env.accounts.sessions(&irc_lower(&account), ctx.world);
    say(
        ctx,
        &format!("{} session(s) logged in to {account}:", ids.len()),
    );
    for (i, id) in ids.iter().enumerate() {
        let Some(c) = ctx.world.client(*id) else {
            continue;
        };
        let this = if *id == ctx.conn { " (this one)" } else { "" };
        let line = format!("{}: {} from {}{this}", i + 1, c.target(), c.host());
        say(ctx, &line);
    }
    say(ctx, "End of sessions.");
}

fn set(ctx: &mut Ctx, args: &[&str]) {
    match args {
        [what, new, ..] if what.eq_ignore_ascii_case("PASSWORD") => set_password(ctx, new),
        _ => say(ctx, "Syntax: SET PASSWORD <new password>"),
    }
}

fn set_password(ctx: &mut Ctx, new: &str) {
    let Some(account) = ctx.me().account.as_deref().map(str::to_string) else {
        return say(ctx, "You are not logged in.");
    };
    if let Err(why) = password::check_new(new) {
        return say(ctx, why);
    }
    let (conn, resumer, new) = (ctx.conn, ctx.env.resumer.clone(), new.to_string());
    ctx.env.accounts.spawn(move |acc| {
        let hash = password::hash(&new);
        drop(new);
        let done = acc.db(|db| store::set_password(db, &irc_lower(&account), &hash));
        if let Ok(true) = done {
            log::info!("account {account}: password changed");
        }
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match done {
                Ok(true) => say(ctx, "Your password has been changed."),
                Ok(false) => say(ctx, "Your account no longer exists."),
                Err(e) => {
                    log::error!("database: {e}");
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

fn drop_account(ctx: &mut Ctx, args: &[&str]) {
    let Some(account) = ctx.me().account.as_deref().map(str::to_string) else {
        return say(ctx, "You are not logged in.");
    };
    let Some(&pass) = args.first() else {
        return say(ctx, "Syntax: DROP <password>");
    };
    check_password(
        ctx,
        &account.clone(),
        pass.to_string(),
        "NickServ DROP",
        move |ctx, o| {
            match o {
                Outcome::Ok { .. } => {}
                Outcome::Bad => return say(ctx, &format!("Invalid password for {account}.")),
                Outcome::Throttled(s) => {
                    return say(
                        ctx,
                        &format!(
                            "Too many failed logins. Please wait {s} seconds before trying again."
                        ),
                    )
                }
                Outcome::Unavailable => return say(ctx, UNAVAILABLE),
            }
            let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
            ctx.env.accounts.spawn(move |acc| {
                let key = irc_lower(&account);
                let dropped = acc.db(|db| store::drop_account(db, &key));
                if let Ok(Some(_)) = dropped {
                    acc.forget_account(&key);
                }
                resumer.resume(
                    conn,
                    Box::new(move |ctx: &mut Ctx| match dropped {
                        Ok(Some(channels)) => {
                            for ch in &channels {
                                ctx.env.accounts.remove_channel(ch);
                            }
                            for id in ctx.env.accounts.sessions(&key, ctx.world) {
                                logout(ctx, id);
                            }
                            log::info!(
                                "account {account} dropped with {} channel(s)",
                                channels.len()
                            );
                            say(ctx, &format!("Account {account} has been dropped."));
                        }
                        Ok(None) => say(ctx, "Your account no longer exists."),
                        Err(e) => {
                            log::error!("database: {e}");
                            say(ctx, UNAVAILABLE)
                        }
                    }),
                );
            });
        },
    );
}

fn oper(ctx: &mut Ctx, args: &[&str]) {
    if !ctx.me().is_oper() {
        return say(ctx, "Only IRC operators may do that.");
    }
    let (account, on) = match args {
        [a, v] if v.eq_ignore_ascii_case("ON") => (a.to_string(), true),
        [a, v] if v.eq_ignore_ascii_case("OFF") => (a.to_string(), false),
        _ => return say(ctx, "Syntax: OPER <account> ON|OFF"),
    };
    let by = ctx.me().nick.to_string();
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let done = acc.db(|db| store::set_oper(db, &irc_lower(&account), on));
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match done {
                Ok(true) => {
                    let state = if on { "now" } else { "no longer" };
                    log::info!("{by} set the operator flag of {account} to {on}");
                    say(ctx, &format!("{account} is {state} an operator account."));
                }
                Ok(false) => say(ctx, &format!("{account} is not registered.")),
                Err(e) => {
                    log::error!("database: {e}");
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

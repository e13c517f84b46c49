//! Connection registration: CAP negotiation, PASS, NICK, USER, the welcome
//! burst (001-005, LUSERS, MOTD), and nick changes after registration.

use super::{need_params, unix_now, Ctx, Relay, VERSION};
use crate::bus::Out;
use crate::protocol::{irc_eq, numeric::*, LineBuilder, Message};
use crate::state::Caps;

/// Commands a connection may send before it has registered.
pub fn allowed_before_registration(command: &str) -> bool {
    matches!(
        command,
        "CAP" | "PASS" | "NICK" | "USER" | "PING" | "PONG" | "QUIT" | "AUTHENTICATE" | "REGISTER"
    )
}

pub fn cap(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    let sub = msg.params()[0].to_ascii_uppercase();
    let registered = ctx.me().registered;
    let cap_line =
        |ctx: &Ctx, sub: &str| ctx.server_line("CAP").param(ctx.me().target()).param(sub);
    match sub.as_str() {
        "LS" => {
            if !registered {
                ctx.me_mut().cap_negotiating = true;
            }
            let v302 = msg
                .param(1)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
                >= 302;
            if v302 {
                // CAP LS 302 enables cap-notify implicitly.
                ctx.me_mut().caps.set(Caps::CAP_NOTIFY, true);
            }
            let names: Vec<String> = Caps::ALL
                .iter()
                .map(|&(n, c)| match Caps::ls_value(c).filter(|_| v302) {
                    Some(v) => format!("{n}={v}"),
                    None => n.to_string(),
                })
                .collect();
            let line = cap_line(ctx, "LS").trailing(&names.join(" ")).build();
            ctx.send(line);
        }
        "LIST" => {
            let names = ctx.me().caps.names();
            let line = cap_line(ctx, "LIST").trailing(&names).build();
            ctx.send(line);
        }
        "REQ" => {
            if !registered {
                ctx.me_mut().cap_negotiating = true;
            }
            let requested = msg.param(1).unwrap_or("");
            let mut caps = ctx.me().caps;
            let mut ok = !requested.trim().is_empty();
            for word in requested.split_whitespace() {
                let (name, on) = match word.strip_prefix('-') {
                    Some(n) => (n, false),
                    None => (word, true),
                };
                match Caps::by_name(name) {
                    Some(c) => caps.set(c, on),
                    None => ok = false,
                }
            }
            let verdict = if ok { "ACK" } else { "NAK" };
            if ok {
                ctx.me_mut().caps = caps;
            }
            let line = cap_line(ctx, verdict).trailing(requested).build();
            ctx.send(line);
        }
        "END" => {
            if !registered {
                super::sasl::abort_unfinished(ctx);
                ctx.me_mut().cap_negotiating = false;
                try_register(ctx);
            }
        }
        _ => ctx.num("410", &[&sub, "Invalid CAP command"]),
    }
}

pub fn pass(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    if ctx.me().registered {
        return ctx.num(ERR_ALREADYREGISTERED, &["You may not reregister"]);
    }
    let ok = match &ctx.env.config.password {
        Some(expected) => constant_time_eq(expected.as_bytes(), msg.params()[0].as_bytes()),
        // Without a server password, `PASS account:password` logs in.
        None => return super::account::pass_login(ctx, msg.params()[0]),
    };
    ctx.me_mut().pass_ok = ok;
}

/// Compares secrets without an early exit, so timing says nothing about them.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).unwrap_or(&0) ^ b.get(i).unwrap_or(&0);
    }
    diff == 0
}

/// Nick rules: a letter or special first, then letters, digits, specials or
/// '-', at most NICKLEN.
pub fn valid_nick(nick: &str, max: usize) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = nick.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || special(c) => {}
        _ => return false,
    }
    nick.len() <= max && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

pub fn nick(ctx: &mut Ctx, msg: &Message) {
    let Some(new) = msg.param(0).filter(|n| !n.is_empty()) else {
        return ctx.num(ERR_NONICKNAMEGIVEN, &["No nickname given"]);
    };
    if !valid_nick(new, ctx.env.config.nicklen) || super::account::is_service(new) {
        return ctx.num(ERR_ERRONEUSNICKNAME, &[new, "Erroneous nickname"]);
    }
    let me = ctx.conn;
    let old = ctx.me().nick.to_string();
    if old == new {
        return;
    }
    if let Some(holder) = ctx.world.find_nick(new) {
        if holder != me {
            return ctx.num(ERR_NICKNAMEINUSE, &[new, "Nickname is already in use"]);
        }
    }
    if !ctx.me().registered {
        ctx.world.set_nick(me, new);
        return try_register(ctx);
    }
    rename(ctx, new);
    debug_assert!(irc_eq(&ctx.me().nick, new));
    super::account::nick_changed(ctx);
}

/// Renames a registered client, telling it and everyone who shares a
/// channel with it.
pub fn rename(ctx: &mut Ctx, new: &str) {
    let me = ctx.conn;
    let prefix = ctx.me().prefix();
    ctx.world.set_nick(me, new);
    let mut targets = ctx.world.peers(me);
    targets.push(me);
    let relay = Relay {
        source: &prefix,
        command: "NICK",
        params: &[],
        text: Some(new),
        client_tags: None,
    };
    ctx.relay(&targets, &relay, false);
}

pub fn user(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 4).is_none() {
        return;
    }
    if ctx.me().registered || !ctx.me().user().is_empty() {
        return ctx.num(ERR_ALREADYREGISTERED, &["You may not reregister"]);
    }
    // No ident lookup is done, so the username is marked unverified with '~'.
    let clean: String = msg.params()[0]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(9)
        .collect();
    let user = if clean.is_empty() {
        "~user".to_string()
    } else {
        format!("~{clean}")
    };
    let realname: String = msg.params()[3].chars().take(100).collect();
    ctx.me_mut().set_ident(&user, &realname);
    try_register(ctx);
}

/// Completes registration once NICK, USER and any CAP negotiation are done.
pub fn try_register(ctx: &mut Ctx) {
    let me = ctx.me();
    if me.registered
        || me.nick.is_empty()
        || me.user().is_empty()
        || me.cap_negotiating
        || me.auth_pending()
    {
        return;
    }
    if !me.pass_ok {
        ctx.num(ERR_PASSWDMISMATCH, &["Password incorrect"]);
        let line = LineBuilder::new(None, "ERROR")
            .trailing("Bad password")
            .build();
        super::user::depart(ctx, ctx.conn, "Bad password");
        ctx.out.push(Out::Close(ctx.conn, line));
        return;
    }
    ctx.world.mark_registered(ctx.conn, unix_now());
    ctx.out.push(Out::Registered(ctx.conn));
    welcome(ctx);
    super::account::registered(ctx);
}

fn welcome(ctx: &mut Ctx) {
    let env = ctx.env;
    let cfg = &env.config;
    let (nick, prefix) = (ctx.me().nick.to_string(), ctx.me().prefix());
    ctx.num(
        RPL_WELCOME,
        &[&format!(
            "Welcome to the {} IRC Network, {prefix}",
            cfg.network
        )],
    );
    ctx.num(
        RPL_YOURHOST,
        &[&format!(
            "Your host is {}, running version {VERSION}",
            cfg.server_name
        )],
    );
    ctx.num(
        RPL_CREATED,
        &[&format!("This server was created {}", env.created)],
    );
    let myinfo = ctx
        .numeric(RPL_MYINFO)
        .param(&cfg.server_name)
        .param(VERSION)
        .param("iow")
        .param("biklmnotv")
        .param("bklov")
        .build();
    ctx.send(myinfo);
    send_isupport(ctx);
    lusers(ctx);
    motd(ctx);
    log::info!("registered {nick} ({prefix})");
}

/// 005 lines.
pub fn send_isupport(ctx: &mut Ctx) {
    for tokens in &ctx.env.isupport {
        let mut b = ctx.numeric(RPL_ISUPPORT);
        for t in tokens.split(' ') {
            b.push_param(t);
        }
        let line = b.trailing("are supported by this server").build();
        ctx.send(line);
    }
}

pub fn lusers(ctx: &mut Ctx) {
    let c = ctx.world.counts;
    let unknown = ctx.world.unregistered();
    let channels = ctx.world.channels.len();
    let visible = c.registered - c.invisible;
    ctx.num(
        RPL_LUSERCLIENT,
        &[&format!(
            "There are {visible} users and {} invisible on 1 servers",
            c.invisible
        )],
    );
    if c.opers > 0 {
        ctx.num(RPL_LUSEROP, &[&c.opers.to_string(), "operator(s) online"]);
    }
    if unknown > 0 {
        ctx.num(
            RPL_LUSERUNKNOWN,
            &[&unknown.to_string(), "unknown connection(s)"],
        );
    }
    ctx.num(
        RPL_LUSERCHANNELS,
        &[&channels.to_string(), "channels formed"],
    );
    ctx.num(
        RPL_LUSERME,
        &[&format!("I have {} clients and 0 servers", c.registered)],
    );
    let (n, max) = (c.registered.to_string(), c.max_registered.to_string());
    ctx.num(
        RPL_LOCALUSERS,
        &[&n, &max, &format!("Current local users {n}, max {max}")],
    );
    ctx.num(
        RPL_GLOBALUSERS,
        &[&n, &max, &format!("Current global users {n}, max {max}")],
    );
}

pub fn motd(ctx: &mut Ctx) {
    let env = ctx.env;
    if env.motd.is_empty() {
        return ctx.num(ERR_NOMOTD, &["MOTD File is missing"]);
    }
    ctx.num(
        RPL_MOTDSTART,
        &[&format!(
            "- {} Message of the day - ",
            env.config.server_name
        )],
    );
    for line in &env.motd {
        ctx.num(RPL_MOTD, &[&format!("- {line}")]);
    }
    ctx.num(RPL_ENDOFMOTD, &["End of /MOTD command."]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_rules() {
        assert!(valid_nick("alice", 30));
        assert!(valid_nick("[x]-1", 30));
        assert!(!valid_nick("1abc", 30));
        assert!(!valid_nick("-a", 30));
        assert!(!valid_nick("a b", 30));
        assert!(!valid_nick("a,b", 30));
        assert!(!valid_nick("abcdef", 5));
        assert!(!valid_nick("", 30));
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}

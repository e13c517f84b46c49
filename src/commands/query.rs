//! Questions about users and the server: WHO, WHOIS, ISON, USERHOST, VERSION,
//! TIME. Read-only.

use std::time::SystemTime;

use super::{registration::send_isupport, unix_now, Ctx, VERSION};
use crate::bus::ConnId;
use crate::protocol::{numeric::*, Message};
use crate::state::{Caps, UserModes};

/// `H`/`G` (here/gone), `*` for operators, then the channel prefix.
fn who_flags(ctx: &Ctx, id: ConnId, channel_prefix: &str) -> String {
    let Some(c) = ctx.world.client(id) else {
        return String::new();
    };
    let mut f = String::from(if c.away.is_some() { "G" } else { "H" });
    if c.is_oper() {
        f.push('*');
    }
    f.push_str(channel_prefix);
    f
}

pub fn who(ctx: &mut Ctx, msg: &Message) {
    let mask = msg.param(0).filter(|m| !m.is_empty()).unwrap_or("*");
    let all_prefixes = ctx.me().caps.has(Caps::MULTI_PREFIX);
    let rows: Vec<(ConnId, String, String)> = if let Some(ch) = ctx.world.channel(mask) {
        // Invisible users are listed only to people in the channel with them.
        let member = ch.members.contains_key(&ctx.conn);
        let world = &*ctx.world;
        let mut rows: Vec<_> = ch
            .members
            .iter()
            .filter(|(id, _)| {
                member
                    || world
                        .client(**id)
                        .is_some_and(|c| !c.modes.has(UserModes::INVISIBLE))
            })
            .map(|(id, st)| {
                (
                    *id,
                    ch.name.to_string(),
                    st.prefixes(all_prefixes).to_string(),
                )
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.0);
        rows
    } else if let Some(id) = ctx.world.find_nick(mask) {
        vec![(id, "*".to_string(), String::new())]
    } else {
        // Masks that would need a scan of every user answer with no rows.
        Vec::new()
    };
    let server = ctx.server_name().to_string();
    for (id, chan, prefix) in rows {
        let flags = who_flags(ctx, id, &prefix);
        let Some(c) = ctx.world.client(id) else {
            continue;
        };
        let (user, host, nick, real) = (
            c.user().to_string(),
            c.host(),
            c.nick.to_string(),
            c.realname().to_string(),
        );
        ctx.num(
            RPL_WHOREPLY,
            &[
                &chan,
                &user,
                &host,
                &server,
                &nick,
                &flags,
                &format!("0 {real}"),
            ],
        );
    }
    ctx.num(RPL_ENDOFWHO, &[mask, "End of /WHO list"]);
}

pub fn whois(ctx: &mut Ctx, msg: &Message) {
    // WHOIS [server] nick: the server argument names this server anyway.
    let Some(nick) = msg.params().last().filter(|n| !n.is_empty()) else {
        return ctx.num(ERR_NONICKNAMEGIVEN, &["No nickname given"]);
    };
    let nick = nick.split(',').next().unwrap_or(nick);
    let Some(id) = ctx
        .world
        .find_nick(nick)
        .filter(|id| ctx.world.client(*id).is_some_and(|c| c.registered))
    else {
        ctx.num(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
        return ctx.num(RPL_ENDOFWHOIS, &[nick, "End of /WHOIS list"]);
    };
    let all_prefixes = ctx.me().caps.has(Caps::MULTI_PREFIX);
    let c = ctx.world.client(id).expect("found above");
    let (shown, user, host, real) = (
        c.nick.to_string(),
        c.user().to_string(),
        c.host(),
        c.realname().to_string(),
    );
    let (away, oper, secure, signon, idle) = (
        c.away.clone(),
        c.is_oper(),
        c.tls,
        c.signon,
        unix_now().saturating_sub(c.last_active.into()),
    );
    let chans: Vec<String> = c
        .channels
        .iter()
        .filter_map(|k| {
            let ch = ctx.world.channels.get(k)?;
            Some(format!(
                "{}{}",
                ch.status(id)?.prefixes(all_prefixes),
                ch.name
            ))
        })
        .collect();
    ctx.num(RPL_WHOISUSER, &[&shown, &user, &host, "*", &real]);
    if !chans.is_empty() {
        ctx.num(RPL_WHOISCHANNELS, &[&shown, &chans.join(" ")]);
    }
    let server = ctx.server_name().to_string();
    let network = ctx.env.config.network.clone();
    ctx.num(
        RPL_WHOISSERVER,
        &[&shown, &server, &format!("{network} server")],
    );
    if let Some(a) = away {
        ctx.num(RPL_AWAY, &[&shown, &a]);
    }
    if oper {
        ctx.num(RPL_WHOISOPERATOR, &[&shown, "is an IRC operator"]);
    }
    if secure {
        // RPL_WHOISSECURE
        ctx.num("671", &[&shown, "is using a secure connection"]);
    }
    if let Some(account) = ctx.world.client(id).and_then(|c| c.account.clone()) {
        ctx.num("330", &[&shown, &account, "is logged in as"]);
    }
    ctx.num(
        RPL_WHOISIDLE,
        &[
            &shown,
            &idle.to_string(),
            &signon.to_string(),
            "seconds idle, signon time",
        ],
    );
    ctx.num(RPL_ENDOFWHOIS, &[&shown, "End of /WHOIS list"]);
}

pub fn ison(ctx: &mut Ctx, msg: &Message) {
    if super::need_params(ctx, msg, 1).is_none() {
        return;
    }
    let online: Vec<String> = msg
        .params()
        .iter()
        .flat_map(|p| p.split(' '))
        .filter_map(|n| ctx.world.find_nick(n))
        .filter_map(|id| {
            ctx.world
                .client(id)
                .filter(|c| c.registered)
                .map(|c| c.nick.to_string())
        })
        .collect();
    ctx.num(RPL_ISON, &[&online.join(" ")]);
}

pub fn userhost(ctx: &mut Ctx, msg: &Message) {
    if super::need_params(ctx, msg, 1).is_none() {
        return;
    }
    let replies: Vec<String> = msg
        .params()
        .iter()
        .take(5)
        .filter_map(|n| ctx.world.find_nick(n))
        .filter_map(|id| ctx.world.client(id).filter(|c| c.registered))
        .map(|c| {
            let oper = if c.is_oper() { "*" } else { "" };
            let away = if c.away.is_some() { '-' } else { '+' };
            format!("{}{oper}={away}{}@{}", c.nick, c.user(), c.host())
        })
        .collect();
    ctx.num(RPL_USERHOST, &[&replies.join(" ")]);
}

pub fn version(ctx: &mut Ctx) {
    let server = ctx.server_name().to_string();
    ctx.num(RPL_VERSION, &[VERSION, &server, "parley IRC server"]);
    send_isupport(ctx);
}

pub fn time(ctx: &mut Ctx) {
    let server = ctx.server_name().to_string();
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    ctx.num(RPL_TIME, &[&server, &now]);
}

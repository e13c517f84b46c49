//! Channel membership and channel facts: JOIN, PART, TOPIC, NAMES, LIST, KICK,
//! INVITE.

use super::{need_params, unix_now, Ctx, Relay};
use crate::protocol::{irc_eq, numeric::*, Message};
use crate::state::{flag, mask::mask_matches, Caps, Status, Topic, UserModes};

/// Channel names: `#`, then no space, comma, BEL or colon, within CHANNELLEN.
pub fn valid_channel(name: &str, max: usize) -> bool {
    name.len() >= 2
        && name.len() <= max
        && name.starts_with('#')
        && !name.contains([' ', ',', '\x07', ':'])
}

pub fn join(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    if msg.params()[0] == "0" {
        let names: Vec<String> = ctx.me().channels.iter().map(|k| k.0.to_string()).collect();
        for name in names {
            leave(ctx, &name, "PART", None);
        }
        return;
    }
    let mut keys = msg.param(1).unwrap_or("").split(',');
    for name in msg.params()[0].split(',').filter(|n| !n.is_empty()) {
        let key = keys.next().filter(|k| !k.is_empty());
        join_one(ctx, name, key);
    }
}

fn join_one(ctx: &mut Ctx, name: &str, key: Option<&str>) {
    let cfg = &ctx.env.config;
    if !valid_channel(name, cfg.channellen) {
        return ctx.num(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
    }
    let me = ctx.conn;
    let client = ctx.me();
    if client.channels.iter().any(|k| irc_eq(&k.0, name)) {
        return;
    }
    if client.channels.len() >= cfg.max_channels_per_client {
        return ctx.num(
            ERR_TOOMANYCHANNELS,
            &[name, "You have joined too many channels"],
        );
    }
    if let Some(ch) = ctx.world.channel(name) {
        let invited = ch.is_invited(me);
        let prefix = client.prefix();
        let refusal = if ch.key.is_some() && ch.key.as_deref() != key {
            Some((ERR_BADCHANNELKEY, "Cannot join channel (+k)"))
        } else if ch.limit.is_some_and(|l| ch.members.len() >= l) {
            Some((ERR_CHANNELISFULL, "Cannot join channel (+l)"))
        } else if ch.has(flag::INVITE_ONLY) && !invited {
            Some((ERR_INVITEONLYCHAN, "Cannot join channel (+i)"))
        } else if !invited && ch.bans.iter().any(|b| mask_matches(&b.mask, &prefix)) {
            Some((ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"))
        } else {
            None
        };
        if let Some((code, text)) = refusal {
            let name = ch.name.to_string();
            return ctx.num(code, &[&name, text]);
        }
    }
    ctx.world.join(me, name, unix_now());
    let ch = ctx.world.channel(name).expect("just joined");
    let (chan_name, members): (String, Vec<_>) =
        (ch.name.to_string(), ch.members.keys().copied().collect());
    let prefix = ctx.me().prefix();
    let relay = Relay {
        source: &prefix,
        command: "JOIN",
        params: &[&chan_name],
        text: None,
        client_tags: None,
    };
    ctx.relay(&members, &relay, false);
    // Members who asked hear that the newcomer is away.
    if let Some(away) = ctx.me().away.clone() {
        super::user::notify_away(ctx, &members, Some(&away));
    }
    send_topic(ctx, &chan_name, false);
    send_names(ctx, &chan_name);
    super::chanserv::joined(ctx, &chan_name);
}

pub fn part(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    let reason = msg.param(1).filter(|r| !r.is_empty());
    for name in msg.params()[0].split(',').filter(|n| !n.is_empty()) {
        leave(ctx, name, "PART", reason);
    }
}

/// Takes this client out of a channel, telling every member (itself included).
fn leave(ctx: &mut Ctx, name: &str, command: &str, reason: Option<&str>) {
    let me = ctx.conn;
    let Some(ch) = ctx.world.channel(name) else {
        return ctx.num(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
    };
    if !ch.members.contains_key(&me) {
        let name = ch.name.to_string();
        return ctx.num(ERR_NOTONCHANNEL, &[&name, "You're not on that channel"]);
    }
    let chan_name = ch.name.to_string();
    let members: Vec<_> = ch.members.keys().copied().collect();
    let prefix = ctx.me().prefix();
    let relay = Relay {
        source: &prefix,
        command,
        params: &[&chan_name],
        text: reason,
        client_tags: None,
    };
    ctx.relay(&members, &relay, false);
    ctx.world.part(me, &chan_name);
}

pub fn topic(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    let Some((chan_name, status)) = find_channel(ctx, msg.params()[0]) else {
        return;
    };
    let Some(text) = msg.param(1) else {
        return send_topic(ctx, &chan_name, true);
    };
    let Some(status) = status else {
        return ctx.num(
            ERR_NOTONCHANNEL,
            &[&chan_name, "You're not on that channel"],
        );
    };
    let locked = ctx
        .world
        .channel(&chan_name)
        .is_some_and(|c| c.has(flag::TOPIC_LOCK));
    if locked && !status.is_op() {
        return ctx.num(
            ERR_CHANOPRIVSNEEDED,
            &[&chan_name, "You're not channel operator"],
        );
    }
    let text: String = text.chars().take(ctx.env.config.topiclen).collect();
    let prefix = ctx.me().prefix();
    let nick = ctx.me().nick.clone();
    let ch = ctx.world.channel_mut(&chan_name).expect("checked above");
    ch.topic = (!text.is_empty()).then(|| Topic {
        text: text.as_str().into(),
        setter: nick,
        time: unix_now(),
    });
    let members: Vec<_> = ch.members.keys().copied().collect();
    let relay = Relay {
        source: &prefix,
        command: "TOPIC",
        params: &[&chan_name],
        text: Some(&text),
        client_tags: None,
    };
    ctx.relay(&members, &relay, false);
    super::chanserv::changed(ctx, &chan_name);
}

/// A channel's proper name and this client's status in it (None when not a
/// member); with no such channel, answers 403 and gives None.
fn find_channel(ctx: &mut Ctx, name: &str) -> Option<(String, Option<Status>)> {
    let me = ctx.conn;
    match ctx.world.channel(name) {
        Some(ch) => Some((ch.name.to_string(), ch.status(me))),
        None => {
            ctx.num(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
            None
        }
    }
}

/// 332 + 333, or 331 when asked and there is none.
fn send_topic(ctx: &mut Ctx, chan_name: &str, reply_if_none: bool) {
    let topic = ctx.world.channel(chan_name).and_then(|c| c.topic.clone());
    match topic {
        Some(t) => {
            ctx.num(RPL_TOPIC, &[chan_name, &t.text]);
            let line = ctx
                .numeric(RPL_TOPICWHOTIME)
                .param(chan_name)
                .param(&t.setter)
                .param(&t.time.to_string())
                .build();
            ctx.send(line);
        }
        None if reply_if_none => ctx.num(RPL_NOTOPIC, &[chan_name, "No topic is set"]),
        None => {}
    }
}

pub fn names(ctx: &mut Ctx, msg: &Message) {
    match msg.param(0).filter(|p| !p.is_empty()) {
        Some(list) => {
            for name in list.split(',').filter(|n| !n.is_empty()) {
                match ctx.world.channel(name).map(|c| c.name.to_string()) {
                    Some(n) => send_names(ctx, &n),
                    None => ctx.num(RPL_ENDOFNAMES, &[name, "End of /NAMES list"]),
                }
            }
        }
        // Listing every channel would cost as much as the whole server.
        None => ctx.num(RPL_ENDOFNAMES, &["*", "End of /NAMES list"]),
    }
}

/// 353 lines (split to stay well under the line limit) and 366.
pub fn send_names(ctx: &mut Ctx, chan_name: &str) {
    let all_prefixes = ctx.me().caps.has(Caps::MULTI_PREFIX);
    let Some(ch) = ctx.world.channel(chan_name) else {
        return;
    };
    // Invisible users are listed only to people in the channel with them.
    let member = ch.members.contains_key(&ctx.conn);
    let mut entries: Vec<String> = ch
        .members
        .iter()
        .filter_map(|(id, st)| {
            let c = ctx.world.client(*id)?;
            if !member && c.modes.has(UserModes::INVISIBLE) {
                return None;
            }
            Some(format!("{}{}", st.prefixes(all_prefixes), c.nick))
        })
        .collect();
    entries.sort_unstable();
    let mut chunk = String::new();
    for e in entries {
        if !chunk.is_empty() && chunk.len() + e.len() + 1 > 400 {
            ctx.num(RPL_NAMREPLY, &["=", chan_name, &chunk]);
            chunk.clear();
        }
        if !chunk.is_empty() {
            chunk.push(' ');
        }
        chunk.push_str(&e);
    }
    if !chunk.is_empty() {
        ctx.num(RPL_NAMREPLY, &["=", chan_name, &chunk]);
    }
    ctx.num(RPL_ENDOFNAMES, &[chan_name, "End of /NAMES list"]);
}

pub fn list(ctx: &mut Ctx, msg: &Message) {
    ctx.num(RPL_LISTSTART, &["Channel", "Users  Name"]);
    let rows: Vec<(String, usize, String)> = match msg.param(0).filter(|p| !p.is_empty()) {
        Some(list) => list
            .split(',')
            .filter_map(|n| ctx.world.channel(n))
            .map(|c| (c.name.to_string(), c.members.len(), topic_text(c)))
            .collect(),
        None => ctx
            .world
            .channels
            .values()
            .map(|c| (c.name.to_string(), c.members.len(), topic_text(c)))
            .collect(),
    };
    for (name, count, topic) in rows {
        ctx.num(RPL_LIST, &[&name, &count.to_string(), &topic]);
    }
    ctx.num(RPL_LISTEND, &["End of /LIST"]);
}

fn topic_text(c: &crate::state::Channel) -> String {
    c.topic
        .as_ref()
        .map_or(String::new(), |t| t.text.to_string())
}

pub fn kick(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 2).is_none() {
        return;
    }
    let Some((chan_name, status)) = find_channel(ctx, msg.params()[0]) else {
        return;
    };
    match status {
        None => {
            return ctx.num(
                ERR_NOTONCHANNEL,
                &[&chan_name, "You're not on that channel"],
            )
        }
        Some(s) if !s.is_op() => {
            return ctx.num(
                ERR_CHANOPRIVSNEEDED,
                &[&chan_name, "You're not channel operator"],
            )
        }
        Some(_) => {}
    }
    let my_nick = ctx.me().nick.to_string();
    let reason: String = msg
        .param(2)
        .filter(|r| !r.is_empty())
        .unwrap_or(&my_nick)
        .chars()
        .take(ctx.env.config.kicklen)
        .collect();
    let prefix = ctx.me().prefix();
    for target in msg.params()[1].split(',').filter(|n| !n.is_empty()) {
        let victim = ctx.world.find_nick(target);
        let on_channel = victim
            .and_then(|v| ctx.world.channel(&chan_name)?.status(v))
            .is_some();
        let (Some(victim), true) = (victim, on_channel) else {
            if victim.is_none() {
                ctx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
            } else {
                ctx.num(
                    ERR_USERNOTINCHANNEL,
                    &[target, &chan_name, "They aren't on that channel"],
                );
            }
            continue;
        };
        let victim_nick = ctx
            .world
            .client(victim)
            .map(|c| c.nick.to_string())
            .unwrap_or_default();
        let members: Vec<_> = ctx
            .world
            .channel(&chan_name)
            .map(|c| c.members.keys().copied().collect())
            .unwrap_or_default();
        let relay = Relay {
            source: &prefix,
            command: "KICK",
            params: &[&chan_name, &victim_nick],
            text: Some(&reason),
            client_tags: None,
        };
        ctx.relay(&members, &relay, false);
        ctx.world.part(victim, &chan_name);
        if ctx.world.channel(&chan_name).is_none() {
            break;
        }
    }
}

pub fn invite(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 2).is_none() {
        return;
    }
    let me = ctx.conn;
    let (nick, name) = (msg.params()[0], msg.params()[1]);
    let Some(target) = ctx.world.find_nick(nick) else {
        return ctx.num(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
    };
    let target_nick = ctx
        .world
        .client(target)
        .map(|c| c.nick.to_string())
        .unwrap_or_default();
    let chan_name = match ctx.world.channel(name) {
        Some(ch) => {
            let chan_name = ch.name.to_string();
            match ch.status(me) {
                None => {
                    return ctx.num(
                        ERR_NOTONCHANNEL,
                        &[&chan_name, "You're not on that channel"],
                    )
                }
                Some(s) if ch.has(flag::INVITE_ONLY) && !s.is_op() => {
                    return ctx.num(
                        ERR_CHANOPRIVSNEEDED,
                        &[&chan_name, "You're not channel operator"],
                    )
                }
                Some(_) => {}
            }
            if ch.members.contains_key(&target) {
                return ctx.num(
                    ERR_USERONCHANNEL,
                    &[&target_nick, &chan_name, "is already on channel"],
                );
            }
            chan_name
        }
        None => return ctx.num(ERR_NOSUCHCHANNEL, &[name, "No such channel"]),
    };
    let ch = ctx.world.channel_mut(&chan_name).expect("checked above");
    ch.invite(target);
    let line = ctx
        .numeric(RPL_INVITING)
        .param(&target_nick)
        .param(&chan_name)
        .build();
    ctx.send(line);
    if let Some(away) = ctx.world.client(target).and_then(|c| c.away.clone()) {
        ctx.num(RPL_AWAY, &[&target_nick, &away]);
    }
    let prefix = ctx.me().prefix();
    let relay = Relay {
        source: &prefix,
        command: "INVITE",
        params: &[&target_nick, &chan_name],
        text: None,
        client_tags: None,
    };
    ctx.relay(&[target], &relay, false);
}

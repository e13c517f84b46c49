//! MODE for users (+i +w, -o) and channels (+o +v +t +n +m +i +k +l +b).

use super::{need_params, unix_now, Ctx, Relay};
use crate::protocol::{irc_eq, numeric::*, Message};
use crate::state::{flag, mask::normalize_mask, Ban, Status, UserModes};

/// Not in `protocol::numeric` yet: `<client> <channel> <char> :Channel list is full`.
const ERR_BANLISTFULL: &str = "478";

/// Most mode changes that take a parameter in one command (ISUPPORT MODES).
const MAX_PARAM_MODES: usize = 4;

pub fn mode(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    let target = msg.params()[0];
    if target.starts_with('#') {
        channel_mode(ctx, target, &msg.params()[1..]);
    } else {
        user_mode(ctx, target, msg.param(1));
    }
}

fn user_mode(ctx: &mut Ctx, target: &str, changes: Option<&str>) {
    let me = ctx.conn;
    if ctx.world.find_nick(target).is_none() {
        return ctx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
    }
    if !irc_eq(target, &ctx.me().nick) {
        return ctx.num(ERR_USERSDONTMATCH, &["Cant change mode for other users"]);
    }
    let Some(changes) = changes else {
        let modes = ctx.me().modes.to_mode_string();
        let line = ctx.numeric(RPL_UMODEIS).param(&modes).build();
        return ctx.send(line);
    };
    let mut adding = true;
    let mut applied = String::new();
    let mut last_sign = None;
    let mut unknown = false;
    for c in changes.chars() {
        match c {
            '+' => adding = true,
            '-' => adding = false,
            _ => {
                let bit = match c {
                    'i' => UserModes::INVISIBLE,
                    'w' => UserModes::WALLOPS,
                    // Operator status comes only from OPER; dropping it is allowed.
                    'o' if !adding => UserModes::OPER,
                    'o' => continue,
                    _ => {
                        unknown = true;
                        continue;
                    }
                };
                if ctx.world.set_user_mode(me, bit, adding) {
                    if last_sign != Some(adding) {
                        applied.push(if adding { '+' } else { '-' });
                        last_sign = Some(adding);
                    }
                    applied.push(c);
                }
            }
        }
    }
    if unknown {
        ctx.num(ERR_UMODEUNKNOWNFLAG, &["Unknown MODE flag"]);
    }
    if !applied.is_empty() {
        let nick = ctx.me().nick.to_string();
        let line = crate::protocol::LineBuilder::new(Some(&nick), "MODE")
            .param(&nick)
            .trailing(&applied)
            .build();
        ctx.send(line);
    }
}

fn channel_mode(ctx: &mut Ctx, name: &str, args: &[&str]) {
    let me = ctx.conn;
    let Some(ch) = ctx.world.channel(name) else {
        return ctx.num(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
    };
    let chan_name = ch.name.to_string();
    let status = ch.status(me);
    let Some(changes) = args.first() else {
        let (modes, params) = ch.mode_string(status.is_some());
        let created = ch.created.to_string();
        let mut b = ctx
            .numeric(RPL_CHANNELMODEIS)
            .param(&chan_name)
            .param(&modes);
        for p in &params {
            b.push_param(p);
        }
        ctx.send(b.build());
        let line = ctx
            .numeric(RPL_CREATIONTIME)
            .param(&chan_name)
            .param(&created)
            .build();
        return ctx.send(line);
    };
    // A bare ban-list query needs no privileges.
    let stripped = changes.trim_start_matches('+');
    if stripped == "b" && args.len() == 1 {
        return send_ban_list(ctx, &chan_name);
    }
    let Some(status) = status else {
        return ctx.num(
            ERR_NOTONCHANNEL,
            &[&chan_name, "You're not on that channel"],
        );
    };
    if !status.is_op() {
        return ctx.num(
            ERR_CHANOPRIVSNEEDED,
            &[&chan_name, "You're not channel operator"],
        );
    }
    apply_channel_modes(ctx, &chan_name, changes, &args[1..]);
}

fn send_ban_list(ctx: &mut Ctx, chan_name: &str) {
    let bans = ctx
        .world
        .channel(chan_name)
        .map(|c| c.bans.clone())
        .unwrap_or_default();
    for b in bans {
        let line = ctx
            .numeric(RPL_BANLIST)
            .param(chan_name)
            .param(&b.mask)
            .param(&b.setter)
            .param(&b.time.to_string())
            .build();
        ctx.send(line);
    }
    ctx.num(RPL_ENDOFBANLIST, &[chan_name, "End of channel ban list"]);
}

/// Applies a mode string from a channel operator and tells every member what
/// actually changed, in one MODE line.
fn apply_channel_modes(ctx: &mut Ctx, chan_name: &str, changes: &str, params: &[&str]) {
    let mut params = params.iter().copied();
    let mut adding = true;
    let mut applied = String::new();
    let mut applied_args: Vec<String> = Vec::new();
    let mut last_sign = None;
    let mut param_modes = 0;
    let setter = ctx.me().prefix();
    for c in changes.chars() {
        match c {
            '+' => {
                adding = true;
                continue;
            }
            '-' => {
                adding = false;
                continue;
            }
            _ => {}
        }
        let takes_param = matches!(c, 'o' | 'v' | 'b' | 'k') || (c == 'l' && adding);
        let arg = if takes_param {
            if param_modes == MAX_PARAM_MODES {
                break;
            }
            param_modes += 1;
            match params.next() {
                Some(a) if !a.is_empty() => Some(a),
                // -k may leave out the key; the others need theirs.
                _ if c == 'k' && !adding => Some("*"),
                _ => {
                    if c == 'b' {
                        send_ban_list(ctx, chan_name);
                    } else {
                        ctx.num(ERR_NEEDMOREPARAMS, &["MODE", "Not enough parameters"]);
                    }
                    continue;
                }
            }
        } else {
            None
        };
        let shown = match change_one(ctx, chan_name, c, adding, arg, &setter) {
            Some(shown) => shown,
            None => continue,
        };
        if last_sign != Some(adding) {
            applied.push(if adding { '+' } else { '-' });
            last_sign = Some(adding);
        }
        applied.push(c);
        if let Some(a) = shown {
            applied_args.push(a);
        }
    }
    if applied.is_empty() {
        return;
    }
    let members: Vec<_> = ctx
        .world
        .channel(chan_name)
        .map(|c| c.members.keys().copied().collect())
        .unwrap_or_default();
    let mut all: Vec<&str> = vec![chan_name, &applied];
    all.extend(applied_args.iter().map(String::as_str));
    let relay = Relay {
        source: &setter,
        command: "MODE",
        params: &all,
        text: None,
        client_tags: None,
    };
    ctx.relay(&members, &relay, false);
    super::chanserv::changed(ctx, chan_name);
}

/// Applies one mode letter. Returns None when nothing changed (after sending
/// any error), or Some(argument to show).
fn change_one(
    ctx: &mut Ctx,
    chan_name: &str,
    c: char,
    adding: bool,
    arg: Option<&str>,
    setter: &str,
) -> Option<Option<String>> {
    let flag_bit = flag::LETTERS.iter().find(|(l, _)| *l == c).map(|&(_, b)| b);
    if let Some(bit) = flag_bit {
        let ch = ctx.world.channel_mut(chan_name)?;
        if ch.has(bit) == adding {
            return None;
        }
        if adding {
            ch.flags |= bit;
        } else {
            ch.flags &= !bit;
        }
        return Some(None);
    }
    match c {
        'o' | 'v' => {
            let nick = arg?;
            let Some(target) = ctx.world.find_nick(nick) else {
                ctx.num(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
                return None;
            };
            let shown = ctx.world.client(target)?.nick.to_string();
            let ch = ctx.world.channel_mut(chan_name)?;
            let Some(st) = ch.members.get_mut(&target) else {
                ctx.num(
                    ERR_USERNOTINCHANNEL,
                    &[&shown, chan_name, "They aren't on that channel"],
                );
                return None;
            };
            let bit = if c == 'o' { Status::OP } else { Status::VOICE };
            if (st.0 & bit != 0) == adding {
                return None;
            }
            if adding {
                st.0 |= bit;
            } else {
                st.0 &= !bit;
            }
            Some(Some(shown))
        }
        'k' => {
            let key = arg?;
            let ch = ctx.world.channel_mut(chan_name)?;
            if adding {
                if key.contains([' ', ',']) || key.starts_with(':') || key.len() > 23 {
                    ctx.num(ERR_INVALIDKEY, &[chan_name, "Key is not well-formed"]);
                    return None;
                }
                ch.key = Some(key.into());
                Some(Some(key.to_string()))
            } else {
                ch.key.take()?;
                Some(Some("*".into()))
            }
        }
        'l' => {
            let ch = ctx.world.channel_mut(chan_name)?;
            if adding {
                let raw = arg?;
                match raw.parse::<usize>() {
                    Ok(n) if n > 0 => {
                        ch.limit = Some(n);
                        Some(Some(n.to_string()))
                    }
                    _ => {
                        ctx.num(
                            ERR_INVALIDMODEPARAM,
                            &[chan_name, "l", raw, "Invalid limit"],
                        );
                        None
                    }
                }
            } else {
                ch.limit.take()?;
                Some(None)
            }
        }
        'b' => {
            let mask = normalize_mask(arg?);
            // No nick starts with ':', and as a MODE argument such a mask
            // would have to be the trailing parameter.
            if mask.starts_with(':') {
                return None;
            }
            let max = ctx.env.config.max_bans;
            let ch = ctx.world.channel_mut(chan_name)?;
            let exists = ch.bans.iter().position(|b| irc_eq(&b.mask, &mask));
            match (adding, exists) {
                (true, None) => {
                    if ch.bans.len() >= max {
                        ctx.num(ERR_BANLISTFULL, &[chan_name, "b", "Channel list is full"]);
                        return None;
                    }
                    let setter_nick = setter.split('!').next().unwrap_or(setter);
                    ch.bans.push(Ban {
                        mask: mask.as_str().into(),
                        setter: setter_nick.into(),
                        time: unix_now(),
                    });
                    Some(Some(mask))
                }
                (false, Some(i)) => {
                    ch.bans.remove(i);
                    Some(Some(mask))
                }
                _ => None,
            }
        }
        _ => {
            ctx.num(
                ERR_UNKNOWNMODE,
                &[&c.to_string(), "is unknown mode char to me"],
            );
            None
        }
    }
}

//! PRIVMSG, NOTICE and TAGMSG to nicks, channels, and (operators only) to
//! everyone on the server with `$*` or `$servername`.

use super::{unix_now, Ctx, Relay};
use crate::bus::ConnId;
use crate::protocol::{numeric::*, Message};
use crate::state::{flag, mask::mask_matches, Caps};

pub fn message(ctx: &mut Ctx, command: &str, msg: &Message) {
    // Errors are not sent for NOTICE, so that bots cannot loop on each other.
    let quiet = command == "NOTICE";
    let tag_only = command == "TAGMSG";
    let Some(targets) = msg.param(0).filter(|t| !t.is_empty()) else {
        if !quiet {
            ctx.num(
                ERR_NORECIPIENT,
                &[&format!("No recipient given ({command})")],
            );
        }
        return;
    };
    let text = if tag_only {
        None
    } else {
        msg.param(1).filter(|t| !t.is_empty())
    };
    if text.is_none() && !tag_only {
        if !quiet {
            ctx.num(ERR_NOTEXTTOSEND, &["No text to send"]);
        }
        return;
    }
    let client_tags = client_only_tags(msg.tags);
    if tag_only && client_tags.is_none() {
        return;
    }
    let list: Vec<&str> = targets.split(',').filter(|t| !t.is_empty()).collect();
    if list.len() > ctx.env.config.max_targets {
        if !quiet {
            ctx.num(ERR_TOOMANYTARGETS, &[targets, "Too many targets"]);
        }
        return;
    }
    ctx.me_mut().last_active = crate::state::secs32(unix_now());
    let prefix = ctx.me().prefix();
    let echo = ctx.me().caps.has(Caps::ECHO_MESSAGE);
    for target in list {
        let (recipients, shown) = match resolve(ctx, target, quiet, command) {
            Some(r) => r,
            None => continue,
        };
        let mut recipients = recipients;
        if echo && !recipients.contains(&ctx.conn) {
            recipients.push(ctx.conn);
        }
        let relay = Relay {
            source: &prefix,
            command,
            params: &[&shown],
            text,
            client_tags: client_tags.as_deref(),
        };
        ctx.relay(&recipients, &relay, tag_only);
    }
}

/// Who receives a message to `target`, and the target as shown to them.
/// Sends the error and returns None when it cannot be delivered.
fn resolve(
    ctx: &mut Ctx,
    target: &str,
    quiet: bool,
    command: &str,
) -> Option<(Vec<ConnId>, String)> {
    let me = ctx.conn;
    if let Some(mask) = target.strip_prefix('$') {
        if !ctx.me().is_oper() {
            if !quiet {
                ctx.num(
                    ERR_NOPRIVILEGES,
                    &["Permission Denied- You're not an IRC operator"],
                );
            }
            return None;
        }
        if !mask_matches(mask, &ctx.env.config.server_name) {
            if !quiet {
                ctx.num(ERR_NOSUCHSERVER, &[target, "No such server"]);
            }
            return None;
        }
        // A server-wide broadcast reaches every registered user but the sender.
        let all = ctx
            .world
            .clients
            .iter()
            .filter(|(id, c)| c.registered && **id != me)
            .map(|(id, _)| *id)
            .collect();
        log::info!("{} sent {command} to {target}", ctx.me().nick);
        return Some((all, target.to_string()));
    }
    if target.starts_with('#') {
        let Some(ch) = ctx.world.channel(target) else {
            if !quiet {
                ctx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
            }
            return None;
        };
        let status = ch.status(me);
        let speaks = status.is_some_and(|s| s.is_op() || s.is_voiced());
        let prefix = ctx.me().prefix();
        let blocked = (status.is_none() && ch.has(flag::NO_EXTERNAL))
            || (ch.has(flag::MODERATED) && !speaks)
            || (!speaks && ch.bans.iter().any(|b| mask_matches(&b.mask, &prefix)));
        let name = ch.name.to_string();
        if blocked {
            if !quiet {
                ctx.num(ERR_CANNOTSENDTOCHAN, &[&name, "Cannot send to channel"]);
            }
            return None;
        }
        let members = ch.members.keys().copied().filter(|&m| m != me).collect();
        return Some((members, name));
    }
    let Some(to) = ctx
        .world
        .find_nick(target)
        .filter(|id| ctx.world.client(*id).is_some_and(|c| c.registered))
    else {
        if !quiet {
            ctx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        }
        return None;
    };
    let c = ctx.world.client(to).expect("found above");
    let nick = c.nick.to_string();
    if let (Some(away), "PRIVMSG") = (c.away.clone(), command) {
        ctx.num(RPL_AWAY, &[&nick, &away]);
    }
    Some((vec![to], nick))
}

/// The client-only tags (`+name[=value]`) of a message, which are relayed to
/// recipients that support message-tags; server tags from clients are dropped.
fn client_only_tags(tags: Option<&str>) -> Option<String> {
    let kept: Vec<&str> = tags?
        .split(';')
        .filter(|t| t.starts_with('+') && t.len() > 1)
        .collect();
    (!kept.is_empty()).then(|| kept.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_client_tags_are_relayed() {
        assert_eq!(
            client_only_tags(Some("+typing=active;time=x;+a")).as_deref(),
            Some("+typing=active;+a")
        );
        assert_eq!(client_only_tags(Some("time=x")), None);
        assert_eq!(client_only_tags(None), None);
    }
}

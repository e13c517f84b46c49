//! ChanServ: registered channels. `/msg ChanServ REGISTER #c`, `INFO #c`,
//! `OP|DEOP|VOICE|DEVOICE #c [nick]`, `ACCESS #c LIST|ADD <account> op|voice|DEL
//! <account>`, `SET #c TOPICLOCK ON|OFF`, `DROP #c`, `HELP`.
//!
//! Registered channels are cached in memory (see [`crate::accounts`]), so a
//! JOIN needs no query: the founder and listed accounts get their status as
//! they join, and a channel created again (after everyone left, or after a
//! restart) gets its saved topic and modes back. Topic and mode changes are
//! saved as they happen.

use super::account::{notice, words, CHANSERV};
use super::{Ctx, Relay};
use crate::accounts::{store, ChannelRow, Level};
use crate::bus::ConnId;
use crate::protocol::irc_lower;
use crate::state::{flag, Ban, Status, Topic};

const HELP: &[&str] = &[
    "ChanServ keeps a channel's founder, access list, topic and modes.",
    "  REGISTER <#channel>                  register a channel you are an operator of",
    "  INFO <#channel>                      show a registered channel",
    "  OP|DEOP|VOICE|DEVOICE <#channel> [nick]",
    "  ACCESS <#channel> LIST               show who gets status on join",
    "  ACCESS <#channel> ADD <account> <op|voice>",
    "  ACCESS <#channel> DEL <account>",
    "  SET <#channel> TOPICLOCK ON|OFF      only op access may change the topic",
    "  DROP <#channel>                      unregister a channel (founder)",
    "End of help.",
];

const UNAVAILABLE: &str = "Channel registration is unavailable right now, please try again later.";

fn say(ctx: &mut Ctx, text: &str) {
    notice(ctx, CHANSERV, text);
}

/// The level account `account` has on `row`, if any.
fn level(row: &ChannelRow, account: Option<&str>) -> Option<Level> {
    let key = irc_lower(account?);
    if irc_lower(&row.founder) == key {
        return Some(Level::Founder);
    }
    row.access.iter().find(|a| a.0 == key).map(|a| a.2)
}

fn my_level(ctx: &Ctx, row: &ChannelRow) -> Option<Level> {
    level(row, ctx.me().account.as_deref())
}

pub fn command(ctx: &mut Ctx, args: &[&str]) {
    let w = words(args);
    let Some(cmd) = w.first().map(|c| c.to_ascii_uppercase()) else {
        return say(ctx, "Use /msg ChanServ HELP for a list of commands.");
    };
    if cmd == "HELP" {
        for line in HELP {
            say(ctx, line);
        }
        return;
    }
    let Some(&chan) = w.get(1) else {
        return say(ctx, &format!("Syntax: {cmd} <#channel> ..."));
    };
    let rest = &w[2..];
    match cmd.as_str() {
        "REGISTER" => register(ctx, chan),
        "INFO" => info(ctx, chan),
        "OP" => status(ctx, chan, rest, Status::OP, true),
        "DEOP" => status(ctx, chan, rest, Status::OP, false),
        "VOICE" => status(ctx, chan, rest, Status::VOICE, true),
        "DEVOICE" => status(ctx, chan, rest, Status::VOICE, false),
        "ACCESS" => access(ctx, chan, rest),
        "SET" => set(ctx, chan, rest),
        "DROP" => drop_channel(ctx, chan),
        _ => say(
            ctx,
            &format!("Unknown command {cmd}. Use /msg ChanServ HELP for a list of commands."),
        ),
    }
}

/// The registered channel `chan`, or a notice saying it is not.
fn registered(ctx: &mut Ctx, chan: &str) -> Option<ChannelRow> {
    let row = ctx.env.accounts.channel(&irc_lower(chan));
    if row.is_none() {
        say(ctx, &format!("{chan} is not registered."));
    }
    row
}

/// What a live channel looks like, as stored.
fn snapshot(ctx: &Ctx, chan: &str) -> Option<ChannelRow> {
    let ch = ctx.world.channel(chan)?;
    let modes: String = flag::LETTERS
        .iter()
        .filter(|(_, bit)| ch.has(*bit))
        .map(|(c, _)| *c)
        .collect();
    Some(ChannelRow {
        name: ch.name.to_string(),
        key: irc_lower(&ch.name),
        created: ch.created as i64,
        topic: ch
            .topic
            .as_ref()
            .map(|t| (t.text.to_string(), t.setter.to_string(), t.time as i64)),
        modes,
        mode_key: ch.key.as_deref().map(str::to_string),
        mode_limit: ch.limit.map(|l| l as i64),
        bans: ch
            .bans
            .iter()
            .map(|b| (b.mask.to_string(), b.setter.to_string(), b.time as i64))
            .collect(),
        ..Default::default()
    })
}

fn register(ctx: &mut Ctx, chan: &str) {
    let Some(account) = ctx.me().account.as_deref().map(str::to_string) else {
        return say(ctx, "You must be logged in to register a channel.");
    };
    let me = ctx.conn;
    let Some(mut row) = snapshot(ctx, chan) else {
        return say(ctx, &format!("{chan} does not exist."));
    };
    if !ctx
        .world
        .channel(chan)
        .and_then(|c| c.status(me))
        .is_some_and(|s| s.is_op())
    {
        return say(
            ctx,
            &format!(
                "You must be a channel operator in {} to register it.",
                row.name
            ),
        );
    }
    if ctx.env.accounts.is_registered_channel(&row.key) {
        return say(ctx, &format!("{} is already registered.", row.name));
    }
    row.founder = account.clone();
    row.created = super::unix_now() as i64;
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let done = acc.db(|db| store::register_channel(db, &row, &irc_lower(&account)));
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match done {
                Ok(Some(())) => {
                    let name = row.name.clone();
                    log::info!("channel {name} registered to {account}");
                    ctx.env.accounts.insert_channel(row);
                    say(ctx, &format!("{name} is now registered to {account}."));
                }
                Ok(None) => say(
                    ctx,
                    &format!(
                        "{} is already registered (or your account is gone).",
                        row.name
                    ),
                ),
                Err(e) => {
                    log::error!("database: registering {}: {e}", row.name);
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

fn info(ctx: &mut Ctx, chan: &str) {
    let Some(row) = registered(ctx, chan) else {
        return;
    };
    let when = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(row.created.max(0) as u64),
    );
    say(ctx, &format!("Information on {}:", row.name));
    say(ctx, &format!("Founder: {}", row.founder));
    say(ctx, &format!("Registered: {when}"));
    let mut modes = format!("+{}", row.modes);
    if row.mode_key.is_some() {
        modes.push('k');
    }
    if let Some(l) = row.mode_limit {
        modes.push_str(&format!("l {l}"));
    }
    say(ctx, &format!("Modes: {modes}"));
    if row.topiclock {
        say(ctx, "Topic lock: on");
    }
    say(ctx, "End of info.");
}

/// OP/DEOP/VOICE/DEVOICE: changing one's own status needs that level of
/// access; changing someone else's needs op access.
fn status(ctx: &mut Ctx, chan: &str, rest: &[&str], bit: u8, on: bool) {
    let Some(row) = registered(ctx, chan) else {
        return;
    };
    let own = ctx.me().nick.to_string();
    let nick = rest.first().copied().unwrap_or(&own);
    let needed = if bit == Status::VOICE && irc_lower(nick) == irc_lower(&own) {
        Level::Voice
    } else {
        Level::Op
    };
    if my_level(ctx, &row) < Some(needed) {
        return say(
            ctx,
            &format!("You do not have access to do that on {}.", row.name),
        );
    }
    let Some(target) = ctx.world.find_nick(nick).filter(|id| {
        ctx.world
            .channel(chan)
            .is_some_and(|c| c.members.contains_key(id))
    }) else {
        return say(ctx, &format!("{nick} is not on {}.", row.name));
    };
    set_status(ctx, &row.name, target, bit, on);
}

/// Gives or takes `bit` from `target` in `chan`, telling every member with a
/// MODE from ChanServ. Does nothing when it is already so.
fn set_status(ctx: &mut Ctx, chan: &str, target: ConnId, bit: u8, on: bool) {
    let Some(nick) = ctx.world.client(target).map(|c| c.nick.to_string()) else {
        return;
    };
    let Some(ch) = ctx.world.channel_mut(chan) else {
        return;
    };
    let Some(st) = ch.members.get_mut(&target) else {
        return;
    };
    if (st.0 & bit != 0) == on {
        return;
    }
    if on {
        st.0 |= bit;
    } else {
        st.0 &= !bit;
    }
    let members: Vec<_> = ch.members.keys().copied().collect();
    let letter = if bit == Status::OP { "o" } else { "v" };
    let change = format!("{}{letter}", if on { '+' } else { '-' });
    relay_from_service(ctx, &members, "MODE", &[chan, &change, &nick], None);
}

fn relay_from_service(
    ctx: &mut Ctx,
    to: &[ConnId],
    command: &str,
    params: &[&str],
    text: Option<&str>,
) {
    let source = format!("{CHANSERV}!{CHANSERV}@{}", ctx.server_name());
    let relay = Relay {
        source: &source,
        command,
        params,
        text,
        client_tags: None,
    };
    ctx.relay(to, &relay, false);
}

fn access(ctx: &mut Ctx, chan: &str, rest: &[&str]) {
    let Some(row) = registered(ctx, chan) else {
        return;
    };
    let sub = rest.first().map(|s| s.to_ascii_uppercase());
    let args = rest.get(1..).unwrap_or(&[]);
    match (sub.as_deref(), args) {
        (Some("LIST") | None, _) => {
            say(ctx, &format!("Access list for {}:", row.name));
            say(ctx, &format!("founder {}", row.founder));
            for (_, name, level) in &row.access {
                say(ctx, &format!("{} {name}", level.as_str()));
            }
            say(ctx, "End of access list.");
        }
        (Some("ADD"), [account, level]) => match Level::parse(level) {
            Some(l @ (Level::Op | Level::Voice)) => change_access(ctx, row, account, Some(l)),
            _ => say(ctx, "The level must be op or voice."),
        },
        (Some("DEL"), [account]) => change_access(ctx, row, account, None),
        _ => say(
            ctx,
            "Syntax: ACCESS <#channel> LIST | ADD <account> <op|voice> | DEL <account>",
        ),
    }
}

fn change_access(ctx: &mut Ctx, row: ChannelRow, account: &str, level: Option<Level>) {
    if my_level(ctx, &row) != Some(Level::Founder) {
        return say(
            ctx,
            &format!(
                "Only the founder of {} can change its access list.",
                row.name
            ),
        );
    }
    let key = irc_lower(account);
    if irc_lower(&row.founder) == key {
        return say(ctx, "The founder is always on the access list.");
    }
    let account = account.to_string();
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let done = acc.db(|db| -> store::Result<Option<String>> {
            let Some(a) = store::account(db, &key)? else {
                return Ok(None);
            };
            store::set_access(db, &row.key, &key, level)?;
            Ok(Some(a.name))
        });
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match done {
                Ok(Some(name)) => {
                    ctx.env.accounts.update_channel(&row.key, |c| {
                        c.access.retain(|a| a.0 != key);
                        if let Some(l) = level {
                            c.access.push((key.clone(), name.clone(), l));
                            c.access.sort();
                        }
                    });
                    match level {
                        Some(l) => say(
                            ctx,
                            &format!("{name} now has {} access on {}.", l.as_str(), row.name),
                        ),
                        None => say(
                            ctx,
                            &format!("{name} was removed from the access list of {}.", row.name),
                        ),
                    }
                }
                Ok(None) => say(ctx, &format!("{account} is not registered.")),
                Err(e) => {
                    log::error!("database: {e}");
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

fn set(ctx: &mut Ctx, chan: &str, rest: &[&str]) {
    let Some(row) = registered(ctx, chan) else {
        return;
    };
    let on = match rest {
        [what, v] if what.eq_ignore_ascii_case("TOPICLOCK") && v.eq_ignore_ascii_case("ON") => true,
        [what, v] if what.eq_ignore_ascii_case("TOPICLOCK") && v.eq_ignore_ascii_case("OFF") => {
            false
        }
        _ => return say(ctx, "Syntax: SET <#channel> TOPICLOCK ON|OFF"),
    };
    if my_level(ctx, &row) != Some(Level::Founder) {
        return say(
            ctx,
            &format!("Only the founder of {} can do that.", row.name),
        );
    }
    ctx.env
        .accounts
        .update_channel(&row.key, |c| c.topiclock = on);
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let done = acc.db(|db| store::set_topiclock(db, &row.key, on));
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match done {
                Ok(()) => {
                    let state = if on { "on" } else { "off" };
                    say(ctx, &format!("Topic lock for {} is now {state}.", row.name));
                }
                Err(e) => {
                    log::error!("database: {e}");
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

fn drop_channel(ctx: &mut Ctx, chan: &str) {
    let Some(row) = registered(ctx, chan) else {
        return;
    };
    if my_level(ctx, &row) != Some(Level::Founder) && !ctx.me().is_oper() {
        return say(
            ctx,
            &format!("Only the founder of {} can drop it.", row.name),
        );
    }
    let (conn, resumer) = (ctx.conn, ctx.env.resumer.clone());
    ctx.env.accounts.spawn(move |acc| {
        let done = acc.db(|db| store::drop_channel(db, &row.key));
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut Ctx| match done {
                Ok(_) => {
                    ctx.env.accounts.remove_channel(&row.key);
                    log::info!("channel {} dropped", row.name);
                    say(ctx, &format!("{} has been dropped.", row.name));
                }
                Err(e) => {
                    log::error!("database: {e}");
                    say(ctx, UNAVAILABLE)
                }
            }),
        );
    });
}

/// After this client joined `chan`: a registered channel just created gets
/// its saved modes and topic back, and the joiner gets the status its access
/// gives (a first joiner without access loses the automatic op).
pub fn joined(ctx: &mut Ctx, chan: &str) {
    let Some(row) = ctx.env.accounts.channel(&irc_lower(chan)) else {
        return;
    };
    let me = ctx.conn;
    let Some(ch) = ctx.world.channel_mut(chan) else {
        return;
    };
    let members: Vec<_> = ch.members.keys().copied().collect();
    if members == [me] {
        // Just created: restore the saved state.
        let mut flags = 0;
        for c in row.modes.chars() {
            if let Some((_, bit)) = flag::LETTERS.iter().find(|(l, _)| *l == c) {
                flags |= bit;
            }
        }
        ch.flags = flags;
        ch.key = row.mode_key.as_deref().map(Into::into);
        ch.limit = row.mode_limit.and_then(|l| usize::try_from(l).ok());
        ch.bans = row
            .bans
            .iter()
            .map(|(mask, setter, time)| Ban {
                mask: mask.as_str().into(),
                setter: setter.as_str().into(),
                time: *time as u64,
            })
            .collect();
        let (modes, args) = ch.mode_string(true);
        if let Some((text, setter, time)) = &row.topic {
            ch.topic = Some(Topic {
                text: text.as_str().into(),
                setter: setter.as_str().into(),
                time: *time as u64,
            });
        }
        if modes != "+nt" {
            let mut params = vec![chan, &modes];
            params.extend(args.iter().map(String::as_str));
            relay_from_service(ctx, &members, "MODE", &params, None);
        }
        if let Some((text, _, _)) = &row.topic {
            relay_from_service(ctx, &members, "TOPIC", &[chan], Some(text));
        }
    }
    match my_level(ctx, &row) {
        Some(Level::Founder | Level::Op) => set_status(ctx, chan, me, Status::OP, true),
        Some(Level::Voice) => {
            set_status(ctx, chan, me, Status::OP, false);
            set_status(ctx, chan, me, Status::VOICE, true);
        }
        None => set_status(ctx, chan, me, Status::OP, false),
    }
}

/// After this client changed the topic or modes of `chan`: save them if the
/// channel is registered, or with TOPICLOCK on and no op access, put the
/// saved topic back.
pub fn changed(ctx: &mut Ctx, chan: &str) {
    let key = irc_lower(chan);
    let Some(row) = ctx.env.accounts.channel(&key) else {
        return;
    };
    let Some(now) = snapshot(ctx, chan) else {
        return;
    };
    let topic_changed = now.topic.as_ref().map(|t| &t.0) != row.topic.as_ref().map(|t| &t.0);
    if topic_changed && row.topiclock && my_level(ctx, &row) < Some(Level::Op) {
        let Some(ch) = ctx.world.channel_mut(chan) else {
            return;
        };
        ch.topic = row.topic.as_ref().map(|(text, setter, time)| Topic {
            text: text.as_str().into(),
            setter: setter.as_str().into(),
            time: *time as u64,
        });
        let members: Vec<_> = ch.members.keys().copied().collect();
        let text = row.topic.as_ref().map_or("", |t| t.0.as_str());
        relay_from_service(ctx, &members, "TOPIC", &[&row.name], Some(text));
        return;
    }
    let bans_changed = now.bans != row.bans;
    ctx.env.accounts.update_channel(&key, |c| {
        c.topic = now.topic;
        c.modes = now.modes;
        c.mode_key = now.mode_key;
        c.mode_limit = now.mode_limit;
        c.bans = now.bans;
    });
    ctx.env.accounts.spawn(move |acc| {
        // Read under the database lock, so the last save is of the latest state.
        let saved = acc.db(|db| {
            let Some(c) = acc.channel(&key) else {
                return Ok(());
            };
            store::save_topic(
                db,
                &key,
                c.topic.as_ref().map(|t| (t.0.as_str(), t.1.as_str(), t.2)),
            )?;
            store::save_modes(db, &key, &c.modes, c.mode_key.as_deref(), c.mode_limit)?;
            if bans_changed {
                store::save_bans(db, &key, &c.bans)?;
            }
            Ok::<_, store::Error>(())
        });
        if let Err(e) = saved {
            log::error!("database: saving {key}: {e}");
        }
    });
}

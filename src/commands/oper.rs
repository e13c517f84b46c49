//! Server operators: OPER (argon2-hashed passwords from the config, checked on
//! the rayon pool), WALLOPS and KILL.

use argon2::{Argon2, PasswordHash, PasswordVerifier};

use super::{need_params, user::force_quit, Ctx, Relay};
use crate::protocol::{numeric::*, LineBuilder, Message};
use crate::state::UserModes;

pub fn oper(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 2).is_none() {
        return;
    }
    let (name, password) = (msg.params()[0], msg.params()[1]);
    if ctx.env.config.opers.is_empty() {
        return ctx.num(ERR_NOOPERHOST, &["No O-lines for your host"]);
    }
    let hash = ctx
        .env
        .config
        .opers
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.password_hash.clone());
    let (name, password) = (name.to_string(), password.to_string());
    let conn = ctx.conn;
    let resumer = ctx.env.resumer.clone();
    // Hashing takes tens of milliseconds: do it off the chat workers, then
    // finish on this connection's worker with the state locked.
    rayon::spawn(move || {
        let ok = hash.is_some_and(|h| {
            PasswordHash::new(&h).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        });
        resumer.resume(
            conn,
            Box::new(move |ctx: &mut super::Ctx| finish_oper(ctx, &name, ok)),
        );
    });
}

fn finish_oper(ctx: &mut Ctx, name: &str, ok: bool) {
    if !ok {
        log::warn!("failed OPER attempt as {name:?} by {}", ctx.me().prefix());
        return ctx.num(ERR_PASSWDMISMATCH, &["Password incorrect"]);
    }
    let me = ctx.conn;
    ctx.world.set_user_mode(me, UserModes::OPER, true);
    ctx.num(RPL_YOUREOPER, &["You are now an IRC operator"]);
    ctx.out.push(crate::bus::Out::FloodExempt(me));
    let nick = ctx.me().nick.to_string();
    let line = LineBuilder::new(Some(&nick), "MODE")
        .param(&nick)
        .trailing("+o")
        .build();
    ctx.send(line);
    log::info!("{nick} is now an operator (as {name})");
}

pub fn wallops(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 1).is_none() {
        return;
    }
    if !ctx.me().is_oper() {
        return ctx.num(
            ERR_NOPRIVILEGES,
            &["Permission Denied- You're not an IRC operator"],
        );
    }
    let line = LineBuilder::new(Some(&ctx.me().prefix()), "WALLOPS")
        .trailing(msg.params()[0])
        .build();
    let targets: Vec<_> = ctx
        .world
        .clients
        .iter()
        .filter(|(_, c)| c.registered && c.modes.has(UserModes::WALLOPS))
        .map(|(id, _)| *id)
        .collect();
    if !targets.is_empty() {
        ctx.out
            .push(crate::bus::Out::Fanout(targets.into_boxed_slice(), line));
    }
}

/// `KILL <nickname> <comment>`: the victim gets the KILL, then its own QUIT
/// (which its channel peers see too), then ERROR, and is disconnected.
pub fn kill(ctx: &mut Ctx, msg: &Message) {
    if need_params(ctx, msg, 2).is_none() {
        return;
    }
    if !ctx.me().is_oper() {
        return ctx.num(
            ERR_NOPRIVILEGES,
            &["Permission Denied- You're not an IRC operator"],
        );
    }
    let nick = msg.params()[0];
    let Some((target, victim_nick, victim_prefix)) = ctx
        .world
        .find_nick(nick)
        .and_then(|id| Some((id, ctx.world.client(id).filter(|c| c.registered)?)))
        .map(|(id, c)| (id, c.nick.to_string(), c.prefix()))
    else {
        return ctx.num(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
    };
    let killer = ctx.me().nick.to_string();
    let killer_prefix = ctx.me().prefix();
    let comment = msg.params()[1];
    let reason = format!("Killed ({killer} ({comment}))");
    log::info!("{killer} killed {victim_nick}: {comment}");
    ctx.relay(
        &[target],
        &Relay {
            source: &killer_prefix,
            command: "KILL",
            params: &[&victim_nick],
            text: Some(comment),
            client_tags: None,
        },
        false,
    );
    ctx.relay(
        &[target],
        &Relay {
            source: &victim_prefix,
            command: "QUIT",
            params: &[],
            text: Some(&reason),
            client_tags: None,
        },
        false,
    );
    force_quit(
        ctx,
        target,
        &reason,
        &format!("Closing Link: {} ({reason})", ctx.server_name()),
    );
}

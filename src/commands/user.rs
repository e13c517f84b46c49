//! A client's own presence: PING, AWAY, QUIT, and leaving for any reason.

use super::{Ctx, Relay};
use crate::bus::{ConnId, Out};
use crate::protocol::{numeric::*, LineBuilder, Message};
use crate::state::Caps;

pub fn ping(ctx: &mut Ctx, msg: &Message) {
    let Some(token) = msg.param(0).filter(|t| !t.is_empty()) else {
        return ctx.num(ERR_NOORIGIN, &["No origin specified"]);
    };
    let name = ctx.server_name().to_string();
    let line = ctx.server_line("PONG").param(&name).trailing(token).build();
    ctx.send(line);
}

pub fn away(ctx: &mut Ctx, msg: &Message) {
    let text: Option<String> = msg
        .param(0)
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().take(ctx.env.config.awaylen).collect());
    ctx.me_mut().away = text.as_deref().map(Into::into);
    match &text {
        Some(_) => ctx.num(RPL_NOWAWAY, &["You have been marked as being away"]),
        None => ctx.num(RPL_UNAWAY, &["You are no longer marked as being away"]),
    }
    let peers = ctx.world.peers(ctx.conn);
    notify_away(ctx, &peers, text.as_deref());
}

/// away-notify: tells those of `audience` (other than this client) who asked
/// for it that this client is away with `text`, or back (None).
pub fn notify_away(ctx: &mut Ctx, audience: &[ConnId], text: Option<&str>) {
    let me = ctx.conn;
    let targets: Vec<_> = audience
        .iter()
        .copied()
        .filter(|&p| {
            p != me
                && ctx
                    .world
                    .client(p)
                    .is_some_and(|c| c.caps.has(Caps::AWAY_NOTIFY))
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    let prefix = ctx.me().prefix();
    let relay = Relay {
        source: &prefix,
        command: "AWAY",
        params: &[],
        text,
        client_tags: None,
    };
    ctx.relay(&targets, &relay, false);
}

pub fn quit(ctx: &mut Ctx, msg: &Message) {
    let reason = match msg.param(0).filter(|r| !r.is_empty()) {
        Some(r) => format!("Quit: {r}"),
        None => "Client Quit".to_string(),
    };
    let host = ctx.me().host();
    let line = LineBuilder::new(None, "ERROR")
        .trailing(&format!("Closing Link: {host} ({reason})"))
        .build();
    depart(ctx, ctx.conn, &reason);
    ctx.out.push(Out::Close(ctx.conn, line));
}

/// Removes client `me`, showing `reason` in a QUIT to everyone who shares a
/// channel with it. Does nothing if it is already gone.
pub fn depart(ctx: &mut Ctx, me: ConnId, reason: &str) {
    let Some(client) = ctx.world.client(me) else {
        return;
    };
    if client.registered {
        let prefix = client.prefix();
        let peers = ctx.world.peers(me);
        let relay = Relay {
            source: &prefix,
            command: "QUIT",
            params: &[],
            text: Some(reason),
            client_tags: None,
        };
        log::info!("{} left: {reason}", client.nick);
        ctx.relay(&peers, &relay, false);
    }
    ctx.world.remove_client(me);
}

/// Removes `target` and closes its connection after the final `error` line;
/// its peers see `reason` (QUIT's path, used by KILL).
pub fn force_quit(ctx: &mut Ctx, target: ConnId, reason: &str, error: &str) {
    let line = LineBuilder::new(None, "ERROR").trailing(error).build();
    depart(ctx, target, reason);
    ctx.out.push(Out::Close(target, line));
}

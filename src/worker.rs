//! A chat worker: takes events for the connections it owns, runs them against
//! the shared state under its lock, and sends the resulting output batch to
//! the reactor before the lock is released, so the reactor applies batches in
//! exactly the order the state changed. Never touches a socket.

use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;

use crate::bus::{Event, Outbox};
use crate::commands::{self, Ctx, Env};
use crate::state::World;

/// Most events handled under one lock acquisition, so a busy worker amortises
/// the lock and the reactor wake-up without starving the other workers.
const MAX_BATCH: usize = 64;

/// State shared by every worker.
pub struct Shared {
    pub world: Mutex<World>,
    pub env: Env,
    pub outbox: Outbox,
}

/// The worker thread's loop; returns when the reactor says [`Event::Stop`].
pub fn run(shared: Arc<Shared>, inbox: Receiver<Event>) {
    let mut out = Vec::new();
    let mut stopping = false;
    while let Ok(first) = inbox.recv() {
        // A poisoned lock means a command panicked part-way; the state it left
        // is still structurally valid, so keep serving.
        let mut world = shared.world.lock().unwrap_or_else(|p| p.into_inner());
        for ev in std::iter::once(first).chain(inbox.try_iter().take(MAX_BATCH - 1)) {
            if matches!(ev, Event::Stop) {
                stopping = true;
                break;
            }
            handle(&mut world, &shared.env, &mut out, ev);
        }
        let queued = shared.outbox.queue(std::mem::take(&mut out));
        drop(world);
        if queued {
            shared.outbox.wake();
        }
        if stopping {
            return;
        }
    }
}

fn handle(world: &mut World, env: &Env, out: &mut Vec<crate::bus::Out>, ev: Event) {
    let conn = match &ev {
        Event::Stop => return,
        Event::Accepted { conn, .. }
        | Event::Line { conn, .. }
        | Event::LineTooLong { conn }
        | Event::Closed { conn, .. }
        | Event::Drained { conn }
        | Event::Task { conn, .. } => *conn,
    };
    let known = world.clients.contains_key(&conn);
    let before = out.len();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut ctx = Ctx {
            world: &mut *world,
            env,
            conn,
            out: &mut *out,
        };
        match ev {
            Event::Accepted { ip, tls, .. } => commands::accepted(&mut ctx, ip, tls),
            Event::Line { line, .. } if known => commands::handle_line(&mut ctx, &line),
            Event::LineTooLong { .. } if known => commands::line_too_long(&mut ctx),
            Event::Closed { reason, .. } if known => commands::closed(&mut ctx, &reason),
            Event::Drained { .. } if known => commands::pacing::drained(&mut ctx),
            Event::Task { task, .. } if known => task(&mut ctx),
            // Events for a connection already removed (it quit or was killed).
            _ => {}
        }
    }));
    if result.is_err() {
        // The belt under the braces: a bug in one command must not take the
        // server down. Drop what the command was sending, disconnect the
        // client that triggered it, and remove it from the state.
        log::error!("a command from {conn:?} panicked; disconnecting that client");
        out.truncate(before);
        let mut ctx = Ctx {
            world,
            env,
            conn,
            out,
        };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commands::closed(&mut ctx, "Internal server error")
        }));
        let line = crate::protocol::LineBuilder::new(None, "ERROR")
            .trailing("Internal server error")
            .build();
        ctx.out.push(crate::bus::Out::Close(conn, line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{ConnId, Out};
    use crate::state::Client;

    #[test]
    fn a_panicking_command_disconnects_only_its_client() {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let env = Env::new(crate::Config::default(), Vec::new(), vec![tx]);
        let mut world = World::default();
        let (a, b) = (ConnId { slot: 0, gen: 1 }, ConnId { slot: 1, gen: 1 });
        for (id, nick) in [(a, "a"), (b, "b")] {
            world
                .clients
                .insert(id, Client::new([127, 0, 0, 1].into(), true));
            world.set_nick(id, nick);
        }
        let mut out = Vec::new();
        let task: crate::commands::Task = Box::new(|_ctx| panic!("boom"));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        handle(&mut world, &env, &mut out, Event::Task { conn: a, task });
        std::panic::set_hook(hook);
        assert!(world.client(a).is_none(), "the offending client is removed");
        assert!(world.find_nick("a").is_none());
        assert!(world.client(b).is_some(), "others are untouched");
        assert!(
            matches!(out.as_slice(), [Out::Close(id, line)] if *id == a && &line[..] == b"ERROR :Internal server error\r\n")
        );
    }
}

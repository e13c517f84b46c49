//! Pacing of long replies: LIST, NAMES and WHO can produce more lines than a
//! send queue holds. The first chunk is sent at once; the rest waits in the
//! client record and goes out a chunk at a time, each time the reactor reports
//! that the client's send queue has drained. One command therefore cannot
//! blow up a send queue, and a slow reader only slows itself.

use std::collections::VecDeque;

use super::Ctx;
use crate::bus::Out;
use crate::protocol::numeric::RPL_TRYAGAIN;

/// Most bytes released at once: a quarter of the send queue, so a chunk can
/// never overflow it, and at most 32 KB.
fn chunk_bytes(ctx: &Ctx) -> usize {
    (ctx.env.config.sendq / 4).min(32 * 1024)
}
/// Lines a client may have waiting; further paced commands are refused with
/// 263 until it has read what it asked for.
const MAX_WAITING: usize = 100_000;

/// Runs a command whose reply may be long, pacing whatever goes past the
/// first chunk.
pub fn paced(ctx: &mut Ctx, command: impl FnOnce(&mut Ctx)) {
    let waiting = ctx.me().paced.as_ref().map_or(0, |p| p.len());
    if waiting >= MAX_WAITING {
        let line = ctx
            .numeric(RPL_TRYAGAIN)
            .param("*")
            .trailing("Please wait a while and try again.")
            .build();
        return ctx.send(line);
    }
    let start = ctx.out.len();
    command(ctx);
    let me = ctx.conn;
    let budget = chunk_bytes(ctx);
    let mine: usize = ctx.out[start..]
        .iter()
        .map(|o| match o {
            Out::Line(id, line) if *id == me => line.len(),
            _ => 0,
        })
        .sum();
    if mine <= budget && waiting == 0 {
        return;
    }
    // Move this client's lines past what may go now into the waiting queue,
    // keeping their order (and behind anything already waiting).
    let mut allowed_now = if waiting == 0 { budget } else { 0 };
    let mut later = Vec::new();
    let tail: Vec<Out> = ctx.out.drain(start..).collect();
    for o in tail {
        match o {
            Out::Line(id, line) if id == me => {
                if later.is_empty() && line.len() <= allowed_now {
                    allowed_now -= line.len();
                    ctx.out.push(Out::Line(id, line));
                } else {
                    later.push(line);
                }
            }
            other => ctx.out.push(other),
        }
    }
    let queue = ctx
        .me_mut()
        .paced
        .get_or_insert_with(|| Box::new(VecDeque::new()));
    queue.extend(later);
    if waiting == 0 {
        ctx.out.push(Out::WatchDrain(me));
    }
}

/// The client's send queue drained: send the next chunk of what waits.
pub fn drained(ctx: &mut Ctx) {
    let me = ctx.conn;
    let mut budget = chunk_bytes(ctx);
    let Some(queue) = ctx.me_mut().paced.as_mut() else {
        return;
    };
    let mut chunk = Vec::new();
    while let Some(line) = queue.front() {
        // Always at least one line, so a line longer than the budget still goes.
        if !chunk.is_empty() && line.len() > budget {
            break;
        }
        budget = budget.saturating_sub(line.len());
        chunk.extend(queue.pop_front());
    }
    let more = !queue.is_empty();
    if !more {
        ctx.me_mut().paced = None;
    }
    for line in chunk {
        ctx.out.push(Out::Line(me, line));
    }
    if more {
        ctx.out.push(Out::WatchDrain(me));
    }
}

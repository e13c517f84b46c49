//! The full command path on a live state: arbitrary lines from three
//! connections (one of them an operator, all sharing a channel) run through
//! the same dispatch the workers use. No input may panic or leave the state
//! inconsistent (every channel member is a known client, every client's
//! channels exist).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::bus::{ConnId, Out};
use parley::commands::{self, Ctx, Env};
use parley::state::{UserModes, World};
use parley::Config;

fuzz_target!(|data: &[u8]| {
    let (tx, _rx) = crossbeam_channel::unbounded();
    let config = Config {
        db: ":memory:".into(),
        ..Config::default()
    };
    let env = Env::new(config, vec!["motd".into()], vec![tx]);
    let mut world = World::default();
    let ids: Vec<ConnId> = (0..3).map(|i| ConnId { slot: i, gen: 1 }).collect();
    let mut out: Vec<Out> = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let mut ctx = Ctx {
            world: &mut world,
            env: &env,
            conn: id,
            out: &mut out,
        };
        commands::accepted(&mut ctx, [127, 0, 0, 1].into(), i == 2);
        for line in [
            format!("NICK n{i}"),
            format!("USER u{i} 0 * :real"),
            "JOIN #f".to_string(),
        ] {
            commands::handle_line(&mut ctx, line.as_bytes());
        }
    }
    world.set_user_mode(ids[0], UserModes::OPER, true);
    for chunk in data.split(|&b| b == b'\n') {
        let Some((&who, line)) = chunk.split_first() else {
            continue;
        };
        let id = ids[who as usize % ids.len()];
        if world.client(id).is_none() {
            continue;
        }
        let mut ctx = Ctx {
            world: &mut world,
            env: &env,
            conn: id,
            out: &mut out,
        };
        commands::handle_line(&mut ctx, line.strip_suffix(b"\r").unwrap_or(line));
        out.clear();
    }
    for (id, c) in world.clients.iter() {
        for key in &c.channels {
            let ch = world
                .channel(key.as_str())
                .expect("a client's channel exists");
            assert!(ch.members.contains_key(id), "membership is two-way");
        }
    }
});

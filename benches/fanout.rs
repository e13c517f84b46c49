//! The worker half of a channel broadcast: one PRIVMSG handled against state
//! holding a channel of 1,000 members, producing the output batch the reactor
//! applies (one shared encoded line plus the recipient list). The reactor half
//! (queueing and writev) is measured end to end with loadgen; see BENCHMARKS.md.
//!
//! `cargo bench --bench fanout`

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use parley::bus::{ConnId, Out};
use parley::commands::{self, Ctx, Env};
use parley::state::{Client, World};
use parley::Config;

fn world_with_channel(members: u32) -> World {
    let mut world = World::default();
    for i in 0..members {
        let id = ConnId { slot: i, gen: 1 };
        world
            .clients
            .insert(id, Client::new([127, 0, 0, 1].into(), true));
        let c = world.client_mut(id).unwrap();
        c.set_ident(&format!("~u{i}"), "bench");
        world.set_nick(id, &format!("user{i}"));
        world.mark_registered(id, 0);
        world.join(id, "#big", 0);
    }
    world
}

fn fanout(c: &mut Criterion) {
    let (tx, _rx) = crossbeam_channel::unbounded();
    let env = Env::new(Config::default(), Vec::new(), vec![tx]);
    let mut world = world_with_channel(1000);
    let sender = ConnId { slot: 0, gen: 1 };
    let mut g = c.benchmark_group("fanout");
    g.throughput(Throughput::Elements(999));
    g.bench_function("privmsg_1000_members", |b| {
        b.iter_batched_ref(
            Vec::new,
            |out: &mut Vec<Out>| {
                let mut ctx = Ctx {
                    world: &mut world,
                    env: &env,
                    conn: sender,
                    out,
                };
                commands::handle_line(
                    &mut ctx,
                    black_box(b"PRIVMSG #big :hello everyone, this is a broadcast"),
                );
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);

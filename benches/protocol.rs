//! Parser and encoder cost per line.
//!
//! `cargo bench --bench protocol`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use parley::protocol::{LineBuilder, Message};

const PRIVMSG: &str =
    ":alice!~alice@127.0.0.1 PRIVMSG #lobby :hello there, this is a fairly ordinary chat line";
const TAGGED: &str =
    "@time=2026-11-23T14:01:35.123Z;+typing=active :alice!~alice@127.0.0.1 PRIVMSG #lobby :hi";

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("privmsg", |b| {
        b.iter(|| Message::parse(black_box(PRIVMSG)).unwrap())
    });
    g.bench_function("tagged", |b| {
        b.iter(|| Message::parse(black_box(TAGGED)).unwrap())
    });
    g.bench_function("registration", |b| {
        b.iter(|| Message::parse(black_box("USER alice 0 * :Alice Liddell")).unwrap())
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("privmsg", |b| {
        b.iter(|| {
            LineBuilder::new(Some(black_box("alice!~alice@127.0.0.1")), "PRIVMSG")
                .param(black_box("#lobby"))
                .trailing(black_box(
                    "hello there, this is a fairly ordinary chat line",
                ))
                .build()
        })
    });
    g.bench_function("numeric", |b| {
        b.iter(|| {
            LineBuilder::new(Some("parley.local"), "353")
                .param(black_box("alice"))
                .param("=")
                .param("#lobby")
                .trailing(black_box("@alice bob carol dave"))
                .build()
        })
    });
    g.finish();
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);

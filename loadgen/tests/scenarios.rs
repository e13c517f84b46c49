//! Each scenario run briefly against an in-process parley server on
//! 127.0.0.1:0: counts must add up (no loss, order kept) and the JSON, hgrm
//! and SVG files must parse. Every run carries its own `--timeout`, so no test
//! can hang.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use loadgen::{Cli, Report};
use parley::{Config, Server, ServerHandle};
use serde_json::Value;

/// A parley server for one test, shut down on drop.
struct TestServer {
    handle: Option<ServerHandle>,
    addr: SocketAddr,
}

impl TestServer {
    fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            workers: 2,
            db: ":memory:".into(),
            // Load comes from one address at high rates: no per-address cap,
            // no flood control.
            max_per_ip: 0,
            flood_rate: 0,
            ..Config::default()
        };
        tweak(&mut config);
        let handle = Server::start(config).expect("parley starts");
        let addr = handle.local_addr();
        TestServer {
            handle: Some(handle),
            addr,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.shutdown();
        }
    }
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs loadgen with `args` (after the program name) and returns the report,
/// printing the table so a failing test shows it.
fn run(args: &[&str]) -> Report {
    let mut argv = vec!["loadgen"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--quiet", "--timeout", "60"]);
    let cli = Cli::try_parse_from(&argv).expect("valid command line");
    let mut out = Vec::new();
    let report = loadgen::execute(&cli, argv.iter().map(|s| s.to_string()).collect(), &mut out)
        .expect("run starts");
    println!("{}", String::from_utf8_lossy(&out));
    report
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("JSON parses")
}

/// Parses an hgrm file; returns (rows, total count from the footer).
fn read_hgrm(path: &Path) -> (Vec<(f64, f64, u64)>, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    let mut rows = Vec::new();
    let mut total = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#[") {
            if let Some(i) = rest.find("Total count    =") {
                let n = rest[i + "Total count    =".len()..]
                    .trim()
                    .trim_end_matches(']')
                    .trim();
                total = Some(n.parse::<u64>().unwrap());
            }
            continue;
        }
        let cols: Vec<_> = line.split_whitespace().collect();
        assert!(cols.len() == 3 || cols.len() == 4, "bad row {line:?}");
        let row = (
            cols[0].parse::<f64>().unwrap(),
            cols[1].parse::<f64>().unwrap(),
            cols[2].parse::<u64>().unwrap(),
        );
        if cols.len() == 4 {
            let inv: f64 = cols[3].parse().unwrap();
            assert!((inv - 1.0 / (1.0 - row.1)).abs() < 0.01 * inv.max(1.0));
        }
        rows.push(row);
    }
    for w in rows.windows(2) {
        assert!(w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2);
    }
    (rows, total.expect("footer with the total count"))
}

fn assert_no_loss(r: &Report) {
    let m = r.messages.as_ref().expect("message counts");
    assert!(m.sent > 0, "nothing sent");
    assert_eq!(m.delivered, m.expected, "delivered == expected");
    assert_eq!(m.lost, 0);
    assert_eq!(m.out_of_order, 0);
    assert_eq!(m.gaps, 0);
    assert_eq!(m.unexpected, 0);
    assert!(r.passed, "problems: {:?}", r.problems);
}

#[test]
fn connect_registers_every_client_and_writes_files() {
    let server = TestServer::start();
    let dir = TempDir::new("connect");
    let (json, hgrm, plot) = (dir.file("r.json"), dir.file("r.hgrm"), dir.file("r.svg"));
    let target = server.addr.to_string();
    let r = run(&[
        "connect",
        "--target",
        &target,
        "--clients",
        "300",
        "--ramp",
        "3000",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(r.passed, "problems: {:?}", r.problems);
    assert_eq!(r.clients.ready, 300);
    assert_eq!(r.clients.failed, 0);
    assert_eq!(r.connect_latency.count, 300);

    let j = read_json(&json);
    assert_eq!(j["scenario"], "connect");
    assert_eq!(j["passed"], true);
    assert_eq!(j["clients"]["ready"], 300);
    assert_eq!(j["options"]["scenario"], "connect");
    assert_eq!(j["options"]["common"]["clients"], 300);
    assert_eq!(j["options"]["common"]["ramp"], 3000.0);
    assert_eq!(j["connect_latency"]["count"], 300);
    let (rows, total) = read_hgrm(&hgrm);
    assert_eq!(total, 300);
    assert_eq!(rows.last().unwrap().2, 300);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("percentile"));
}

#[test]
fn channel_delivers_everything_in_order() {
    let server = TestServer::start();
    let dir = TempDir::new("channel");
    let (json, hgrm) = (dir.file("r.json"), dir.file("r.hgrm"));
    let target = server.addr.to_string();
    let r = run(&[
        "channel",
        "--target",
        &target,
        "--clients",
        "300",
        "--ramp",
        "3000",
        "--channels",
        "6",
        "--senders",
        "5",
        "--rate",
        "600",
        "--warmup",
        "0.5",
        "--duration",
        "2",
        "--size",
        "40",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
    ]);
    assert_no_loss(&r);
    let m = r.messages.as_ref().unwrap();
    assert_eq!(m.members, 50);
    // Every message reaches the other 49 members.
    assert_eq!(m.expected, m.sent * 49);
    // 2.5 s at 600/s, give or take the edges of the schedule.
    assert!((1400..=1600).contains(&m.sent), "sent {}", m.sent);
    assert_eq!(m.measured_delivered, m.measured_sent * 49);
    let lat = r.message_latency.as_ref().unwrap();
    assert_eq!(lat.count, m.measured_delivered);

    let j = read_json(&json);
    assert_eq!(j["messages"]["lost"], 0);
    assert_eq!(j["messages"]["delivered"], j["messages"]["expected"]);
    assert_eq!(j["options"]["traffic"]["rate"], 600.0);
    assert_eq!(j["options"]["senders"], 5);
    let (_, total) = read_hgrm(&hgrm);
    assert_eq!(total, lat.count);
}

#[test]
fn channel_at_max_rate_with_clients_in_several_channels() {
    let server = TestServer::start();
    let target = server.addr.to_string();
    // 4 channels x 60 members over 120 clients: everyone is in 2 channels.
    let r = run(&[
        "channel",
        "--target",
        &target,
        "--clients",
        "120",
        "--ramp",
        "0",
        "--channels",
        "4",
        "--members",
        "60",
        "--senders",
        "3",
        "--rate",
        "max",
        "--window",
        "4",
        "--warmup",
        "0.2",
        "--duration",
        "1",
    ]);
    assert_no_loss(&r);
    let m = r.messages.as_ref().unwrap();
    assert_eq!(m.expected, m.sent * 59);
    assert!(r.notes.iter().any(|n| n.contains("up to 2 channels")));
}

#[test]
fn private_pairs_deliver_everything() {
    let server = TestServer::start();
    let dir = TempDir::new("private");
    let json = dir.file("r.json");
    let target = server.addr.to_string();
    let r = run(&[
        "private",
        "--target",
        &target,
        "--clients",
        "200",
        "--ramp",
        "4000",
        "--rate",
        "500",
        "--warmup",
        "0.5",
        "--duration",
        "1.5",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_no_loss(&r);
    let m = r.messages.as_ref().unwrap();
    assert_eq!(m.expected, m.sent);
    assert!((900..=1100).contains(&m.sent), "sent {}", m.sent);
    let j = read_json(&json);
    assert_eq!(j["scenario"], "private");
    assert_eq!(j["messages"]["out_of_order"], 0);
}

#[test]
fn idle_holds_clients_answers_pings_and_measures_server_memory() {
    // The server PINGs after a second of silence and drops clients that do
    // not answer within two.
    let server = TestServer::start_with(|c| {
        c.ping_interval = 1;
        c.ping_timeout = 2;
    });
    let target = server.addr.to_string();
    // The server runs in this process, so its RSS is ours.
    let pid = std::process::id().to_string();
    let r = run(&[
        "idle",
        "--target",
        &target,
        "--clients",
        "200",
        "--ramp",
        "4000",
        "--duration",
        "3.5",
        "--settle",
        "0.5",
        "--server-pid",
        &pid,
    ]);
    assert!(r.passed, "problems: {:?}", r.problems);
    assert_eq!(r.clients.ready, 200);
    assert_eq!(r.clients.dropped, 0);
    assert!(r.clients.pings_answered >= 200, "{:?}", r.clients);
    let mem = r.memory.as_ref().unwrap();
    assert!(mem.rss_before_bytes.unwrap() > 0);
    assert!(mem.rss_after_bytes.unwrap() > 0);
    assert!(mem.bytes_per_client.is_some());
    assert!(mem.error.is_none());
}

#[test]
fn clients_spread_over_source_addresses() {
    let server = TestServer::start();
    let target = server.addr.to_string();
    let r = run(&[
        "connect",
        "--target",
        &target,
        "--clients",
        "100",
        "--ramp",
        "0",
        "--source",
        "127.0.0.2-127.0.0.5",
        "--nick-prefix",
        "src",
    ]);
    assert!(r.passed, "problems: {:?}", r.problems);
    assert_eq!(r.clients.ready, 100);
}

#[test]
fn refused_connections_are_reported_by_reason() {
    // Bind and drop a listener to find a port with nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    let r = run(&["connect", "--target", &target, "--clients", "20"]);
    assert!(!r.passed);
    assert_eq!(r.clients.failed, 20);
    assert_eq!(r.clients.failures.get("refused"), Some(&20));

    let allowed = run(&[
        "connect",
        "--target",
        &target,
        "--clients",
        "5",
        "--allow-failures",
    ]);
    // Nobody became ready, which fails the run even when failures are allowed.
    assert!(!allowed.passed);
    assert!(allowed.notes.iter().any(|n| n.contains("5 of 5")));
}

#[test]
fn impossible_settings_fail_clearly_before_connecting() {
    let hard = loadgen::sys::raise_fd_limit().unwrap().hard;
    if hard < u64::from(u32::MAX) {
        let too_many = (hard + 1).to_string();
        let cli = Cli::try_parse_from([
            "loadgen",
            "connect",
            "--clients",
            &too_many,
            "--max-nick-len",
            "30",
        ])
        .unwrap();
        let err = loadgen::execute(&cli, Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(err.0.contains("RLIMIT_NOFILE"), "{err}");
    }

    let cli = Cli::try_parse_from([
        "loadgen",
        "connect",
        "--clients",
        "100000",
        "--nick-prefix",
        "abcdefg",
    ])
    .unwrap();
    let err = loadgen::execute(&cli, Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("--max-nick-len"), "{err}");

    let cli =
        Cli::try_parse_from(["loadgen", "channel", "--clients", "10", "--channels", "10"]).unwrap();
    let err = loadgen::execute(&cli, Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("at least 2"), "{err}");
}

#[test]
fn reference_parley_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/parley-load.toml");
    let c = Config::from_file(&path).expect("parses");
    c.validate().expect("valid");
    assert_eq!(c.max_per_ip, 0);
    assert_eq!(c.flood_rate, 0);
}

//! `parleyd`: the parley server. Runs on built-in defaults (127.0.0.1:6667)
//! with no arguments; flags and an optional TOML file change any setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use parley::{Config, Server};

#[derive(Parser, Debug)]
#[command(name = "parleyd", version, about = "parley IRC server")]
struct Args {
    /// TOML configuration file; flags given here override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (repeat for several). Default 127.0.0.1:6667.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// Address to listen on with TLS (repeatable), e.g. 0.0.0.0:6697.
    #[arg(long, value_name = "ADDR")]
    listen_tls: Vec<SocketAddr>,
    /// Address for WebSocket clients and the chat page (repeatable).
    #[arg(long, value_name = "ADDR")]
    listen_ws: Vec<SocketAddr>,
    /// Address for WebSocket over TLS and the chat page over https (repeatable).
    #[arg(long, value_name = "ADDR")]
    listen_wss: Vec<SocketAddr>,
    /// TLS certificate chain (PEM). Without it and --tls-key, a self-signed
    /// pair is made on first start and kept next to the database.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Origin allowed to open a WebSocket (repeatable; `*` for any). Default:
    /// only the page the WebSocket listener serves.
    #[arg(long, value_name = "ORIGIN")]
    ws_origin: Vec<String>,
    /// Command worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Per-client send queue limit in bytes (default 1 MiB).
    #[arg(long)]
    sendq: Option<usize>,
    /// Most clients connected at once (also capped by the open-file limit).
    #[arg(long)]
    max_clients: Option<usize>,
    /// Message of the day file.
    #[arg(long, value_name = "FILE")]
    motd_file: Option<PathBuf>,
    /// Server name shown as the source of replies.
    #[arg(long)]
    server_name: Option<String>,
    /// Network name.
    #[arg(long)]
    network: Option<String>,
    /// Seconds before an idle client is sent PING.
    #[arg(long)]
    ping_interval: Option<u64>,
    /// Seconds to wait for the reply to PING.
    #[arg(long)]
    ping_timeout: Option<u64>,
    /// Seconds a connection may take to register.
    #[arg(long)]
    registration_timeout: Option<u64>,
    /// Account database file (SQLite). Default ./parley.db.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Most connections from one address (IPv6: per /64); 0 = no limit.
    #[arg(long)]
    max_per_ip: Option<usize>,
    /// Most connections still registering, server-wide.
    #[arg(long)]
    max_unregistered: Option<usize>,
    /// Lines a client may send at once before flood control holds it back.
    #[arg(long)]
    flood_burst: Option<u32>,
    /// Lines per second after the burst; 0 turns flood control off.
    #[arg(long)]
    flood_rate: Option<u32>,
    /// Lines held back before a client is dropped for flooding.
    #[arg(long)]
    flood_max_held: Option<usize>,
    /// Log level: error, warn, info, debug, trace (or RUST_LOG).
    #[arg(long, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Reads a password from stdin and prints its argon2 hash, for [[oper]]
    /// blocks in the configuration file.
    HashPassword,
}

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::new()
        .parse_filters(&std::env::var("RUST_LOG").unwrap_or_else(|_| args.log.clone()))
        .format_timestamp_millis()
        .init();
    if let Some(Command::HashPassword) = args.command {
        return hash_password();
    }
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parleyd: {e}");
            return ExitCode::from(2);
        }
    };
    let mut server = match Server::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("parleyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stopper = server.stopper();
    let mut signals = match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("parleyd: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            log::info!("signal {sig} received, shutting down");
            stopper.stop();
        }
    });
    match server.join() {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parleyd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build_config(args: &Args) -> Result<Config, Box<dyn std::error::Error>> {
    let mut c = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        c.listen = args.listen.clone();
    }
    if !args.listen_tls.is_empty() {
        c.listen_tls = args.listen_tls.clone();
    }
    if !args.listen_ws.is_empty() {
        c.listen_ws = args.listen_ws.clone();
    }
    if !args.listen_wss.is_empty() {
        c.listen_wss = args.listen_wss.clone();
    }
    if !args.ws_origin.is_empty() {
        c.ws_origins = args.ws_origin.clone();
    }
    if let Some(p) = &args.tls_cert {
        c.tls_cert = Some(p.clone());
    }
    if let Some(p) = &args.tls_key {
        c.tls_key = Some(p.clone());
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = &args.$field { c.$field = v.clone(); } )* };
    }
    set!(
        workers,
        sendq,
        max_clients,
        server_name,
        network,
        ping_interval,
        ping_timeout,
        registration_timeout,
        db,
        max_per_ip,
        max_unregistered,
        flood_burst,
        flood_rate,
        flood_max_held
    );
    if let Some(m) = &args.motd_file {
        c.motd_file = Some(m.clone());
        c.motd = None;
    }
    c.validate()?;
    Ok(c)
}

fn hash_password() -> ExitCode {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() || line.trim_end().is_empty() {
        eprintln!("parleyd: give the password on standard input");
        return ExitCode::from(2);
    }
    let salt = SaltString::generate(&mut OsRng);
    match argon2::Argon2::default()
        .hash_password(line.trim_end_matches(['\r', '\n']).as_bytes(), &salt)
    {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parleyd: hashing failed: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Server settings: every limit and name the server uses, with the defaults it
//! runs on when given no configuration at all.
//!
//! This module owns reading and checking settings (TOML file, then command-line
//! overrides applied by the binary). It must not start anything or touch sockets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the server needs to run. `Config::default()` is a working server
/// on 127.0.0.1:6667.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This server's name, shown as the source of its replies.
    pub server_name: String,
    /// The network name advertised in ISUPPORT and the welcome line.
    pub network: String,
    /// Plain TCP listen addresses.
    pub listen: Vec<SocketAddr>,
    /// TLS listen addresses (IRC over TLS, e.g. port 6697).
    pub listen_tls: Vec<SocketAddr>,
    /// WebSocket listen addresses (plain); `GET /` there serves the chat page.
    pub listen_ws: Vec<SocketAddr>,
    /// WebSocket-over-TLS listen addresses; the chat page too.
    pub listen_wss: Vec<SocketAddr>,
    /// PEM certificate chain for TLS; with neither this nor `tls_key`, a
    /// self-signed pair is made on first start and kept next to `db`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Origins whose pages may open a WebSocket (`*` for any); empty means
    /// only the page served by the WebSocket listener itself. Clients that
    /// send no Origin (not browsers) are always let in.
    pub ws_origins: Vec<String>,
    /// Command worker threads; 0 means one per available core.
    pub workers: usize,
    /// Most connections held at once (also capped by the open-file limit).
    pub max_clients: usize,
    /// Per-connection send queue limit in bytes; past it the client is dropped.
    pub sendq: usize,
    /// Longest line accepted from a client, without tags, counting CRLF.
    pub max_line: usize,
    /// Seconds an unregistered connection may take to register.
    pub registration_timeout: u64,
    /// Seconds of silence from a registered client before the server PINGs it.
    pub ping_interval: u64,
    /// Seconds to wait for any reply to that PING before dropping the client.
    pub ping_timeout: u64,
    /// Message of the day as text (takes precedence over `motd_file`).
    pub motd: Option<String>,
    /// File to read the message of the day from at start.
    pub motd_file: Option<PathBuf>,
    /// Server password required with PASS before registration, if set.
    pub password: Option<String>,
    /// The account database (SQLite); `:memory:` keeps it in memory only.
    pub db: PathBuf,
    /// Seconds a user may keep a registered nick without logging in to it
    /// before being renamed to a guest nick; 0 turns enforcement off.
    pub nick_enforce_grace: u64,
    /// Accounts that are server operators when logged in (besides those given
    /// the flag with `NickServ OPER`).
    pub oper_accounts: Vec<String>,
    /// Longest nickname.
    pub nicklen: usize,
    /// Longest channel name.
    pub channellen: usize,
    /// Longest topic.
    pub topiclen: usize,
    /// Longest kick reason.
    pub kicklen: usize,
    /// Longest away message.
    pub awaylen: usize,
    /// Most channels one client may be in.
    pub max_channels_per_client: usize,
    /// Most comma-separated targets in one PRIVMSG/NOTICE.
    pub max_targets: usize,
    /// Most bans (+b) on one channel.
    pub max_bans: usize,
    /// Microseconds the reactor may gather output before writing it out, so
    /// that under load one write carries several lines; 0 writes at once.
    /// The first output after a quiet spell is always written at once.
    pub write_coalesce_us: u64,
    /// Most connections from one address (IPv6: one /64); 0 = no limit.
    pub max_per_ip: usize,
    /// Most connections that have not finished registering, server-wide.
    pub max_unregistered: usize,
    /// Lines a client may send at once before flood control holds it back.
    pub flood_burst: u32,
    /// Lines per second a client may send after its burst; 0 = no flood control.
    pub flood_rate: u32,
    /// Lines held back before the client is dropped with `ERROR :Excess Flood`.
    pub flood_max_held: usize,
    /// Operator accounts for OPER.
    #[serde(rename = "oper")]
    pub opers: Vec<OperConfig>,
}

/// One operator login: `OPER <name> <password>` where the password is checked
/// against an argon2 hash (make one with `parleyd hash-password`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperConfig {
    pub name: String,
    pub password_hash: String,
}

/// The message of the day used when none is configured.
pub const DEFAULT_MOTD: &str = "Welcome to parley.\nBe kind; have fun.";

impl Default for Config {
    fn default() -> Self {
        Config {
            server_name: "parley.local".into(),
            network: "Parley".into(),
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 6667))],
            listen_tls: Vec::new(),
            listen_ws: Vec::new(),
            listen_wss: Vec::new(),
            tls_cert: None,
            tls_key: None,
            ws_origins: Vec::new(),
            workers: 0,
            max_clients: 1_000_000,
            sendq: 1 << 20,
            max_line: 512,
            registration_timeout: 30,
            ping_interval: 120,
            ping_timeout: 60,
            motd: None,
            motd_file: None,
            password: None,
            db: PathBuf::from("./parley.db"),
            nick_enforce_grace: 30,
            oper_accounts: Vec::new(),
            nicklen: 30,
            channellen: 64,
            topiclen: 390,
            kicklen: 255,
            awaylen: 390,
            max_channels_per_client: 100,
            max_targets: 4,
            max_bans: 100,
            write_coalesce_us: 200,
            max_per_ip: 64,
            max_unregistered: 5000,
            flood_burst: 20,
            flood_rate: 5,
            flood_max_held: 100,
            opers: Vec::new(),
        }
    }
}

/// A configuration problem, with the setting or file it is about.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads a TOML file; settings it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("reading {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string()))
    }

    /// Checks that the settings make a working server.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError(m.to_string()));
        if self.listen.is_empty()
            && self.listen_tls.is_empty()
            && self.listen_ws.is_empty()
            && self.listen_wss.is_empty()
        {
            return bad("listen: at least one address is needed");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert and tls_key must be given together");
        }
        if self.server_name.is_empty() || self.server_name.contains([' ', ',', '!', '@']) {
            return bad("server_name: must be a non-empty name without spaces");
        }
        if self.network.is_empty() || self.network.contains(' ') {
            return bad("network: must be a non-empty name without spaces");
        }
        if self.max_line < 64 {
            return bad("max_line: must be at least 64");
        }
        if self.sendq < 4096 {
            return bad("sendq: must be at least 4096 bytes");
        }
        if self.nicklen == 0 || self.channellen < 2 {
            return bad("nicklen/channellen: too small");
        }
        if self.flood_rate > 0 && (self.flood_burst == 0 || self.flood_max_held == 0) {
            return bad("flood_burst and flood_max_held must be at least 1 when flood_rate is set");
        }
        if self.ping_interval == 0 || self.ping_timeout == 0 || self.registration_timeout == 0 {
            return bad("timeouts must be at least one second");
        }
        for o in &self.opers {
            if argon2::PasswordHash::new(&o.password_hash).is_err() {
                return Err(ConfigError(format!(
                    "oper {}: password_hash is not a PHC hash string (use `parleyd hash-password`)",
                    o.name
                )));
            }
        }
        Ok(())
    }

    /// The message of the day lines, read once at start.
    pub fn motd_lines(&self) -> Result<Vec<String>, ConfigError> {
        let text = match (&self.motd, &self.motd_file) {
            (Some(t), _) => t.clone(),
            (None, Some(p)) => std::fs::read_to_string(p)
                .map_err(|e| ConfigError(format!("motd_file {}: {e}", p.display())))?,
            (None, None) => DEFAULT_MOTD.to_string(),
        };
        Ok(text.lines().map(str::to_string).collect())
    }

    /// Worker count with 0 resolved to the number of cores.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn toml_overrides_and_rejects_unknown() {
        let c = Config::from_toml("sendq = 8192\nlisten = [\"127.0.0.1:7000\"]\n").unwrap();
        assert_eq!(c.sendq, 8192);
        assert_eq!(c.listen[0].port(), 7000);
        assert_eq!(c.ping_interval, 120);
        assert!(Config::from_toml("nope = 1").is_err());
    }
}

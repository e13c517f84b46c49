//! Command handling: one module per group of related commands, each a set of
//! functions that read a parsed message, update [`World`] and push encoded
//! replies into the batch headed back to the reactor.
//!
//! Commands never touch sockets and never block: anything slow (password
//! hashing) is sent to the rayon pool and resumes later as an
//! [`Event::Task`](crate::bus::Event).

pub mod account;
mod channel;
mod chanserv;
mod messaging;
mod mode;
mod nickserv;
mod oper;
pub mod pacing;
mod query;
mod registration;
mod sasl;
mod user;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;

use crate::bus::{ConnId, Event, Out};
use crate::config::Config;
use crate::protocol::{numeric::*, LineBuilder, Message, SharedLine};
use crate::state::{Caps, Client, World};

/// The server software name and version, as shown in 002, 004 and VERSION.
pub const VERSION: &str = concat!("parley-", env!("CARGO_PKG_VERSION"));

/// Fixed facts the commands need, built once at start.
pub struct Env {
    pub config: Config,
    pub motd: Vec<String>,
    /// ISUPPORT tokens, already split into lines of at most 13.
    pub isupport: Vec<String>,
    /// When the server started, for 003.
    pub created: String,
    /// The way back to a connection's worker after a slow task.
    pub resumer: Resumer,
    /// Accounts, their database and its pool.
    pub accounts: crate::accounts::Accounts,
}

/// A task that continues a command on the connection's worker, state locked.
pub type Task = Box<dyn FnOnce(&mut Ctx<'_>) + Send>;

/// Sends [`Task`]s to the worker that owns a connection.
#[derive(Clone)]
pub struct Resumer(Arc<[Sender<Event>]>);

impl Resumer {
    pub fn new(workers: Vec<Sender<Event>>) -> Self {
        Resumer(workers.into())
    }

    /// Runs `task` later on the worker that owns `conn`, unless the
    /// connection is gone by then.
    pub fn resume(&self, conn: ConnId, task: Task) {
        let _ = self.0[conn.worker(self.0.len())].send(Event::Task { conn, task });
    }
}

impl Env {
    pub fn new(config: Config, motd: Vec<String>, workers: Vec<Sender<Event>>) -> Self {
        let isupport = isupport_tokens(&config)
            .chunks(13)
            .map(|c| c.join(" "))
            .collect();
        Env {
            config,
            motd,
            isupport,
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            resumer: Resumer::new(workers),
            accounts: crate::accounts::Accounts::in_memory(),
        }
    }

    /// Uses `accounts` (the server's database) instead of a private in-memory one.
    pub fn with_accounts(mut self, accounts: crate::accounts::Accounts) -> Self {
        self.accounts = accounts;
        self
    }
}

fn isupport_tokens(c: &Config) -> Vec<String> {
    vec![
        format!("AWAYLEN={}", c.awaylen),
        "CASEMAPPING=rfc1459".into(),
        format!("CHANLIMIT=#:{}", c.max_channels_per_client),
        "CHANMODES=b,k,l,imnt".into(),
        format!("CHANNELLEN={}", c.channellen),
        "CHANTYPES=#".into(),
        format!("KICKLEN={}", c.kicklen),
        format!("MAXLIST=b:{}", c.max_bans),
        format!("MAXTARGETS={}", c.max_targets),
        "MODES=4".into(),
        format!("NETWORK={}", c.network),
        format!("NICKLEN={}", c.nicklen),
        "PREFIX=(ov)@+".into(),
        format!(
            "TARGMAX=PRIVMSG:{0},NOTICE:{0},TAGMSG:{0},JOIN:,PART:,KICK:1,WHOIS:1",
            c.max_targets
        ),
        format!("TOPICLEN={}", c.topiclen),
        "UTF8ONLY".into(),
        "USERLEN=10".into(),
    ]
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One command's view of the server: the state, the fixed environment, the
/// connection it came from, and the batch of output it is building.
pub struct Ctx<'a> {
    pub world: &'a mut World,
    pub env: &'a Env,
    pub conn: ConnId,
    pub out: &'a mut Vec<Out>,
}

/// A message relayed from a client (or about one) to many recipients, encoded
/// once per variant of tags the recipients asked for.
pub struct Relay<'a> {
    pub source: &'a str,
    pub command: &'a str,
    pub params: &'a [&'a str],
    /// Always sent as the trailing parameter.
    pub text: Option<&'a str>,
    /// Client-only tags (`+name=value;...`) to pass to message-tags users.
    pub client_tags: Option<&'a str>,
}

impl Ctx<'_> {
    /// The client this command came from. Dispatch guarantees it exists.
    pub fn me(&self) -> &Client {
        &self.world.clients[&self.conn]
    }

    pub fn me_mut(&mut self) -> &mut Client {
        self.world
            .clients
            .get_mut(&self.conn)
            .expect("dispatch checked the client exists")
    }

    pub fn server_name(&self) -> &str {
        &self.env.config.server_name
    }

    /// Starts a numeric reply to this client: `:server CODE nick`.
    pub fn numeric(&self, code: &str) -> LineBuilder {
        LineBuilder::new(Some(self.server_name()), code).param(self.me().target())
    }

    /// Sends a numeric whose last parameter is trailing text. Middle
    /// parameters often echo what the client sent, so they are passed through
    /// [`middle_param`] to keep the reply one well-formed line.
    pub fn num(&mut self, code: &str, params: &[&str]) {
        let mut b = self.numeric(code);
        if let Some((text, middle)) = params.split_last() {
            for p in middle {
                b.push_param(&middle_param(p));
            }
            b = b.trailing(text);
        }
        self.send(b.build());
    }

    /// Sends a line to this client.
    pub fn send(&mut self, line: SharedLine) {
        self.out.push(Out::Line(self.conn, line));
    }

    /// Sends a line to another connection.
    pub fn send_to(&mut self, to: ConnId, line: SharedLine) {
        self.out.push(Out::Line(to, line));
    }

    /// A line from the server itself: `:server COMMAND params`.
    pub fn server_line(&self, command: &str) -> LineBuilder {
        LineBuilder::new(Some(self.server_name()), command)
    }

    /// Sends `msg` to `targets`, one encoding per tag variant. With
    /// `tag_only`, recipients without message-tags are skipped (TAGMSG).
    pub fn relay(&mut self, targets: &[ConnId], msg: &Relay, tag_only: bool) {
        // What the sender's record adds: its account (account-tag), and for
        // JOIN its account and real name (extended-join).
        let sender = msg
            .source
            .split_once('!')
            .and_then(|(nick, _)| self.world.find_nick(nick))
            .and_then(|id| self.world.client(id));
        let account = sender.and_then(|c| c.account.as_deref());
        let extended_join = match sender {
            Some(c) if msg.command == "JOIN" => Some((account.unwrap_or("*"), c.realname())),
            _ => None,
        };
        let mut groups: [Vec<ConnId>; 16] = Default::default();
        for &t in targets {
            let Some(c) = self.world.clients.get(&t) else {
                continue;
            };
            let tags_ok = c.caps.has(Caps::MESSAGE_TAGS);
            if tag_only && !tags_ok {
                continue;
            }
            let v = c.caps.has(Caps::SERVER_TIME) as usize
                | ((tags_ok && msg.client_tags.is_some()) as usize) << 1
                | ((account.is_some() && c.caps.has(Caps::ACCOUNT_TAG)) as usize) << 2
                | ((extended_join.is_some() && c.caps.has(Caps::EXTENDED_JOIN)) as usize) << 3;
            groups[v].push(t);
        }
        let mut time = None;
        for (v, group) in groups.into_iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let mut tags = String::new();
            if v & 1 != 0 {
                let t = time.get_or_insert_with(|| {
                    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
                });
                tags.push_str("time=");
                tags.push_str(t);
            }
            if v & 2 != 0 {
                if !tags.is_empty() {
                    tags.push(';');
                }
                tags.push_str(msg.client_tags.unwrap_or_default());
            }
            if let (true, Some(a)) = (v & 4 != 0, account) {
                if !tags.is_empty() {
                    tags.push(';');
                }
                tags.push_str("account=");
                tags.push_str(a);
            }
            let mut b = LineBuilder::with_tags(Some(&tags), Some(msg.source), msg.command);
            for p in msg.params {
                b.push_param(p);
            }
            if let (true, Some((account, realname))) = (v & 8 != 0, extended_join) {
                b.push_param(account);
                b = b.trailing(realname);
            }
            if let Some(text) = msg.text {
                b = b.trailing(text);
            }
            let line = b.build();
            if group.len() == 1 {
                self.out.push(Out::Line(group[0], line));
            } else {
                self.out.push(Out::Fanout(group.into_boxed_slice(), line));
            }
        }
    }
}

/// A client-supplied word made safe to send as a middle parameter: one that
/// is empty, starts with `:` or holds a space (all possible when a client
/// sends e.g. `JOIN :a b`) would otherwise turn into the trailing parameter
/// and shift or swallow the parameters after it.
pub fn middle_param(p: &str) -> std::borrow::Cow<'_, str> {
    if !p.is_empty() && !p.starts_with(':') && !p.contains(' ') {
        return p.into();
    }
    let cleaned = p.trim_start_matches(':').replace(' ', "_");
    if cleaned.is_empty() {
        "*".into()
    } else {
        cleaned.into()
    }
}

/// Handles one received line from a connection whose client record exists.
pub fn handle_line(ctx: &mut Ctx, raw: &[u8]) {
    let Ok(text) = std::str::from_utf8(raw) else {
        let lossy = String::from_utf8_lossy(raw);
        let command = Message::parse(&lossy)
            .map_or("*", |m| m.command)
            .to_ascii_uppercase();
        let line = ctx
            .server_line("FAIL")
            .param(&middle_param(&command))
            .param("INVALID_UTF8")
            .trailing("Message rejected, your message contained invalid UTF-8")
            .build();
        ctx.send(line);
        return;
    };
    let Ok(msg) = Message::parse(text) else {
        return;
    };
    let command = msg.command.to_ascii_uppercase();
    if !ctx.me().registered && !registration::allowed_before_registration(&command) {
        if !matches!(command.as_str(), "NOTICE") {
            ctx.num(ERR_NOTREGISTERED, &["You have not registered"]);
        }
        return;
    }
    match command.as_str() {
        "CAP" => registration::cap(ctx, &msg),
        "PASS" => registration::pass(ctx, &msg),
        "NICK" => registration::nick(ctx, &msg),
        "USER" => registration::user(ctx, &msg),
        "LUSERS" => registration::lusers(ctx),
        "MOTD" => registration::motd(ctx),
        "PING" => user::ping(ctx, &msg),
        "PONG" => {}
        "QUIT" => user::quit(ctx, &msg),
        "AWAY" => user::away(ctx, &msg),
        "JOIN" => channel::join(ctx, &msg),
        "PART" => channel::part(ctx, &msg),
        "TOPIC" => channel::topic(ctx, &msg),
        "NAMES" => pacing::paced(ctx, |ctx| channel::names(ctx, &msg)),
        "LIST" => pacing::paced(ctx, |ctx| channel::list(ctx, &msg)),
        "KICK" => channel::kick(ctx, &msg),
        "INVITE" => channel::invite(ctx, &msg),
        "PRIVMSG" if account::to_service(&msg) => account::service_message(ctx, &msg),
        "NICKSERV" | "NS" => nickserv::command(ctx, msg.params()),
        "CHANSERV" | "CS" => chanserv::command(ctx, msg.params()),
        "AUTHENTICATE" => sasl::authenticate(ctx, &msg),
        "REGISTER" => account::register(ctx, &msg),
        "PRIVMSG" | "NOTICE" | "TAGMSG" => messaging::message(ctx, &command, &msg),
        "MODE" => mode::mode(ctx, &msg),
        "WHO" => pacing::paced(ctx, |ctx| query::who(ctx, &msg)),
        "WHOIS" => query::whois(ctx, &msg),
        "ISON" => query::ison(ctx, &msg),
        "USERHOST" => query::userhost(ctx, &msg),
        "VERSION" => query::version(ctx),
        "TIME" => query::time(ctx),
        "OPER" => oper::oper(ctx, &msg),
        "WALLOPS" => oper::wallops(ctx, &msg),
        "KILL" => oper::kill(ctx, &msg),
        _ => ctx.num(ERR_UNKNOWNCOMMAND, &[&command, "Unknown command"]),
    }
}

/// A new connection: create its client record.
pub fn accepted(ctx: &mut Ctx, ip: std::net::IpAddr, tls: bool) {
    let pass_ok = ctx.env.config.password.is_none();
    let mut client = Client::new(ip, pass_ok);
    client.tls = tls;
    ctx.world.clients.insert(ctx.conn, client);
}

/// A line over the length limit.
pub fn line_too_long(ctx: &mut Ctx) {
    ctx.num(ERR_INPUTTOOLONG, &["Input line was too long"]);
}

/// The connection is gone: tell its peers and forget it.
pub fn closed(ctx: &mut Ctx, reason: &str) {
    user::depart(ctx, ctx.conn, reason);
}

/// Says "need more parameters" and returns None when `msg` has fewer than `n`.
pub fn need_params<'m>(ctx: &mut Ctx, msg: &Message<'m>, n: usize) -> Option<()> {
    if msg.params().len() < n || msg.params().iter().take(n).any(|p| p.is_empty()) {
        let cmd = msg.command.to_ascii_uppercase();
        ctx.num(ERR_NEEDMOREPARAMS, &[&cmd, "Not enough parameters"]);
        return None;
    }
    Some(())
}

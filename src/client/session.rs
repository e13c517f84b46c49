//! The client's session loop: what the client knows and does between the
//! network and the person.
//!
//! This module owns the client's state (our nick, registration, joined
//! channels, where typed text goes, whether we are waiting for the server)
//! and its decisions: when to ask for the next typed line, what to send for
//! each command, answering PING, and what to do when the connection ends. It
//! reads every [`Incoming`] from one channel; it shows lines and asks for
//! input only through the [`Ui`] trait, so it knows nothing of terminals.
//!
//! Pacing: the next line of input is asked for only when the session is not
//! waiting for the server (for registration, or for a JOIN to be confirmed),
//! so a script's `hello` after `/join #a` is never sent before the JOIN has
//! taken effect.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::event::{self, Event, MsgKind};
use super::format::{self, is_channel, View};
use super::input::{self, Input};
use super::net::Connection;
use super::{Incoming, Options};
use crate::protocol::{irc_eq, LineBuilder, Message};

/// Longest chat text put in one PRIVMSG; longer text is sent in pieces so the
/// line stays under the server's 512-byte limit whatever our prefix is.
const MAX_TEXT: usize = 400;
/// How long to wait for a JOIN to be confirmed before taking input anyway.
const JOIN_WAIT: Duration = Duration::from_secs(10);
/// How long registration may take before giving up.
const REGISTER_WAIT: Duration = Duration::from_secs(30);
/// How long to wait for the server to close after our QUIT.
const QUIT_WAIT: Duration = Duration::from_secs(5);
/// Reconnect attempts in a row before giving up (with `--reconnect`).
pub const MAX_ATTEMPTS: u32 = 8;

/// Exit status when the connection was lost or could not be made.
pub const EXIT_DISCONNECTED: i32 = 1;
/// Exit status when a script's name was refused (taken or invalid).
pub const EXIT_NAME_REFUSED: i32 = 2;

/// What the session asks the front end for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Our name ("Your name: ").
    Name,
    /// A chat line, with the prompt to show (e.g. `#lobby> `).
    Chat(String),
}

/// The front end: where lines are shown and typed lines come from.
pub trait Ui {
    /// Shows one finished line (already formatted).
    fn show(&mut self, line: &str);
    /// Shows why the client is stopping, just before it exits.
    fn fatal(&mut self, line: &str);
    /// Asks for one more line of input, sent back as [`Incoming::Input`] (or
    /// [`Incoming::InputEnd`]). Called again only after that line arrived.
    fn ask(&mut self, ask: Ask);
}

/// What the session is waiting for before it takes more input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wait {
    /// Nothing: input is welcome.
    Nothing,
    /// A name typed by the person.
    Name,
    /// The server's 001 (until the deadline).
    Registration(Instant),
    /// The server's confirmation of joining this channel.
    Join(String, Instant),
    /// Time to connect again.
    Reconnect(Instant),
}

/// One run of the client.
pub struct Session<U: Ui> {
    opts: Options,
    ui: U,
    tx: Sender<Incoming>,
    rx: Receiver<Incoming>,
    conn: Option<Connection>,
    generation: u64,
    /// Our nick (the one wanted, until 001 tells us the real one).
    me: String,
    registered: bool,
    /// USER has been sent on the current connection.
    user_sent: bool,
    /// The server echoes our own messages back (IRCv3 `echo-message`), so
    /// they are shown when the server has taken them, in the server's order.
    /// Without it they are shown as they are sent.
    echo: bool,
    /// Where typed text goes.
    current: Option<String>,
    /// Channels we are in, in joining order.
    channels: Vec<String>,
    wait: Wait,
    /// A line of input has been asked for and not yet received.
    asked: bool,
    /// The input has ended or we quit: never ask again.
    input_done: bool,
    /// We sent QUIT: wait for the close until this instant, then exit 0.
    quitting: Option<Instant>,
    /// The text of the server's ERROR line, if it sent one.
    server_error: Option<String>,
    /// Reconnect attempts since the last successful registration.
    attempts: u32,
    /// Set when the session is over, with the exit status.
    exit: Option<i32>,
}

impl<U: Ui> Session<U> {
    /// A session reading events from `rx`; `tx` is the sending side of the
    /// same channel (the front end sends input there, connections lines).
    pub fn new(opts: Options, ui: U, tx: Sender<Incoming>, rx: Receiver<Incoming>) -> Self {
        Session {
            me: opts.nick.clone().unwrap_or_default(),
            opts,
            ui,
            tx,
            rx,
            conn: None,
            generation: 0,
            registered: false,
            user_sent: false,
            echo: false,
            current: None,
            channels: Vec::new(),
            wait: Wait::Name,
            asked: false,
            input_done: false,
            quitting: None,
            server_error: None,
            attempts: 0,
            exit: None,
        }
    }

    /// Runs until the person quits or the connection is lost for good;
    /// returns the process exit status.
    pub fn run(mut self) -> i32 {
        if self.opts.nick.is_some() {
            if let Err(e) = self.connect() {
                return self.fail(
                    EXIT_DISCONNECTED,
                    &format!("could not connect to {}: {e}", self.address()),
                );
            }
            self.register();
        }
        loop {
            if let Some(code) = self.exit {
                return code;
            }
            self.maybe_ask();
            let event = match self.deadline() {
                Some(at) => self
                    .rx
                    .recv_deadline(at)
                    .map_err(|e| matches!(e, RecvTimeoutError::Timeout)),
                None => self.rx.recv().map_err(|_| false),
            };
            match event {
                Ok(ev) => self.handle(ev),
                Err(true) => self.on_deadline(),
                // Cannot happen: we hold a sender ourselves.
                Err(false) => return 0,
            }
        }
    }

    fn address(&self) -> String {
        format!("{}:{}", self.opts.host, self.opts.port)
    }

    // ---- showing things -------------------------------------------------

    fn view_stamp(&self) -> Option<String> {
        self.opts
            .timestamps
            .then(|| jiff::Zoned::now().strftime("%H:%M").to_string())
    }

    fn view<'a>(&'a self, stamp: &'a Option<String>) -> View<'a> {
        View {
            me: &self.me,
            current: self.current.as_deref(),
            color: self.opts.color,
            stamp: stamp.as_deref(),
        }
    }

    fn show_event(&mut self, event: &Event) {
        let stamp = self.view_stamp();
        if let Some(line) = format::render(event, &self.view(&stamp)) {
            self.ui.show(&line);
        }
    }

    fn info(&mut self, text: &str) {
        let stamp = self.view_stamp();
        let line = format::info(&self.view(&stamp), text);
        self.ui.show(&line);
    }

    fn error(&mut self, text: &str) {
        let stamp = self.view_stamp();
        let line = format::error(&self.view(&stamp), text);
        self.ui.show(&line);
    }

    /// Ends the session with `code` after saying why.
    fn fail(&mut self, code: i32, why: &str) -> i32 {
        self.ui.fatal(&format!("parley: {why}"));
        self.exit = Some(code);
        code
    }

    // ---- the loop's plumbing --------------------------------------------

    fn maybe_ask(&mut self) {
        if self.asked || self.input_done || self.quitting.is_some() {
            return;
        }
        let ask = match self.wait {
            Wait::Name => Ask::Name,
            Wait::Nothing => Ask::Chat(match &self.current {
                Some(c) => format!("{c}> "),
                None => "> ".to_string(),
            }),
            _ => return,
        };
        self.asked = true;
        self.ui.ask(ask);
    }

    fn deadline(&self) -> Option<Instant> {
        let waiting = match &self.wait {
            Wait::Registration(at) | Wait::Join(_, at) | Wait::Reconnect(at) => Some(*at),
            Wait::Nothing | Wait::Name => None,
        };
        match (waiting, self.quitting) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.quitting.is_some_and(|at| at <= now) {
            // The server did not close after our QUIT: leave anyway.
            if let Some(c) = &self.conn {
                c.close();
            }
            self.exit = Some(0);
            return;
        }
        match self.wait.clone() {
            Wait::Join(chan, at) if at <= now => {
                self.error(&format!("no answer from the server about joining {chan}"));
                self.wait = Wait::Nothing;
            }
            Wait::Registration(at) if at <= now => {
                let why = format!("{} did not finish registering us", self.address());
                self.fail(EXIT_DISCONNECTED, &why);
            }
            Wait::Reconnect(at) if at <= now => self.reconnect(),
            _ => {}
        }
    }

    fn handle(&mut self, ev: Incoming) {
        match ev {
            Incoming::Line(gen, line) if gen == self.generation => self.server_line(&line),
            Incoming::Closed(gen, why) if gen == self.generation => self.closed(why),
            Incoming::Line(..) | Incoming::Closed(..) => {}
            Incoming::Input(line) => {
                self.asked = false;
                if self.wait == Wait::Name {
                    self.got_name(&line);
                } else {
                    self.typed(&line);
                }
            }
            Incoming::InputEnd => {
                self.asked = false;
                self.input_done = true;
                self.quit(None);
            }
        }
    }

    // ---- the connection -------------------------------------------------

    fn connect(&mut self) -> std::io::Result<()> {
        self.generation += 1;
        let conn = Connection::open(
            &self.opts.host,
            self.opts.port,
            self.opts.tls,
            self.generation,
            self.tx.clone(),
        )?;
        self.conn = Some(conn);
        self.registered = false;
        self.user_sent = false;
        self.echo = false;
        self.server_error = None;
        Ok(())
    }

    fn send(&mut self, line: LineBuilder) {
        self.send_raw(&line.into_bytes());
    }

    /// Writes bytes to the server. A failed write needs no handling here: the
    /// reader thread sees the same broken socket and reports `Closed`.
    fn send_raw(&mut self, bytes: &[u8]) {
        if let Some(c) = &mut self.conn {
            let _ = c.send(bytes);
        }
    }

    /// Sends NICK (and, once per connection, a request for `echo-message`
    /// and USER) and waits for 001.
    fn register(&mut self) {
        let nick = self.me.clone();
        if self.user_sent {
            self.send(LineBuilder::new(None, "NICK").param(&nick));
        } else {
            self.user_sent = true;
            self.send(
                LineBuilder::new(None, "CAP")
                    .param("REQ")
                    .trailing("echo-message"),
            );
            self.send(LineBuilder::new(None, "NICK").param(&nick));
            self.send(
                LineBuilder::new(None, "USER")
                    .param(&nick)
                    .param("0")
                    .param("*")
                    .trailing(&nick),
            );
            self.send(LineBuilder::new(None, "CAP").param("END"));
        }
        self.wait = Wait::Registration(Instant::now() + REGISTER_WAIT);
    }

    fn got_name(&mut self, line: &str) {
        let name = line.trim();
        if name.is_empty() || name.contains(' ') || name.starts_with('/') {
            self.error("a name is one word, like alice or bob_2");
            return;
        }
        self.me = name.to_string();
        if self.conn.is_none() {
            if let Err(e) = self.connect() {
                let why = format!("could not connect to {}: {e}", self.address());
                self.fail(EXIT_DISCONNECTED, &why);
                return;
            }
        }
        self.register();
    }

    fn closed(&mut self, io_error: Option<String>) {
        self.conn = None;
        self.registered = false;
        if self.quitting.is_some() {
            self.exit = Some(0);
            return;
        }
        let why = self
            .server_error
            .take()
            .or(io_error)
            .unwrap_or_else(|| "the server closed the connection".into());
        if self.opts.reconnect && self.attempts < MAX_ATTEMPTS {
            self.schedule_reconnect(&format!("lost the connection to the server ({why})"));
        } else {
            let text = format!("lost the connection to {} ({why})", self.address());
            self.fail(EXIT_DISCONNECTED, &text);
        }
    }

    /// The delay before reconnect attempt `n` (1-based): 1, 2, 4, ... 30 s.
    pub fn backoff(n: u32) -> Duration {
        Duration::from_secs((1u64 << n.saturating_sub(1).min(5)).min(30))
    }

    fn schedule_reconnect(&mut self, why: &str) {
        self.attempts += 1;
        let delay = Self::backoff(self.attempts);
        self.error(&format!(
            "{why}; trying again in {}s (attempt {} of {MAX_ATTEMPTS})",
            delay.as_secs(),
            self.attempts
        ));
        self.wait = Wait::Reconnect(Instant::now() + delay);
    }

    fn reconnect(&mut self) {
        match self.connect() {
            Ok(()) => {
                self.info(&format!("connected to {} again", self.address()));
                self.register();
            }
            Err(e) if self.attempts < MAX_ATTEMPTS => {
                self.schedule_reconnect(&format!("could not connect ({e})"));
            }
            Err(e) => {
                let why = format!("could not connect to {}: {e}; giving up", self.address());
                self.fail(EXIT_DISCONNECTED, &why);
            }
        }
    }

    // ---- what the server says -------------------------------------------

    fn server_line(&mut self, line: &str) {
        let Ok(msg) = Message::parse(line) else {
            return;
        };
        let Some(ev) = event::from_message(&msg) else {
            return;
        };
        match &ev {
            Event::Ping(token) => {
                let token = token.clone();
                self.send(LineBuilder::new(None, "PONG").trailing(&token));
                return;
            }
            Event::ServerError(text) => {
                self.server_error = Some(text.clone());
                return;
            }
            Event::Cap { sub, caps } => {
                if sub == "ACK" && caps.iter().any(|c| c == "echo-message") {
                    self.echo = true;
                }
                return;
            }
            Event::Welcome { nick, .. } => {
                self.me = nick.clone();
                self.welcomed();
            }
            Event::Error { code, args, .. } => {
                if self.name_refused(code, args) {
                    return;
                }
                if code == "421" && args.first().is_some_and(|a| a == "CAP") {
                    // A server without capabilities: we echo locally.
                    return;
                }
                if let Wait::Join(chan, _) = &self.wait {
                    if args.first().is_some_and(|a| irc_eq(a, chan)) {
                        self.wait = Wait::Nothing;
                    }
                }
            }
            Event::Join { nick, channel } if irc_eq(nick, &self.me) => {
                if !self.channels.iter().any(|c| irc_eq(c, channel)) {
                    self.channels.push(channel.clone());
                }
                if let Wait::Join(chan, _) = &self.wait {
                    if irc_eq(chan, channel) {
                        self.wait = Wait::Nothing;
                        self.current = Some(channel.clone());
                    }
                }
            }
            Event::Part { nick, channel, .. } if irc_eq(nick, &self.me) => {
                let channel = channel.clone();
                self.show_event(&ev);
                self.left(&channel);
                return;
            }
            Event::Kick { nick, channel, .. } if irc_eq(nick, &self.me) => {
                let channel = channel.clone();
                self.show_event(&ev);
                self.left(&channel);
                return;
            }
            Event::NickChange { old, new } => {
                if irc_eq(old, &self.me) {
                    self.me = new.clone();
                } else if self.current.as_deref().is_some_and(|c| irc_eq(c, old)) {
                    // We were talking to them privately: follow the rename.
                    self.current = Some(new.clone());
                }
            }
            _ => {}
        }
        self.show_event(&ev);
    }

    /// 001 arrived: join the starting channel, or rejoin after a reconnect.
    fn welcomed(&mut self) {
        self.registered = true;
        self.attempts = 0;
        self.wait = Wait::Nothing;
        if self.channels.is_empty() {
            if let Some(chan) = self.opts.channel.clone().filter(|c| !c.is_empty()) {
                self.join(&chan);
            }
            return;
        }
        // Rejoin everything, the current channel last so it stays current.
        let mut rejoin = std::mem::take(&mut self.channels);
        if let Some(cur) = &self.current {
            if let Some(i) = rejoin.iter().position(|c| irc_eq(c, cur)) {
                let cur = rejoin.remove(i);
                rejoin.push(cur);
            }
        }
        for chan in rejoin {
            self.join(&chan);
        }
    }

    /// Handles 431/432/433 before registration. Returns true if handled.
    fn name_refused(&mut self, code: &str, args: &[String]) -> bool {
        if self.registered || !matches!(code, "431" | "432" | "433") {
            return false;
        }
        let name = args.first().cloned().unwrap_or_else(|| self.me.clone());
        let words = format::error_words(code, args, "");
        if self.opts.interactive {
            self.error(&format!("{words}; please pick another name"));
            self.wait = Wait::Name;
        } else {
            let why = match code {
                "433" => format!("the name {name} is taken; choose another with --nick"),
                _ => format!("{words}; choose another with --nick"),
            };
            self.fail(EXIT_NAME_REFUSED, &why);
        }
        true
    }

    /// We are no longer in `channel`.
    fn left(&mut self, channel: &str) {
        self.channels.retain(|c| !irc_eq(c, channel));
        if self.current.as_deref().is_some_and(|c| irc_eq(c, channel)) {
            self.current = self.channels.last().cloned();
            match self.current.clone() {
                Some(c) => self.info(&format!("now talking in {c}")),
                None => self.info("you are not in any room now; /join #room to talk"),
            }
        }
    }

    /// Sends JOIN and waits for it to be confirmed (for a list `#a,#b`, for
    /// the last one, which the server handles last).
    fn join(&mut self, chan: &str) {
        self.send(LineBuilder::new(None, "JOIN").param(chan));
        let last = chan.rsplit(',').next().unwrap_or(chan);
        self.wait = Wait::Join(last.to_string(), Instant::now() + JOIN_WAIT);
    }

    // ---- what the person types ------------------------------------------

    fn quit(&mut self, reason: Option<&str>) {
        self.input_done = true;
        if self.conn.is_none() {
            self.exit = Some(0);
            return;
        }
        let reason = reason.unwrap_or("Leaving");
        self.send(LineBuilder::new(None, "QUIT").trailing(reason));
        self.quitting = Some(Instant::now() + QUIT_WAIT);
    }

    /// The channel typed commands apply to, or an error shown to the person.
    fn current_channel(&mut self) -> Option<String> {
        match self.current.clone() {
            Some(c) if is_channel(&c) => Some(c),
            _ => {
                self.error("you are not in a room: /join #room first");
                None
            }
        }
    }

    /// Sends text to `target` in pieces that fit a line, showing each (unless
    /// the server will echo it).
    fn say(&mut self, target: &str, text: &str, kind: MsgKind) {
        for piece in split_text(text, MAX_TEXT) {
            let wire = match kind {
                MsgKind::Action => format!("\x01ACTION {piece}\x01"),
                _ => piece.to_string(),
            };
            self.send(
                LineBuilder::new(None, "PRIVMSG")
                    .param(target)
                    .trailing(&wire),
            );
            if self.echo {
                continue;
            }
            self.show_event(&Event::Message {
                from: self.me.clone(),
                target: target.to_string(),
                text: piece.to_string(),
                kind,
            });
        }
    }

    fn typed(&mut self, line: &str) {
        let cmd = input::parse(line);
        let needs_server = !matches!(
            cmd,
            Input::Nothing
                | Input::Help
                | Input::Switch(_)
                | Input::Usage(_)
                | Input::Unknown(_)
                | Input::Quit(_)
        );
        if needs_server && !self.registered {
            self.error("not connected right now; waiting to reconnect");
            return;
        }
        match cmd {
            Input::Nothing => {}
            Input::Say(text) => match self.current.clone() {
                Some(target) => self.say(&target, &text, MsgKind::Say),
                None => self.error("you are not in a room: /join #room first"),
            },
            Input::Me(text) => match self.current.clone() {
                Some(target) => self.say(&target, &text, MsgKind::Action),
                None => self.error("you are not in a room: /join #room first"),
            },
            Input::Msg { to, text } => self.say(&to, &text, MsgKind::Say),
            Input::Join(chan) => {
                let known = self.channels.iter().find(|c| irc_eq(c, &chan)).cloned();
                if let Some(c) = known {
                    self.current = Some(c.clone());
                    self.info(&format!("now talking in {c}"));
                } else {
                    self.join(&chan);
                }
            }
            Input::Part { channel, reason } => {
                let Some(chan) = channel.or_else(|| self.current_channel()) else {
                    return;
                };
                let mut l = LineBuilder::new(None, "PART").param(&chan);
                if let Some(r) = reason {
                    l = l.trailing(&r);
                }
                self.send(l);
            }
            Input::Nick(n) => self.send(LineBuilder::new(None, "NICK").param(&n)),
            Input::Topic(text) => {
                let Some(chan) = self.current_channel() else {
                    return;
                };
                let mut l = LineBuilder::new(None, "TOPIC").param(&chan);
                if let Some(t) = text {
                    l = l.trailing(&t);
                }
                self.send(l);
            }
            Input::Names => {
                if let Some(chan) = self.current_channel() {
                    self.send(LineBuilder::new(None, "NAMES").param(&chan));
                }
            }
            Input::List => self.send(LineBuilder::new(None, "LIST")),
            Input::Who(mask) => {
                let Some(mask) = mask.or_else(|| self.current_channel()) else {
                    return;
                };
                self.send(LineBuilder::new(None, "WHO").param(&mask));
            }
            Input::Whois(n) => self.send(LineBuilder::new(None, "WHOIS").param(&n)),
            Input::Away(text) => {
                let mut l = LineBuilder::new(None, "AWAY");
                if let Some(t) = text {
                    l = l.trailing(&t);
                }
                self.send(l);
            }
            Input::Switch(target) => {
                let known = self.channels.iter().find(|c| irc_eq(c, &target)).cloned();
                match known {
                    Some(c) => {
                        self.current = Some(c.clone());
                        self.info(&format!("now talking in {c}"));
                    }
                    None if is_channel(&target) => {
                        self.error(&format!("you are not in {target}: /join {target} first"));
                    }
                    None => {
                        self.info(&format!("now talking privately to {target}"));
                        self.current = Some(target);
                    }
                }
            }
            Input::Quote(raw) => {
                let is_quit = Message::parse(&raw)
                    .is_ok_and(|m| m.command.eq_ignore_ascii_case("QUIT"));
                let mut bytes = raw.into_bytes();
                bytes.extend_from_slice(b"\r\n");
                self.send_raw(&bytes);
                if is_quit {
                    self.input_done = true;
                    self.quitting = Some(Instant::now() + QUIT_WAIT);
                }
            }
            Input::Help => {
                self.info("type text to talk in the current room; commands:");
                let width = input::HELP.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
                for (cmd, what) in input::HELP {
                    self.info(&format!("  {cmd:width$}  {what}"));
                }
            }
            Input::Quit(reason) => self.quit(reason.as_deref()),
            Input::Usage(usage) => self.error(&format!("usage: {usage}")),
            Input::Unknown(name) => self.error(&format!(
                "there is no command /{name}; /help lists them (start a line with // to send text beginning with /)"
            )),
        }
    }
}

/// Splits `text` into pieces of at most `max` bytes, at spaces where it can
/// and never inside a character.
pub fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = rest[..cut].rfind(' ').filter(|&i| i > 0) {
            cut = space;
        }
        pieces.push(&rest[..cut]);
        rest = rest[cut..].trim_start_matches(' ');
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_long_text() {
        assert_eq!(split_text("short", 10), vec!["short"]);
        assert_eq!(split_text("aaaa bbbb cccc", 10), vec!["aaaa bbbb", "cccc"]);
        assert_eq!(split_text("aaaaaaaaaaaa", 5), vec!["aaaaa", "aaaaa", "aa"]);
        assert_eq!(split_text("ééé", 3), vec!["é", "é", "é"]);
    }

    #[test]
    fn backoff_grows_to_a_bound() {
        let secs: Vec<u64> = (1..=8)
            .map(|n| Session::<NoUi>::backoff(n).as_secs())
            .collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30, 30]);
    }

    struct NoUi;
    impl Ui for NoUi {
        fn show(&mut self, _: &str) {}
        fn fatal(&mut self, _: &str) {}
        fn ask(&mut self, _: Ask) {}
    }
}

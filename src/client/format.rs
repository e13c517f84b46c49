//! Turning display events into the lines a person reads.
//!
//! This module owns layout, wording and colour, and nothing else: every
//! function is pure (event and view in, string out), so the whole look of the
//! client is unit-tested here. Plain mode (no colour, no time stamps) is what
//! scripts and tests see; a terminal adds ANSI colour and `[HH:MM]` stamps.

use super::event::{Event, MsgKind};
use crate::protocol::irc_eq;

/// What the formatter needs to know about the client's situation.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Our own nick.
    pub me: &'a str,
    /// Where typed text goes (a channel or a nick), if anywhere.
    pub current: Option<&'a str>,
    /// Use ANSI colours.
    pub color: bool,
    /// A time stamp to put before the line (`12:01`), if any.
    pub stamp: Option<&'a str>,
}

impl View<'_> {
    /// A view with no colour and no stamp, as scripts see it.
    pub fn plain<'a>(me: &'a str, current: Option<&'a str>) -> View<'a> {
        View {
            me,
            current,
            color: false,
            stamp: None,
        }
    }
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
/// Colours given to other people's nicks, picked by a hash of the nick.
const NICK_COLOURS: [&str; 6] = [
    "\x1b[32m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[92m", "\x1b[94m",
];

/// True when `name` names a channel rather than a person.
pub fn is_channel(name: &str) -> bool {
    name.starts_with(['#', '&', '+', '!'])
}

/// Wraps `text` in `code` ... reset when colour is on.
fn paint(view: &View, code: &str, text: &str) -> String {
    if view.color {
        format!("{code}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// A nick in its colour: bold for ourselves, a stable colour for others.
fn nick(view: &View, n: &str) -> String {
    if !view.color {
        return n.to_string();
    }
    if irc_eq(n, view.me) {
        return paint(view, BOLD, n);
    }
    let h = n
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    paint(view, NICK_COLOURS[h % NICK_COLOURS.len()], n)
}

/// Puts the time stamp, if any, before a finished line.
fn stamped(view: &View, line: String) -> String {
    match view.stamp {
        Some(s) => format!("{} {line}", paint(view, DIM, &format!("[{s}]"))),
        None => line,
    }
}

/// A dim one-line notice of something that happened (`-- bob joined #c`).
fn notice(view: &View, text: &str) -> String {
    stamped(view, paint(view, DIM, &format!("-- {text}")))
}

/// A local message from the client itself (help, hints), not from the server.
pub fn info(view: &View, text: &str) -> String {
    notice(view, text)
}

/// A problem, in red on a terminal: `! nobody called bob is online`.
pub fn error(view: &View, text: &str) -> String {
    stamped(view, paint(view, RED, &format!("! {text}")))
}

fn with_reason(text: String, reason: &Option<String>) -> String {
    match reason {
        Some(r) => format!("{text} ({r})"),
        None => text,
    }
}

/// Formats one event, or `None` if it shows nothing.
pub fn render(event: &Event, view: &View) -> Option<String> {
    let me = |n: &str| irc_eq(n, view.me);
    let line = match event {
        Event::Message {
            from,
            target,
            text,
            kind,
        } => return Some(stamped(view, message(view, from, target, text, *kind))),
        Event::Join { nick: n, channel } if me(n) => {
            notice(view, &format!("now talking in {channel}"))
        }
        Event::Join { nick: n, channel } => notice(view, &format!("{n} joined {channel}")),
        Event::Part {
            nick: n,
            channel,
            reason,
        } => {
            let who = if me(n) { "you" } else { n };
            notice(view, &with_reason(format!("{who} left {channel}"), reason))
        }
        Event::Quit { nick: n, reason } => notice(view, &with_reason(format!("{n} quit"), reason)),
        Event::NickChange { old, new } if me(old) || me(new) => {
            notice(view, &format!("you are now known as {new}"))
        }
        Event::NickChange { old, new } => notice(view, &format!("{old} is now known as {new}")),
        Event::TopicChange {
            nick: n,
            channel,
            topic,
        } if topic.is_empty() => notice(view, &format!("{n} cleared the topic of {channel}")),
        Event::TopicChange {
            nick: n,
            channel,
            topic,
        } => notice(
            view,
            &format!("{n} changed the topic of {channel} to: {topic}"),
        ),
        Event::Kick {
            by,
            channel,
            nick: n,
            reason,
        } => {
            let who = if me(n) {
                "you were"
            } else {
                &format!("{n} was") as &str
            };
            let text = format!("{who} kicked from {channel} by {by}");
            notice(view, &with_reason(text, reason))
        }
        Event::Mode { by, target, modes } if irc_eq(by, target) => {
            notice(view, &format!("{by} set mode {modes}"))
        }
        Event::Mode { by, target, modes } => {
            notice(view, &format!("{by} set mode {modes} on {target}"))
        }
        Event::Invite { by, channel } => notice(
            view,
            &format!("{by} invites you to {channel} (type /join {channel})"),
        ),
        Event::Ping(_) | Event::ServerError(_) | Event::Cap { .. } => return None,
        Event::Welcome { text, .. } => notice(view, text),
        Event::Info(text) => notice(view, text),
        Event::Topic {
            channel,
            topic: Some(t),
        } => notice(view, &format!("topic of {channel}: {t}")),
        Event::Topic {
            channel,
            topic: None,
        } => notice(view, &format!("{channel} has no topic")),
        Event::TopicSetBy { channel, nick: n } => {
            notice(view, &format!("topic of {channel} set by {n}"))
        }
        Event::Names { channel, names } => {
            notice(view, &format!("people in {channel}: {}", names.join(" ")))
        }
        Event::ListStart => notice(view, "channels (people, topic):"),
        Event::ListEntry {
            channel,
            users,
            topic,
        } => {
            let topic = if topic.is_empty() {
                String::new()
            } else {
                format!(" {topic}")
            };
            stamped(view, format!("   {channel} ({users}){topic}"))
        }
        Event::ListEnd => notice(view, "end of channel list"),
        Event::WhoEntry {
            channel,
            nick: n,
            user,
            host,
            away,
            realname,
        } => {
            let place = if channel == "*" {
                String::new()
            } else {
                format!(" in {channel}")
            };
            let away = if *away { " [away]" } else { "" };
            stamped(
                view,
                format!(
                    "   {} ({user}@{host}){place}: {realname}{away}",
                    nick(view, n)
                ),
            )
        }
        Event::WhoEnd { mask } => notice(view, &format!("end of who for {mask}")),
        Event::WhoisUser {
            nick: n,
            user,
            host,
            realname,
        } => notice(view, &format!("{n} is {user}@{host} ({realname})")),
        Event::WhoisChannels { nick: n, channels } => {
            notice(view, &format!("{n} is in {channels}"))
        }
        Event::WhoisServer {
            nick: n,
            server,
            info,
        } => notice(view, &format!("{n} is connected to {server} ({info})")),
        Event::WhoisIdle { nick: n, seconds } => notice(
            view,
            &format!("{n} has been idle for {}", duration(*seconds)),
        ),
        Event::WhoisOperator { nick: n } => notice(view, &format!("{n} is an IRC operator")),
        Event::Away { nick: n, text } => notice(view, &format!("{n} is away: {text}")),
        Event::NowAway => notice(view, "you are now marked as away"),
        Event::Unaway => notice(view, "you are no longer marked as away"),
        Event::Error { code, args, text } => error(view, &error_words(code, args, text)),
    };
    Some(line)
}

/// Lays out chat text: `<bob> hi` in the current channel, `#other <bob> hi`
/// elsewhere, `*bob* hi` privately, `-> *bob* hi` for what we sent privately,
/// `* bob waves` for actions and `-bob- hi` for notices.
fn message(view: &View, from: &str, target: &str, text: &str, kind: MsgKind) -> String {
    let ours = irc_eq(from, view.me);
    let to_channel = is_channel(target);
    let here = to_channel && view.current.is_some_and(|c| irc_eq(c, target));
    let where_ = if to_channel && !here {
        format!("{} ", paint(view, YELLOW, target))
    } else {
        String::new()
    };
    let who = nick(view, from);
    if !to_channel {
        // Private: to us, or (our local echo) from us to someone.
        let (arrow, other) = if ours {
            ("-> ", nick(view, target))
        } else {
            ("", who.clone())
        };
        return match kind {
            MsgKind::Say => format!("{arrow}*{other}* {text}"),
            MsgKind::Action if ours => format!("-> *{other}* * {} {text}", nick(view, from)),
            MsgKind::Action => format!("*{other}* * {who} {text}"),
            MsgKind::Notice if from.is_empty() || from.contains('.') => {
                paint(view, DIM, &format!("-{from}- {text}"))
            }
            MsgKind::Notice => format!("{arrow}-{other}- {text}"),
        };
    }
    match kind {
        MsgKind::Say => format!("{where_}<{who}> {text}"),
        MsgKind::Action => format!("{where_}* {who} {text}"),
        MsgKind::Notice => format!("{where_}-{who}- {text}"),
    }
}

/// `3725` -> `1h 2m 5s`.
fn duration(mut s: u64) -> String {
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if s >= size {
            parts.push(format!("{}{unit}", s / size));
            s %= size;
        }
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// Says what an error numeric means, in plain words. `args` are the numeric's
/// parameters between our nick and the server's text.
pub fn error_words(code: &str, args: &[String], text: &str) -> String {
    let a = |i: usize| args.get(i).map_or("", String::as_str);
    match code {
        "401" => format!("nobody called {} is online", a(0)),
        "402" => format!("there is no server called {}", a(0)),
        "403" => format!("there is no channel called {}", a(0)),
        "404" => format!(
            "your message to {} was not delivered (you may need to join it first, or be given voice)",
            a(0)
        ),
        "405" => format!("you are in too many channels to join {}", a(0)),
        "407" => "too many recipients at once".into(),
        "411" | "412" => "there was nothing to send".into(),
        "417" => "that line was too long for the server".into(),
        "421" => format!("the server does not know the command {}", a(0)),
        "431" => "you need to give a name".into(),
        "432" => format!(
            "{} cannot be used as a name (use letters, digits and - _ [ ] {{ }} \\ | ^, not starting with a digit or -)",
            a(0)
        ),
        "433" => format!("that name is taken: {}", a(0)),
        "441" => format!("{} is not in {}", a(0), a(1)),
        "442" => format!("you are not in {}", a(0)),
        "443" => format!("{} is already in {}", a(0), a(1)),
        "451" => "you have not finished connecting yet".into(),
        "461" => format!("{} needs more details (try /help)", a(0)),
        "462" => "you are already registered".into(),
        "464" => "the server wants a password".into(),
        "471" => format!("{} is full", a(0)),
        "472" => format!("the server does not know the mode {}", a(0)),
        "473" => format!("{} is invite-only: someone inside must invite you", a(0)),
        "474" => format!("you are banned from {}", a(0)),
        "475" => format!("{} needs a key (password) to join", a(0)),
        "476" => format!("{} is not a valid channel name (channel names start with #)", a(0)),
        "481" => "only IRC operators can do that".into(),
        "482" => format!("you need to be an operator of {} to do that", a(0)),
        "491" => "you cannot become an operator from this host".into(),
        "501" => "unknown mode for users".into(),
        "502" => "you can only change your own modes".into(),
        _ if args.is_empty() => text.to_string(),
        _ => format!("{}: {text}", args.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: &str, target: &str, text: &str, kind: MsgKind) -> Event {
        Event::Message {
            from: from.into(),
            target: target.into(),
            text: text.into(),
            kind,
        }
    }

    fn plain(e: &Event) -> String {
        render(e, &View::plain("alice", Some("#lobby"))).unwrap()
    }

    #[test]
    fn chat_lines() {
        assert_eq!(plain(&msg("bob", "#lobby", "hi", MsgKind::Say)), "<bob> hi");
        assert_eq!(plain(&msg("bob", "#LOBBY", "hi", MsgKind::Say)), "<bob> hi");
        assert_eq!(
            plain(&msg("bob", "#other", "hi", MsgKind::Say)),
            "#other <bob> hi"
        );
        assert_eq!(
            plain(&msg("bob", "alice", "psst", MsgKind::Say)),
            "*bob* psst"
        );
        assert_eq!(
            plain(&msg("alice", "bob", "psst", MsgKind::Say)),
            "-> *bob* psst"
        );
        assert_eq!(
            plain(&msg("bob", "#lobby", "waves", MsgKind::Action)),
            "* bob waves"
        );
        assert_eq!(
            plain(&msg("bob", "#other", "waves", MsgKind::Action)),
            "#other * bob waves"
        );
        assert_eq!(
            plain(&msg("bob", "alice", "waves", MsgKind::Action)),
            "*bob* * bob waves"
        );
        assert_eq!(
            plain(&msg("bob", "alice", "hey", MsgKind::Notice)),
            "-bob- hey"
        );
        assert_eq!(
            plain(&msg("parley.local", "*", "hello", MsgKind::Notice)),
            "-parley.local- hello"
        );
    }

    #[test]
    fn stamp_and_colour() {
        let view = View {
            me: "alice",
            current: Some("#lobby"),
            color: false,
            stamp: Some("12:01"),
        };
        let e = msg("bob", "#lobby", "hello", MsgKind::Say);
        assert_eq!(render(&e, &view).unwrap(), "[12:01] <bob> hello");
        let coloured = View {
            color: true,
            ..view
        };
        let line = render(&e, &coloured).unwrap();
        assert!(line.contains("\x1b["), "{line:?}");
        assert!(line.ends_with("> hello"), "{line:?}");
        let join = Event::Join {
            nick: "bob".into(),
            channel: "#c".into(),
        };
        assert_eq!(
            render(&join, &coloured).unwrap(),
            "\x1b[2m[12:01]\x1b[0m \x1b[2m-- bob joined #c\x1b[0m"
        );
    }

    #[test]
    fn events_one_line_each() {
        let cases = [
            (
                Event::Join {
                    nick: "alice".into(),
                    channel: "#c".into(),
                },
                "-- now talking in #c",
            ),
            (
                Event::Part {
                    nick: "bob".into(),
                    channel: "#c".into(),
                    reason: Some("bye".into()),
                },
                "-- bob left #c (bye)",
            ),
            (
                Event::Quit {
                    nick: "bob".into(),
                    reason: None,
                },
                "-- bob quit",
            ),
            (
                Event::NickChange {
                    old: "bob".into(),
                    new: "rob".into(),
                },
                "-- bob is now known as rob",
            ),
            (
                Event::TopicChange {
                    nick: "bob".into(),
                    channel: "#c".into(),
                    topic: "news".into(),
                },
                "-- bob changed the topic of #c to: news",
            ),
            (
                Event::Kick {
                    by: "bob".into(),
                    channel: "#c".into(),
                    nick: "alice".into(),
                    reason: None,
                },
                "-- you were kicked from #c by bob",
            ),
            (
                Event::Mode {
                    by: "bob".into(),
                    target: "#c".into(),
                    modes: "+o carol".into(),
                },
                "-- bob set mode +o carol on #c",
            ),
            (
                Event::Names {
                    channel: "#c".into(),
                    names: vec!["@bob".into(), "alice".into()],
                },
                "-- people in #c: @bob alice",
            ),
            (
                Event::WhoisIdle {
                    nick: "bob".into(),
                    seconds: 3725,
                },
                "-- bob has been idle for 1h 2m 5s",
            ),
            (
                Event::ListEntry {
                    channel: "#c".into(),
                    users: "3".into(),
                    topic: "news".into(),
                },
                "   #c (3) news",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(plain(&event), want);
        }
        assert_eq!(
            render(&Event::Ping("x".into()), &View::plain("a", None)),
            None
        );
    }

    #[test]
    fn errors_in_plain_words() {
        let e = |code: &str, args: &[&str]| Event::Error {
            code: code.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            text: "server text".into(),
        };
        assert_eq!(plain(&e("401", &["bob"])), "! nobody called bob is online");
        assert_eq!(plain(&e("433", &["bob"])), "! that name is taken: bob");
        assert_eq!(plain(&e("442", &["#c"])), "! you are not in #c");
        assert_eq!(plain(&e("999", &[])), "! server text");
        assert_eq!(plain(&e("998", &["X"])), "! X: server text");
    }
}

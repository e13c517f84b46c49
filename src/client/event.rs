//! Turning server lines into display events.
//!
//! This module owns the meaning of what the server sends, as far as a person
//! reading a chat needs it: one parsed [`Message`] becomes at most one
//! [`Event`], with every field the formatter needs copied out. It performs no
//! I/O, holds no state and decides nothing about layout or colour (that is
//! [`super::format`]); the session loop (see [`super::session`]) also looks at
//! events to track its own nick, channels and registration.

use crate::protocol::numeric::*;
use crate::protocol::Message;

/// What kind of text a [`Event::Message`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgKind {
    /// A normal PRIVMSG.
    Say,
    /// A CTCP ACTION (`/me`).
    Action,
    /// A NOTICE.
    Notice,
}

/// One thing to show a person, built from one server line (or from a line the
/// client itself sent, for the local echo of what was typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Text from `from` to `target` (a channel, or a nick for private text).
    Message {
        from: String,
        target: String,
        text: String,
        kind: MsgKind,
    },
    Join {
        nick: String,
        channel: String,
    },
    Part {
        nick: String,
        channel: String,
        reason: Option<String>,
    },
    Quit {
        nick: String,
        reason: Option<String>,
    },
    NickChange {
        old: String,
        new: String,
    },
    /// Someone changed a channel's topic.
    TopicChange {
        nick: String,
        channel: String,
        topic: String,
    },
    Kick {
        by: String,
        channel: String,
        nick: String,
        reason: Option<String>,
    },
    Mode {
        by: String,
        target: String,
        modes: String,
    },
    Invite {
        by: String,
        channel: String,
    },
    /// The server asks for a PONG with this token.
    Ping(String),
    /// The server is closing the link (the `ERROR` command).
    ServerError(String),
    /// A capability reply: `ACK`, `NAK`, `LS`... and the capability names.
    Cap {
        sub: String,
        caps: Vec<String>,
    },
    /// 001: registration is complete and this is the nick we got.
    Welcome {
        nick: String,
        text: String,
    },
    /// Free text from the server worth showing (MOTD lines, notices).
    Info(String),
    /// 332 / 331: the topic of a channel on joining or asking.
    Topic {
        channel: String,
        topic: Option<String>,
    },
    /// 333: who set a channel's topic.
    TopicSetBy {
        channel: String,
        nick: String,
    },
    /// 353: one batch of a channel's members, with their prefixes (`@bob`).
    Names {
        channel: String,
        names: Vec<String>,
    },
    ListStart,
    ListEntry {
        channel: String,
        users: String,
        topic: String,
    },
    ListEnd,
    /// 352: one WHO reply line.
    WhoEntry {
        channel: String,
        nick: String,
        user: String,
        host: String,
        away: bool,
        realname: String,
    },
    WhoEnd {
        mask: String,
    },
    WhoisUser {
        nick: String,
        user: String,
        host: String,
        realname: String,
    },
    WhoisChannels {
        nick: String,
        channels: String,
    },
    WhoisServer {
        nick: String,
        server: String,
        info: String,
    },
    WhoisIdle {
        nick: String,
        seconds: u64,
    },
    WhoisOperator {
        nick: String,
    },
    /// 301: `nick` is away (after a message to them, or in WHOIS).
    Away {
        nick: String,
        text: String,
    },
    NowAway,
    Unaway,
    /// An error numeric: the code, its parameters after our nick, and the
    /// server's own text (the last parameter).
    Error {
        code: String,
        args: Vec<String>,
        text: String,
    },
}

/// Reads one server message. `None` for lines a person does not need to see
/// (registration chatter, end-of-list markers, unknown commands).
pub fn from_message(msg: &Message) -> Option<Event> {
    let nick = || msg.source_nick().unwrap_or("").to_string();
    let p = |i: usize| msg.param(i).unwrap_or("").to_string();
    let last = || msg.params().last().copied().unwrap_or("").to_string();
    let opt = |i: usize| msg.param(i).filter(|s| !s.is_empty()).map(str::to_string);
    let event = match msg.command.to_ascii_uppercase().as_str() {
        "PING" => Event::Ping(last()),
        "ERROR" => Event::ServerError(last()),
        "CAP" => Event::Cap {
            sub: p(1).to_ascii_uppercase(),
            caps: last().split_whitespace().map(str::to_string).collect(),
        },
        cmd @ ("PRIVMSG" | "NOTICE") => {
            let text = p(1);
            let (kind, text) = match ctcp(&text) {
                Some(("ACTION", rest)) => (MsgKind::Action, rest.to_string()),
                // Other CTCP requests (VERSION, PING...) are not for people.
                Some(_) => return None,
                None if cmd == "NOTICE" => (MsgKind::Notice, text),
                None => (MsgKind::Say, text),
            };
            // A NOTICE from the server itself has no nick-style source.
            let from = match msg.source {
                Some(s) if s.contains('!') || cmd == "PRIVMSG" => nick(),
                Some(s) => s.to_string(),
                None => String::new(),
            };
            Event::Message {
                from,
                target: p(0),
                text,
                kind,
            }
        }
        "JOIN" => Event::Join {
            nick: nick(),
            channel: p(0),
        },
        "PART" => Event::Part {
            nick: nick(),
            channel: p(0),
            reason: opt(1),
        },
        "QUIT" => Event::Quit {
            nick: nick(),
            reason: opt(0),
        },
        "NICK" => Event::NickChange {
            old: nick(),
            new: p(0),
        },
        "TOPIC" => Event::TopicChange {
            nick: nick(),
            channel: p(0),
            topic: p(1),
        },
        "KICK" => Event::Kick {
            by: nick(),
            channel: p(0),
            nick: p(1),
            reason: opt(2),
        },
        "MODE" => Event::Mode {
            by: nick(),
            target: p(0),
            modes: msg.params()[1.min(msg.params().len())..].join(" "),
        },
        "INVITE" => Event::Invite {
            by: nick(),
            channel: p(1),
        },
        code if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) => {
            return numeric(code, msg)
        }
        _ => return None,
    };
    Some(event)
}

/// Splits a CTCP payload (`\x01VERB rest\x01`) into verb and rest.
fn ctcp(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    Some(inner.split_once(' ').unwrap_or((inner, "")))
}

/// Reads a numeric reply. Parameter 0 is always our own nick and is skipped.
fn numeric(code: &str, msg: &Message) -> Option<Event> {
    let args: Vec<String> = msg.params().iter().skip(1).map(|s| s.to_string()).collect();
    let a = |i: usize| args.get(i).cloned().unwrap_or_default();
    let last = args.last().cloned().unwrap_or_default();
    let event = match code {
        RPL_WELCOME => Event::Welcome {
            nick: msg.param(0).unwrap_or("").to_string(),
            text: last,
        },
        RPL_MOTD => Event::Info(last.strip_prefix("- ").unwrap_or(&last).to_string()),
        RPL_TOPIC => Event::Topic {
            channel: a(0),
            topic: Some(a(1)),
        },
        RPL_NOTOPIC => Event::Topic {
            channel: a(0),
            topic: None,
        },
        RPL_TOPICWHOTIME => Event::TopicSetBy {
            channel: a(0),
            nick: a(1).split(['!', '@']).next().unwrap_or("").to_string(),
        },
        RPL_NAMREPLY => Event::Names {
            channel: a(1),
            names: a(2).split_whitespace().map(str::to_string).collect(),
        },
        RPL_LISTSTART => Event::ListStart,
        RPL_LIST => Event::ListEntry {
            channel: a(0),
            users: a(1),
            topic: a(2),
        },
        RPL_LISTEND => Event::ListEnd,
        RPL_WHOREPLY => {
            // <channel> <user> <host> <server> <nick> <flags> :<hops> <real name>
            let trailing = a(6);
            let realname = trailing.split_once(' ').map_or("", |(_, r)| r).to_string();
            Event::WhoEntry {
                channel: a(0),
                user: a(1),
                host: a(2),
                nick: a(4),
                away: a(5).starts_with('G'),
                realname,
            }
        }
        RPL_ENDOFWHO => Event::WhoEnd { mask: a(0) },
        RPL_WHOISUSER => Event::WhoisUser {
            nick: a(0),
            user: a(1),
            host: a(2),
            realname: a(4),
        },
        RPL_WHOISCHANNELS => Event::WhoisChannels {
            nick: a(0),
            channels: a(1),
        },
        RPL_WHOISSERVER => Event::WhoisServer {
            nick: a(0),
            server: a(1),
            info: a(2),
        },
        RPL_WHOISIDLE => Event::WhoisIdle {
            nick: a(0),
            seconds: a(1).parse().unwrap_or(0),
        },
        RPL_WHOISOPERATOR => Event::WhoisOperator { nick: a(0) },
        RPL_AWAY => Event::Away {
            nick: a(0),
            text: a(1),
        },
        RPL_NOWAWAY => Event::NowAway,
        RPL_UNAWAY => Event::Unaway,
        // Registration chatter, end markers and other replies nobody reads.
        RPL_YOURHOST | RPL_CREATED | RPL_MYINFO | RPL_ISUPPORT | RPL_LUSERCLIENT | RPL_LUSEROP
        | RPL_LUSERUNKNOWN | RPL_LUSERCHANNELS | RPL_LUSERME | RPL_LOCALUSERS | RPL_GLOBALUSERS
        | RPL_MOTDSTART | RPL_ENDOFMOTD | ERR_NOMOTD | RPL_ENDOFNAMES | RPL_ENDOFWHOIS
        | RPL_CREATIONTIME => return None,
        _ if code.starts_with(['4', '5']) || code == ERR_INVALIDMODEPARAM => {
            let mut args = args;
            let text = args.pop().unwrap_or_default();
            Event::Error {
                code: code.to_string(),
                args,
                text,
            }
        }
        // Anything else: show the server's words.
        _ => Event::Info(args.join(" ")),
    };
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Option<Event> {
        from_message(&Message::parse(line).unwrap())
    }

    #[test]
    fn messages_and_actions() {
        assert_eq!(
            ev(":bob!~bob@h PRIVMSG #c :hi there"),
            Some(Event::Message {
                from: "bob".into(),
                target: "#c".into(),
                text: "hi there".into(),
                kind: MsgKind::Say
            })
        );
        assert_eq!(
            ev(":bob!~bob@h PRIVMSG alice :\x01ACTION waves\x01"),
            Some(Event::Message {
                from: "bob".into(),
                target: "alice".into(),
                text: "waves".into(),
                kind: MsgKind::Action
            })
        );
        assert_eq!(ev(":bob!~bob@h PRIVMSG alice :\x01VERSION\x01"), None);
        assert_eq!(
            ev(":parley.local NOTICE * :hello"),
            Some(Event::Message {
                from: "parley.local".into(),
                target: "*".into(),
                text: "hello".into(),
                kind: MsgKind::Notice
            })
        );
    }

    #[test]
    fn membership_events() {
        assert_eq!(
            ev(":a!u@h PART #c"),
            Some(Event::Part {
                nick: "a".into(),
                channel: "#c".into(),
                reason: None
            })
        );
        assert_eq!(
            ev(":a!u@h KICK #c b :go"),
            Some(Event::Kick {
                by: "a".into(),
                channel: "#c".into(),
                nick: "b".into(),
                reason: Some("go".into())
            })
        );
        assert_eq!(
            ev(":a!u@h MODE #c +o b"),
            Some(Event::Mode {
                by: "a".into(),
                target: "#c".into(),
                modes: "+o b".into()
            })
        );
        assert_eq!(ev("PING :tok"), Some(Event::Ping("tok".into())));
        assert_eq!(
            ev(":s CAP * ACK :echo-message"),
            Some(Event::Cap {
                sub: "ACK".into(),
                caps: vec!["echo-message".into()]
            })
        );
    }

    #[test]
    fn numerics() {
        assert_eq!(
            ev(":s 001 al :Welcome al"),
            Some(Event::Welcome {
                nick: "al".into(),
                text: "Welcome al".into()
            })
        );
        assert_eq!(ev(":s 005 al A B :are supported"), None);
        assert_eq!(
            ev(":s 353 al = #c :@al bob"),
            Some(Event::Names {
                channel: "#c".into(),
                names: vec!["@al".into(), "bob".into()]
            })
        );
        assert_eq!(
            ev(":s 352 al #c ~bob 127.0.0.1 s bob G :0 Real Bob"),
            Some(Event::WhoEntry {
                channel: "#c".into(),
                nick: "bob".into(),
                user: "~bob".into(),
                host: "127.0.0.1".into(),
                away: true,
                realname: "Real Bob".into()
            })
        );
        assert_eq!(
            ev(":s 401 al bob :No such nick/channel"),
            Some(Event::Error {
                code: "401".into(),
                args: vec!["bob".into()],
                text: "No such nick/channel".into()
            })
        );
    }
}

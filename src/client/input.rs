//! Reading what the person typed: chat text or a slash command.
//!
//! This module owns the command language of the client (`/join #c`, `/msg bob
//! hi`...) and its help text. [`parse`] is pure: it does not know the
//! connection or the current channel; the session turns an [`Input`] into
//! protocol lines.

/// One typed line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A blank line: nothing to do.
    Nothing,
    /// Text for the current channel (or person).
    Say(String),
    Join(String),
    /// Leave a channel (the current one if none is named), with a reason.
    Part {
        channel: Option<String>,
        reason: Option<String>,
    },
    Msg {
        to: String,
        text: String,
    },
    Me(String),
    Nick(String),
    /// Show the topic (`None`) or set it.
    Topic(Option<String>),
    Names,
    List,
    /// WHO for a mask, or for the current channel.
    Who(Option<String>),
    Whois(String),
    /// Mark away with a message, or come back (`None`).
    Away(Option<String>),
    /// Send typed text to another channel or person from now on.
    Switch(String),
    /// Send a raw protocol line.
    Quote(String),
    Help,
    Quit(Option<String>),
    /// A known command used the wrong way: how to use it.
    Usage(&'static str),
    /// A slash command the client does not know.
    Unknown(String),
}

/// Every command with a one-line description, for `/help`.
pub const HELP: &[(&str, &str)] = &[
    ("/join #room", "join a room and talk there"),
    (
        "/part [#room] [reason]",
        "leave the current room (or the one named)",
    ),
    ("/msg name text", "send a private message"),
    ("/me does something", "an action: * you do something"),
    ("/nick newname", "change your name"),
    ("/topic [text]", "show or set the room's topic"),
    ("/names", "who is in the current room"),
    ("/list", "all rooms on the server"),
    ("/who [#room]", "details of the people in a room"),
    ("/whois name", "details about one person"),
    ("/away [text]", "mark yourself away (no text: back again)"),
    (
        "/switch #room|name",
        "send what you type to another room or person",
    ),
    ("/quote RAW LINE", "send a line of IRC protocol as it is"),
    ("/help", "this list"),
    ("/quit [reason]", "leave the server"),
];

/// Splits off the first word and the (trimmed) rest.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim()),
        None => (s, ""),
    }
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Adds `#` to bare room names so `/join lobby` (and `/join a,b`) works.
pub fn channel_name(s: &str) -> String {
    s.split(',')
        .map(|c| {
            if c.starts_with(['#', '&', '+', '!']) {
                c.to_string()
            } else {
                format!("#{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Understands one typed line. `//text` sends `/text` as chat.
pub fn parse(line: &str) -> Input {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Input::Nothing;
    }
    let Some(command) = line.strip_prefix('/') else {
        return Input::Say(line.to_string());
    };
    if command.starts_with('/') {
        return Input::Say(command.to_string());
    }
    let (name, rest) = word(command);
    match name.to_ascii_lowercase().as_str() {
        "join" | "j" => match word(rest) {
            ("", _) => Input::Usage("/join #room"),
            (c, _) => Input::Join(channel_name(c)),
        },
        "part" | "leave" => {
            let (first, more) = word(rest);
            if first.starts_with(['#', '&']) {
                Input::Part {
                    channel: some(first),
                    reason: some(more),
                }
            } else {
                Input::Part {
                    channel: None,
                    reason: some(rest),
                }
            }
        }
        "msg" | "query" | "m" => match word(rest) {
            ("", _) | (_, "") => Input::Usage("/msg name text"),
            (to, text) => Input::Msg {
                to: to.to_string(),
                text: text.to_string(),
            },
        },
        "me" => match rest {
            "" => Input::Usage("/me does something"),
            action => Input::Me(action.to_string()),
        },
        "nick" => match word(rest) {
            ("", _) => Input::Usage("/nick newname"),
            (n, _) => Input::Nick(n.to_string()),
        },
        "topic" => Input::Topic(some(rest)),
        "names" => Input::Names,
        "list" => Input::List,
        "who" => Input::Who(some(word(rest).0)),
        "whois" => match word(rest) {
            ("", _) => Input::Usage("/whois name"),
            (n, _) => Input::Whois(n.to_string()),
        },
        "away" => Input::Away(some(rest)),
        "switch" | "s" => match word(rest) {
            ("", _) => Input::Usage("/switch #room (or a name)"),
            (t, _) => Input::Switch(t.to_string()),
        },
        "quote" | "raw" => match rest {
            "" => Input::Usage("/quote RAW LINE"),
            raw => Input::Quote(raw.to_string()),
        },
        "help" | "?" => Input::Help,
        "quit" | "exit" | "bye" => Input::Quit(some(rest)),
        _ => Input::Unknown(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_escapes() {
        assert_eq!(parse("hello there"), Input::Say("hello there".into()));
        assert_eq!(parse("  "), Input::Nothing);
        assert_eq!(parse("//slash"), Input::Say("/slash".into()));
    }

    #[test]
    fn commands() {
        assert_eq!(parse("/join #a"), Input::Join("#a".into()));
        assert_eq!(parse("/JOIN lobby"), Input::Join("#lobby".into()));
        assert_eq!(parse("/join a,#b"), Input::Join("#a,#b".into()));
        assert_eq!(
            parse("/part"),
            Input::Part {
                channel: None,
                reason: None
            }
        );
        assert_eq!(
            parse("/part #a going home"),
            Input::Part {
                channel: Some("#a".into()),
                reason: Some("going home".into())
            }
        );
        assert_eq!(
            parse("/msg bob  hi there "),
            Input::Msg {
                to: "bob".into(),
                text: "hi there".into()
            }
        );
        assert_eq!(parse("/msg bob"), Input::Usage("/msg name text"));
        assert_eq!(parse("/me waves"), Input::Me("waves".into()));
        assert_eq!(parse("/nick al"), Input::Nick("al".into()));
        assert_eq!(parse("/topic"), Input::Topic(None));
        assert_eq!(
            parse("/topic new one"),
            Input::Topic(Some("new one".into()))
        );
        assert_eq!(parse("/who"), Input::Who(None));
        assert_eq!(parse("/whois bob"), Input::Whois("bob".into()));
        assert_eq!(parse("/away"), Input::Away(None));
        assert_eq!(parse("/away lunch"), Input::Away(Some("lunch".into())));
        assert_eq!(parse("/switch #b"), Input::Switch("#b".into()));
        assert_eq!(
            parse("/quote MODE #a +t"),
            Input::Quote("MODE #a +t".into())
        );
        assert_eq!(parse("/quit"), Input::Quit(None));
        assert_eq!(parse("/quit bye all"), Input::Quit(Some("bye all".into())));
        assert_eq!(parse("/frobnicate x"), Input::Unknown("frobnicate".into()));
        assert_eq!(parse("/help"), Input::Help);
    }
}

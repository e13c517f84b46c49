//! Parsing one received line into its parts, without copying.

use std::fmt;

/// Most parameters a message may carry (RFC 2812 allows 15).
pub const MAX_PARAMS: usize = 15;

/// A parsed IRC message borrowing from the received line.
///
/// `tags` is the raw tag section without the leading `@`; `source` is the
/// prefix without the leading `:`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub tags: Option<&'a str>,
    pub source: Option<&'a str>,
    pub command: &'a str,
    params: [&'a str; MAX_PARAMS],
    len: u8,
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but spaces (or tags/source) on the line.
    Empty,
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty message"),
            ParseError::TooManyParams => f.write_str("too many parameters"),
        }
    }
}

impl std::error::Error for ParseError {}

impl<'a> Message<'a> {
    /// Parses one line (without its line ending; a trailing CR or LF is ignored).
    ///
    /// Runs of spaces between parts are tolerated, as real clients send them.
    /// When a line has more than 15 parameters, the 15th takes the rest of the
    /// line, as RFC 2812 allows, so no input is an error except an empty one.
    pub fn parse(line: &'a str) -> Result<Message<'a>, ParseError> {
        let mut rest = line.trim_end_matches(['\r', '\n']);
        let mut msg = Message {
            tags: None,
            source: None,
            command: "",
            params: [""; MAX_PARAMS],
            len: 0,
        };
        rest = rest.trim_start_matches(' ');
        if let Some(tagged) = rest.strip_prefix('@') {
            let (tags, after) = split_word(tagged);
            msg.tags = Some(tags);
            rest = after;
        }
        if let Some(sourced) = rest.strip_prefix(':') {
            let (source, after) = split_word(sourced);
            msg.source = Some(source);
            rest = after;
        }
        let (command, after) = split_word(rest);
        if command.is_empty() {
            return Err(ParseError::Empty);
        }
        msg.command = command;
        rest = after;
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                msg.push(trailing);
                break;
            }
            if msg.len as usize == MAX_PARAMS - 1 {
                // The last slot takes the remainder, colon or not.
                msg.push(rest);
                break;
            }
            let (word, after) = split_word(rest);
            msg.push(word);
            rest = after;
        }
        Ok(msg)
    }

    fn push(&mut self, param: &'a str) {
        self.params[self.len as usize] = param;
        self.len += 1;
    }

    /// All parameters, the trailing one included.
    pub fn params(&self) -> &[&'a str] {
        &self.params[..self.len as usize]
    }

    /// Parameter `i`, if present.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params().get(i).copied()
    }

    /// The source's nick: the part of the prefix before `!` or `@`.
    pub fn source_nick(&self) -> Option<&'a str> {
        self.source.map(|s| s.split(['!', '@']).next().unwrap_or(s))
    }

    /// Looks up a tag's value (unescaped form is not needed by callers that
    /// only relay tags; values are returned raw). A tag without value gives "".
    pub fn tag(&self, key: &str) -> Option<&'a str> {
        self.tags?.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then_some(v)
        })
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("tags", &self.tags)
            .field("source", &self.source)
            .field("command", &self.command)
            .field("params", &self.params())
            .finish()
    }
}

/// Splits off the first space-delimited word and skips the spaces after it.
fn split_word(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], s[i..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_parts() {
        let m = Message::parse("@a=b;c :nick!u@h PRIVMSG #chan :hello there\r\n").unwrap();
        assert_eq!(m.tags, Some("a=b;c"));
        assert_eq!(m.source, Some("nick!u@h"));
        assert_eq!(m.source_nick(), Some("nick"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params(), &["#chan", "hello there"]);
        assert_eq!(m.tag("a"), Some("b"));
        assert_eq!(m.tag("c"), Some(""));
        assert_eq!(m.tag("d"), None);
    }

    #[test]
    fn tolerates_extra_spaces_and_empty_trailing() {
        let m = Message::parse("  NICK   bob  ").unwrap();
        assert_eq!(m.params(), &["bob"]);
        let m = Message::parse("TOPIC #a :").unwrap();
        assert_eq!(m.params(), &["#a", ""]);
    }

    #[test]
    fn empty_lines_are_errors() {
        assert_eq!(Message::parse(""), Err(ParseError::Empty));
        assert_eq!(Message::parse("   "), Err(ParseError::Empty));
        assert_eq!(Message::parse(":src"), Err(ParseError::Empty));
    }

    #[test]
    fn fifteenth_param_takes_the_rest() {
        let line = format!(
            "CMD {}",
            (1..=20)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let m = Message::parse(&line).unwrap();
        assert_eq!(m.params().len(), MAX_PARAMS);
        assert_eq!(m.params()[14], "15 16 17 18 19 20");
    }
}

//! Encoding lines to send. A line is encoded once into a [`SharedLine`] and the
//! same buffer is queued for every recipient.

use std::sync::Arc;

/// One encoded line, CRLF included, shared by reference count among the send
/// queues of all its recipients.
pub type SharedLine = Arc<[u8]>;

/// Builds one outgoing line: `[@tags] [:source] COMMAND params... [:trailing]\r\n`.
///
/// Parameters are cleaned as they are written: CR, LF and NUL become spaces so
/// relayed text can never split into a second line on a recipient's side.
#[derive(Debug, Clone)]
pub struct LineBuilder {
    buf: Vec<u8>,
    done_trailing: bool,
}

impl LineBuilder {
    /// Starts a line with an optional source (the `:prefix`) and a command.
    pub fn new(source: Option<&str>, command: &str) -> Self {
        Self::with_tags(None, source, command)
    }

    /// Starts a line with tags (the text after `@`, if any non-empty).
    pub fn with_tags(tags: Option<&str>, source: Option<&str>, command: &str) -> Self {
        let mut buf = Vec::with_capacity(128);
        if let Some(t) = tags.filter(|t| !t.is_empty()) {
            buf.push(b'@');
            push_clean(&mut buf, t, true);
            buf.push(b' ');
        }
        if let Some(s) = source {
            buf.push(b':');
            push_clean(&mut buf, s, true);
            buf.push(b' ');
        }
        push_clean(&mut buf, command, true);
        LineBuilder {
            buf,
            done_trailing: false,
        }
    }

    /// Adds a middle parameter. One that could not stand as a middle parameter
    /// (empty, containing a space, starting with `:`) is written as trailing, so
    /// the result always parses back to the same parameters.
    pub fn param(mut self, p: &str) -> Self {
        self.push_param(p);
        self
    }

    /// Adds a middle parameter in place (for loops).
    pub fn push_param(&mut self, p: &str) {
        if p.is_empty() || p.starts_with(':') || p.contains(' ') {
            self.push_trailing(p);
            return;
        }
        debug_assert!(!self.done_trailing, "parameter after trailing");
        self.buf.push(b' ');
        push_clean(&mut self.buf, p, true);
    }

    /// Adds the last parameter, always with the `:` marker.
    pub fn trailing(mut self, p: &str) -> Self {
        self.push_trailing(p);
        self
    }

    fn push_trailing(&mut self, p: &str) {
        debug_assert!(!self.done_trailing, "two trailing parameters");
        self.buf.extend_from_slice(b" :");
        push_clean(&mut self.buf, p, false);
        self.done_trailing = true;
    }

    /// Length so far, without CRLF.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Finishes the line as owned bytes.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }

    /// Finishes the line as a shared buffer.
    pub fn build(self) -> SharedLine {
        self.into_bytes().into()
    }
}

fn push_clean(buf: &mut Vec<u8>, s: &str, middle: bool) {
    for &b in s.as_bytes() {
        buf.push(match b {
            // In a middle parameter (or source, command, tags) a space would
            // split it in two, so anything space-like becomes '_'.
            b'\r' | b'\n' | 0 | b' ' if middle => b'_',
            b'\r' | b'\n' | 0 => b' ',
            _ => b,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;

    fn text(l: &[u8]) -> &str {
        std::str::from_utf8(l).unwrap()
    }

    #[test]
    fn encodes_and_round_trips() {
        let l = LineBuilder::new(Some("a!b@c"), "PRIVMSG")
            .param("#x")
            .trailing("hi there")
            .build();
        assert_eq!(text(&l), ":a!b@c PRIVMSG #x :hi there\r\n");
        let m = Message::parse(text(&l)).unwrap();
        assert_eq!(m.params(), &["#x", "hi there"]);
    }

    #[test]
    fn awkward_middle_params_become_trailing() {
        let l = LineBuilder::new(None, "TOPIC")
            .param("#x")
            .param("")
            .build();
        assert_eq!(text(&l), "TOPIC #x :\r\n");
        let l = LineBuilder::new(None, "X").param(":a").build();
        assert_eq!(text(&l), "X ::a\r\n");
    }

    #[test]
    fn nul_and_breaks_never_split_a_middle_parameter() {
        // Found by the parse_line fuzz target: a NUL in an echoed command
        // name became a space and split the parameter in two.
        let l = LineBuilder::new(Some("s"), "421")
            .param("a\0b\rc")
            .trailing("x")
            .build();
        assert_eq!(text(&l), ":s 421 a_b_c :x\r\n");
        let l = LineBuilder::new(None, "X\0Y").build();
        assert_eq!(text(&l), "X_Y\r\n");
    }

    #[test]
    fn line_breaks_cannot_be_injected() {
        let l = LineBuilder::with_tags(Some("t=1"), Some("s"), "NOTICE")
            .param("x")
            .trailing("a\r\nQUIT\0")
            .build();
        assert_eq!(text(&l), "@t=1 :s NOTICE x :a  QUIT \r\n");
    }
}

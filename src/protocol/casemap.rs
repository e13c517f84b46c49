//! Case-insensitive comparison of nicks and channel names (rfc1459 casemapping:
//! ASCII letters plus `[]\~` ~ `{}|^`).

use std::hash::{Hash, Hasher};

/// Folds one byte to its rfc1459 lower-case form.
#[inline]
fn fold(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b + 32,
        b'[' => b'{',
        b']' => b'}',
        b'\\' => b'|',
        b'~' => b'^',
        _ => b,
    }
}

/// Lower-cases a name under rfc1459 casemapping.
pub fn irc_lower(s: &str) -> String {
    // Folding maps ASCII to ASCII only, so UTF-8 stays valid.
    let bytes: Vec<u8> = s.bytes().map(fold).collect();
    String::from_utf8(bytes).expect("folding keeps UTF-8 valid")
}

/// Compares two names under rfc1459 casemapping.
pub fn irc_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// A name used as a map key: hashes and compares case-insensitively, keeps the
/// original spelling for display.
#[derive(Clone, Debug)]
pub struct IrcKey(pub Box<str>);

impl IrcKey {
    pub fn new(s: &str) -> Self {
        IrcKey(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Borrowed lookup form: maps keyed by [`IrcKey`] are queried with
/// `IrcStr(name)` through hashbrown's `Equivalent`, without allocating.
#[derive(Debug, Clone, Copy)]
pub struct IrcStr<'a>(pub &'a str);

impl Hash for IrcStr<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(fold(b));
        }
        state.write_u8(0xff);
    }
}

impl hashbrown::Equivalent<IrcKey> for IrcStr<'_> {
    fn equivalent(&self, key: &IrcKey) -> bool {
        irc_eq(self.0, &key.0)
    }
}

impl PartialEq for IrcKey {
    fn eq(&self, other: &Self) -> bool {
        irc_eq(&self.0, &other.0)
    }
}
impl Eq for IrcKey {}
impl Hash for IrcKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        IrcStr(&self.0).hash(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashMap;

    #[test]
    fn rfc1459_folding() {
        assert!(irc_eq("Nick[a]", "nick{A}"));
        assert!(irc_eq("a\\~", "A|^"));
        assert!(!irc_eq("nick", "nic"));
        assert_eq!(irc_lower("#Chan[]"), "#chan{}");
    }

    #[test]
    fn keys_look_up_case_insensitively() {
        let mut m = HashMap::new();
        m.insert(IrcKey::new("Alice"), 1);
        assert_eq!(m.get(&IrcStr("ALICE")), Some(&1));
        assert_eq!(m.get(&IrcStr("alicE")), Some(&1));
    }
}

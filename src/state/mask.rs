//! Wildcard masks (`*` and `?`) as used in bans, matched case-insensitively.

use crate::protocol::irc_lower;

/// Matches `text` against `mask` under rfc1459 casemapping.
pub fn mask_matches(mask: &str, text: &str) -> bool {
    let m = irc_lower(mask);
    let t = irc_lower(text);
    glob(m.as_bytes(), t.as_bytes())
}

/// Iterative glob with single-star backtracking: linear in practice, never
/// exponential, so a hostile mask cannot stall a worker.
fn glob(m: &[u8], t: &[u8]) -> bool {
    let (mut mi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if mi < m.len() && (m[mi] == b'?' || m[mi] == t[ti]) {
            mi += 1;
            ti += 1;
        } else if mi < m.len() && m[mi] == b'*' {
            star = Some((mi, ti));
            mi += 1;
        } else if let Some((smi, sti)) = star {
            mi = smi + 1;
            ti = sti + 1;
            star = Some((smi, sti + 1));
        } else {
            return false;
        }
    }
    m[mi..].iter().all(|&c| c == b'*')
}

/// Turns a partial ban argument into a full `nick!user@host` mask.
pub fn normalize_mask(arg: &str) -> String {
    let (nick_user, host) = match arg.split_once('@') {
        Some((a, h)) => (a, if h.is_empty() { "*" } else { h }),
        None => (arg, "*"),
    };
    let (nick, user) = match nick_user.split_once('!') {
        Some((n, u)) => (n, if u.is_empty() { "*" } else { u }),
        None if arg.contains('@') => ("*", nick_user),
        None => (nick_user, "*"),
    };
    let nick = if nick.is_empty() { "*" } else { nick };
    format!("{nick}!{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(mask_matches("*!*@127.0.0.1", "Bob!~b@127.0.0.1"));
        assert!(mask_matches("b?b!*@*", "BOB!x@y"));
        assert!(!mask_matches("alice!*@*", "bob!x@y"));
        assert!(mask_matches("*", ""));
        assert!(!mask_matches("a*b*c*d*e*f*g", &"a".repeat(5000)));
    }

    #[test]
    fn normalizing() {
        assert_eq!(normalize_mask("bob"), "bob!*@*");
        assert_eq!(normalize_mask("*@host"), "*!*@host");
        assert_eq!(normalize_mask("n!u"), "n!u@*");
        assert_eq!(normalize_mask("user@host"), "*!user@host");
    }
}

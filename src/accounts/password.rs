//! Password hashing: argon2id with a fresh random salt per hash, verified in
//! constant time by the argon2 crate. Only ever called on the accounts pool.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};

/// Longest password accepted, in bytes.
pub const MAX_PASSWORD: usize = 256;
/// Shortest password accepted, in characters.
pub const MIN_PASSWORD: usize = 5;

/// Why a new password is refused, as the text shown to the user.
pub fn check_new(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD {
        return Err("Passwords must be at least 5 characters long.");
    }
    if password.len() > MAX_PASSWORD {
        return Err("Passwords must be at most 256 bytes long.");
    }
    if password.chars().any(|c| c.is_control()) {
        return Err("Passwords may not contain control characters.");
    }
    Ok(())
}

/// A PHC string (`$argon2id$v=19$...`) for `password` with a new salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail on a short input")
        .to_string()
}

/// Checks `password` against a stored hash. With no hash (no such account)
/// the same work is done against a dummy, so timing does not tell whether an
/// account exists.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let (target, real) = match stored {
        Some(h) => (h, true),
        None => (
            DUMMY.get_or_init(|| hash("parley dummy password")).as_str(),
            false,
        ),
    };
    let ok = PasswordHash::new(target).is_ok_and(|parsed| {
        password.len() <= MAX_PASSWORD
            && Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
    });
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash("hunter22");
        let b = hash("hunter22");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("hunter22", Some(&a)));
        assert!(!verify("hunter23", Some(&a)));
        assert!(!verify("hunter22", None));
        assert!(!verify("x", Some("not a hash")));
    }

    #[test]
    fn new_password_rules() {
        assert!(check_new("abcd").is_err());
        assert!(check_new("abc\0de").is_err());
        assert!(check_new(&"x".repeat(300)).is_err());
        assert!(check_new("correct horse").is_ok());
    }
}

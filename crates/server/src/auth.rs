//! Passwords (argon2id), bearer tokens (random, stored only as their SHA-256) and invite
//! codes (short, human-typable).

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Hashes a password with argon2id and a fresh salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches a stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Whether `password` matches the account's stored PHC string; without an account, the
/// same work is done against a hash no password matches, so an unknown name is answered
/// as slowly as a known one and names cannot be told apart by timing.
pub fn verify_or_pretend(password: &str, phc: Option<&str>) -> bool {
    static NOBODY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password(&new_token()).expect("argon2id hashes a token"));
    match phc {
        Some(phc) => verify_password(password, phc),
        None => {
            verify_password(password, &NOBODY);
            false
        }
    }
}

/// A new bearer token: `hau_` and 43 characters of base64url (256 random bits).
pub fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    let body: String = (0..43)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("hau_{body}")
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L, U/V).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTWXYZ";

/// A new invite code, normalised (eight characters, no dash).
pub fn invite_code() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A normalised code as people are shown it: `K7QF-3MZP`.
pub fn display_code(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

/// A code as typed (any case, dashes and spaces anywhere) in normal form, or `None` when it
/// cannot be a code.
pub fn normalise_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 8 && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsE", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn codes_survive_how_people_type_them() {
        for _ in 0..100 {
            let code = invite_code();
            let shown = display_code(&code);
            assert_eq!(normalise_code(&shown), Some(code.clone()));
            assert_eq!(normalise_code(&shown.to_lowercase()), Some(code.clone()));
            assert_eq!(normalise_code(&code.replace('-', " ")), Some(code));
        }
        assert_eq!(normalise_code("ABC"), None);
        assert_eq!(normalise_code("ABCD-EFG!"), None);
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 47);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}

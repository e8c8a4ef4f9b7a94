//! CSRF tokens: each action form carries a token derived from a secret key
//! and the viewer, so a page of another site cannot post one on the
//! viewer's behalf (it cannot read the token, and the key never leaves the
//! server).

use revy_core::Actor;
use sha2::{Digest, Sha256};

/// A fresh random key; an all-zero key if the system has no randomness to
/// give, which [`HistoryUi::csrf_secret`](super::HistoryUi::csrf_secret) avoids.
pub(crate) fn random_secret() -> [u8; 32] {
    let mut key = [0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        key = [0u8; 32];
    }
    key
}

/// The token of `actor`'s action forms.
pub(crate) fn token(secret: &[u8; 32], actor: &Actor) -> String {
    let mut h = Sha256::new();
    h.update(b"revy-history-ui-csrf\0");
    h.update(secret);
    h.update(actor.to_string().as_bytes());
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `given` is `actor`'s token, compared in constant time.
pub(crate) fn check(secret: &[u8; 32], actor: &Actor, given: &str) -> bool {
    let expected = token(secret, actor);
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_belongs_to_its_actor_and_key() {
        let key = [7u8; 32];
        let ann = Actor::new("users", 1);
        let bob = Actor::new("users", 2);
        let t = token(&key, &ann);
        assert!(check(&key, &ann, &t));
        assert!(!check(&key, &bob, &t));
        assert!(!check(&[8u8; 32], &ann, &t));
        assert!(!check(&key, &ann, ""));
    }
}

//! Onboarded brokers' credentials: the journal keeps a salted hash of a
//! broker's secret, never the secret.
//!
//! PBKDF2-HMAC-SHA256 with a random 16-byte salt and [`ITERATIONS`]
//! rounds, from `ring` (already the TLS crypto provider). The gateway
//! draws the salt and hashes when an operator adds a broker, and checks a
//! login against the hash; the engine only stores the bytes.

use std::num::NonZeroU32;

use cetx_engine::Credential;
use ring::rand::{SecureRandom, SystemRandom};

use crate::protocol::Secret;

/// PBKDF2 rounds for a new credential: a guess costs this many HMACs.
/// Kept in each credential, so it can be raised without breaking old ones.
pub const ITERATIONS: u32 = 100_000;

/// Why a credential could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomError;

/// A new credential for `secret`: a fresh salt and its hash.
///
/// # Errors
/// [`RandomError`] when no salt can be drawn.
pub fn hash(secret: &Secret) -> Result<Credential, RandomError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| RandomError)?;
    let mut hash = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(ITERATIONS).expect("ITERATIONS is not zero"),
        &salt,
        secret.expose().as_bytes(),
        &mut hash,
    );
    Ok(Credential {
        iterations: ITERATIONS,
        salt,
        hash,
    })
}

/// Whether `secret` is the one `credential` was made from (compared in
/// constant time).
#[must_use]
pub fn verify(credential: &Credential, secret: &Secret) -> bool {
    let Some(iterations) = NonZeroU32::new(credential.iterations) else {
        return false;
    };
    ring::pbkdf2::verify(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &credential.salt,
        secret.expose().as_bytes(),
        &credential.hash,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_accepts_its_secret_only_and_never_holds_it() {
        let secret = Secret::new("s3cret-of-broker-9");
        let credential = hash(&secret).unwrap();
        assert!(verify(&credential, &secret));
        assert!(!verify(&credential, &Secret::new("s3cret-of-broker-8")));
        let other = hash(&secret).unwrap();
        assert_ne!(
            credential.salt, other.salt,
            "each credential has its own salt"
        );
        assert_ne!(credential.hash, other.hash);
        let bytes = [&credential.salt[..], &credential.hash[..]].concat();
        assert!(!bytes
            .windows(secret.expose().len())
            .any(|w| w == secret.expose().as_bytes()));
        let zero_rounds = Credential {
            iterations: 0,
            ..credential
        };
        assert!(!verify(&zero_rounds, &secret));
    }
}

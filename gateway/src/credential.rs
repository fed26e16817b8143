//! Onboarded brokers' credentials: the journal keeps a salted hash of a
//! broker's secret, never the secret.
//!
//! PBKDF2-HMAC-SHA256 with a random 16-byte salt and [`ITERATIONS`]
//! rounds, from `ring` (already the TLS crypto provider). The gateway
//! draws the salt and hashes when an operator adds a broker, and checks a
//! login against the hash; the engine only stores the bytes.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};

use cetx_engine::Credential;
use ring::hmac;
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

/// A login's check, queued for the [`Verifier`]'s thread.
type Check = (Credential, Secret, tokio::sync::oneshot::Sender<bool>);

/// Checks logins against added brokers' credentials. A broker's first
/// login since the server started is checked by PBKDF2, one at a time, on
/// a thread of its own at the read-back thread's low priority: a check
/// takes [`ITERATIONS`] rounds, a wrong secret's too (a right one is
/// always let in), so wrong secrets from many addresses at once cost this
/// one thread, not every core (an outside tester's flood had slowed every
/// broker's orders from 1 ms to 60 ms). A check whose login has gone
/// (evicted, timed out, shut down) is passed over unhashed. Once a secret
/// is accepted, the verifier keeps an HMAC of it under a key drawn at
/// start (never written anywhere), so that the broker's next logins, and
/// every wrong secret for it, are answered at once without the queue: an
/// added broker's secret cannot change.
pub(crate) struct Verifier {
    checks: mpsc::Sender<Check>,
    key: hmac::Key,
    /// Each credential (by its hash) whose secret was accepted: the
    /// secret's HMAC under `key`. One entry per added broker at most.
    accepted: Mutex<HashMap<[u8; 32], hmac::Tag>>,
    /// Whether the thread's stop was logged (once).
    told_stopped: AtomicBool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts the thread, which ends when the verifier is dropped.
    ///
    /// # Errors
    /// The OS error when no thread can be started or no key drawn.
    pub(crate) fn start() -> std::io::Result<Self> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| std::io::Error::other(RandomError))?;
        let (checks, queued) = mpsc::channel::<Check>();
        std::thread::Builder::new()
            .name("cetx-verify".into())
            .spawn(move || {
                crate::runtime::yield_to_live_path();
                for (credential, secret, answer) in queued {
                    if !answer.is_closed() {
                        let _ = answer.send(verify(&credential, &secret));
                    }
                }
            })?;
        Ok(Self {
            checks,
            key,
            accepted: Mutex::default(),
            told_stopped: AtomicBool::new(false),
        })
    }

    /// Whether `secret` is the one `credential` was made from: at once
    /// for a credential whose secret was accepted before, else once the
    /// checks queued before this one are done. `None` when it cannot be
    /// checked: the verifier's thread has stopped (logged).
    pub(crate) async fn verify(&self, credential: Credential, secret: &Secret) -> Option<bool> {
        let bytes = secret.expose().as_bytes();
        let known = self.known().get(&credential.hash).cloned();
        if let Some(tag) = known {
            return Some(hmac::verify(&self.key, bytes, tag.as_ref()).is_ok());
        }
        let (answer, told) = tokio::sync::oneshot::channel();
        let checked = match self.checks.send((credential, secret.clone(), answer)) {
            Ok(()) => told.await.ok(),
            Err(_) => None,
        };
        match checked {
            Some(true) => {
                let tag = hmac::sign(&self.key, bytes);
                self.known().insert(credential.hash, tag);
            }
            Some(false) => {}
            None => {
                if !self.told_stopped.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        "the thread that checks added brokers' logins has stopped: their logins are refused 408 until a restart"
                    );
                }
            }
        }
        checked
    }

    fn known(&self) -> MutexGuard<'_, HashMap<[u8; 32], hmac::Tag>> {
        self.accepted.lock().unwrap_or_else(PoisonError::into_inner)
    }
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

    /// Checks come back in order, each with its own answer, from one
    /// thread at nice 10 (read from `/proc`, field 19 of its `stat`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_verifier_checks_on_one_low_priority_thread() {
        let secret = Secret::new("s3cret-of-broker-9");
        let credential = hash(&secret).unwrap();
        let verifier = Verifier::start().unwrap();
        let guesses: Vec<Secret> = (0..4).map(|i| Secret::new(format!("guess-{i}"))).collect();
        let wrong = guesses
            .iter()
            .map(|guess| verifier.verify(credential, guess));
        let right = verifier.verify(credential, &secret);
        let (wrong, right) = tokio::join!(futures_util::future::join_all(wrong), right);
        assert_eq!((wrong, right), (vec![Some(false); 4], Some(true)));
        // Accepted once, the secret is known: right and wrong ones are
        // answered without the queue.
        assert!(verifier.known().contains_key(&credential.hash));
        assert_eq!(verifier.verify(credential, &secret).await, Some(true));
        assert_eq!(verifier.verify(credential, &guesses[0]).await, Some(false));
        let niced: Vec<i32> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| {
                let task = task.ok()?.path();
                let name = std::fs::read_to_string(task.join("comm")).ok()?;
                let stat = std::fs::read_to_string(task.join("stat")).ok()?;
                let after_name = &stat[stat.rfind(')')? + 2..];
                let nice = after_name.split(' ').nth(16)?.parse().ok()?;
                (name.trim() == "cetx-verify").then_some(nice)
            })
            .collect();
        assert_eq!(niced.len(), 1, "one verifier thread: {niced:?}");
        assert!(niced[0] >= 10, "at nice {}", niced[0]);
    }
}

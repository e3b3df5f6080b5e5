//! A short-lived, in-memory cache of verified credentials, so the second, third, ... login of a
//! user within a few minutes (FileZilla and lftp open several connections, each logging in)
//! skips the 20-50 ms of argon2 work.
//!
//! Entries are keyed by HMAC-SHA256 of username and password under a random secret made at
//! start, so the cache never holds a password, and memory contents cannot be checked against
//! guesses without the secret. An entry also records the PHC string it was verified against:
//! after a password change the stored hash differs and the entry no longer matches, so old
//! credentials stop working at once. Wrong passwords are never cached and always cost a full
//! argon2 verification.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::hmac;

/// How long a verified login is remembered.
const TTL: Duration = Duration::from_secs(300);
/// Most entries kept; beyond it expired entries go, then everything.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    username: String,
    phc: String,
    at: Instant,
}

/// Verified logins of the last five minutes, shared by every session of this process.
pub struct CredentialCache {
    key: hmac::Key,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache").finish_non_exhaustive()
    }
}

impl Default for CredentialCache {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialCache {
    /// An empty cache with a fresh random secret.
    pub fn new() -> Self {
        let secret: [u8; 32] = rand::random();
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, &secret), entries: Mutex::default() }
    }

    fn id(&self, username: &str, password: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(username.as_bytes());
        ctx.update(&[0]);
        ctx.update(password.as_bytes());
        let mut id = [0u8; 32];
        id.copy_from_slice(ctx.sign().as_ref());
        id
    }

    /// Whether this username and password were verified against `phc` within the last five
    /// minutes.
    pub fn check(&self, username: &str, password: &str, phc: &str) -> bool {
        let id = self.id(username, password);
        self.entries
            .lock()
            .map(|e| e.get(&id).is_some_and(|e| e.phc == phc && e.at.elapsed() < TTL))
            .unwrap_or(false)
    }

    /// Remembers a successful verification.
    pub fn remember(&self, username: &str, password: &str, phc: &str) {
        let id = self.id(username, password);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.at.elapsed() < TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(
                id,
                Entry { username: username.to_string(), phc: phc.to_string(), at: Instant::now() },
            );
        }
    }

    /// Drops every entry of `username` (password change, disable, delete).
    pub fn forget(&self, username: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| e.username != username);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_same_user_password_and_hash() {
        let c = CredentialCache::new();
        assert!(!c.check("alice", "pw1", "$h1"));
        c.remember("alice", "pw1", "$h1");
        assert!(c.check("alice", "pw1", "$h1"));
        assert!(!c.check("alice", "pw2", "$h1"), "other password");
        assert!(!c.check("bob", "pw1", "$h1"), "other user");
        assert!(!c.check("alice", "pw1", "$h2"), "hash changed: password was changed");
        assert!(!c.check("alicepw", "1", "$h1"), "the separator keeps fields apart");
        c.forget("alice");
        assert!(!c.check("alice", "pw1", "$h1"));
    }

    #[test]
    fn two_caches_use_different_secrets() {
        let (a, b) = (CredentialCache::new(), CredentialCache::new());
        assert_ne!(a.id("alice", "pw"), b.id("alice", "pw"));
    }
}

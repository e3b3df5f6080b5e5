//! The server-side TLS session store shared by the control and data configurations
//! (see [`super::tls`]): a bounded first-in, first-out list of sessions kept in fixed-size
//! slots of one contiguous buffer.
//!
//! rustls' own `ServerSessionMemoryCache` allocates a hash table for the whole bound when it
//! is made (400 KB for [`SESSION_CACHE_SIZE`], in every daemon, FTPS used or not) and three
//! small heap blocks per session (key, value, and the key again for its eviction order). Here
//! a session takes one slot of a ring buffer that grows by doubling up to the bound: nothing
//! until FTPS is used, one block of 0.66 MB when full. After the bench's FTPS logins (W9) and
//! 1,000 idle sessions (W7) the daemon's heap was about 0.4 MiB smaller with it.
//!
//! Lookups, and each put (it drops an older session under the same key), scan an array of
//! 8-byte key prefixes, newest first: at most 32 KiB of memory for a full store, once per
//! handshake, next to the handshake's public-key cryptography; no hash table is needed.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Sessions kept in the store; the oldest are forgotten first beyond this.
pub const SESSION_CACHE_SIZE: usize = 4096;

/// How long a stored session can be resumed: rustls announces stateful TLS 1.3 tickets with
/// a lifetime of one day, and TLS 1.2 session ids get the same.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The length of every key rustls stores: 32 random bytes, both for TLS 1.2 session ids and
/// for stateful TLS 1.3 tickets. A key of another length is refused (no resumption).
const KEY_LEN: usize = 32;

/// Session values up to this length sit in the slot itself. An encoded rustls session is
/// about 55-75 bytes plus the SNI host name (the client certificate chain too, which this
/// server never asks for); longer ones get a heap block of their own.
const INLINE: usize = 118;

/// A bounded, oldest-first-out map from session keys to encoded sessions.
#[derive(Debug)]
pub struct SessionStore {
    ring: Mutex<Ring>,
    /// The most sessions kept.
    bound: usize,
}

/// The sessions, oldest first; `prefixes[i]` is the first 8 bytes of `slots[i].key`.
#[derive(Debug, Default)]
struct Ring {
    prefixes: VecDeque<u64>,
    slots: VecDeque<Slot>,
}

/// One stored session.
#[derive(Debug)]
struct Slot {
    key: [u8; KEY_LEN],
    /// When it was stored, seconds since the Unix epoch.
    created: u64,
    value: Value,
}

/// A session's encoded value, or the hole left by one taken out of the middle of the list.
#[derive(Debug)]
enum Value {
    Taken,
    Inline(u8, [u8; INLINE]),
    Boxed(Box<[u8]>),
}

impl Value {
    fn new(bytes: &[u8]) -> Value {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE => {
                let mut inline = [0u8; INLINE];
                inline[..bytes.len()].copy_from_slice(bytes);
                Value::Inline(len, inline)
            }
            _ => Value::Boxed(bytes.into()),
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Taken => None,
            Value::Inline(len, bytes) => Some(&bytes[..usize::from(*len)]),
            Value::Boxed(bytes) => Some(bytes),
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The first 8 bytes of a key, the scan's quick filter.
fn prefix(key: &[u8; KEY_LEN]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&key[..8]);
    u64::from_ne_bytes(first)
}

impl SessionStore {
    /// An empty store that keeps at most `bound` sessions; it allocates nothing until the
    /// first session arrives.
    pub fn new(bound: usize) -> SessionStore {
        SessionStore { ring: Mutex::new(Ring::default()), bound: bound.max(1) }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A poisoned lock only means a thread panicked while holding it; every change to
        // the ring leaves it consistent (push_back on both deques happens after validation).
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `value` under `key`; false (not stored, so not offered for resumption) for a
    /// key that is not 32 bytes long.
    pub fn put(&self, key: &[u8], value: &[u8]) -> bool {
        let Ok(key) = <[u8; KEY_LEN]>::try_from(key) else {
            return false;
        };
        let slot = Slot { key, created: now_secs(), value: Value::new(value) };
        let mut ring = self.ring();
        // rustls' keys are random, but an equal key must not leave an older value behind.
        ring.remove(&key);
        while ring.slots.len() >= self.bound {
            ring.pop_oldest();
        }
        ring.pop_taken();
        ring.prefixes.push_back(prefix(&key));
        ring.slots.push_back(slot);
        ring.forget_expired(now_secs());
        true
    }

    /// A copy of the session stored under `key`, if it is there and not expired.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut ring = self.ring();
        ring.forget_expired(now_secs());
        let at = ring.find(key)?;
        ring.slots[at].value.bytes().map(<[u8]>::to_vec)
    }

    /// Like [`SessionStore::get`], and the session is removed.
    pub fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut ring = self.ring();
        ring.forget_expired(now_secs());
        let at = ring.find(key)?;
        let value = std::mem::replace(&mut ring.slots[at].value, Value::Taken);
        ring.pop_taken();
        match value {
            Value::Taken => None,
            Value::Inline(len, bytes) => Some(bytes[..usize::from(len)].to_vec()),
            Value::Boxed(bytes) => Some(bytes.into_vec()),
        }
    }

    /// Sessions stored and not taken (expired ones included until they are dropped).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.ring().slots.iter().filter(|s| s.value.bytes().is_some()).count()
    }
}

impl Ring {
    /// The index of the live session stored under `key`, newest first.
    fn find(&self, key: &[u8]) -> Option<usize> {
        let key = <&[u8; KEY_LEN]>::try_from(key).ok()?;
        let wanted = prefix(key);
        let mut at = self.prefixes.len();
        while let Some(i) = self.prefixes.range(..at).rposition(|p| *p == wanted) {
            let slot = &self.slots[i];
            if slot.key == *key && slot.value.bytes().is_some() {
                return Some(i);
            }
            at = i;
        }
        None
    }

    /// Removes the session stored under `key`, if any.
    fn remove(&mut self, key: &[u8; KEY_LEN]) {
        if let Some(at) = self.find(key) {
            self.slots[at].value = Value::Taken;
            self.pop_taken();
        }
    }

    fn pop_oldest(&mut self) {
        self.prefixes.pop_front();
        self.slots.pop_front();
    }

    /// Drops taken sessions from the old end, and gives back most of the buffer when few
    /// slots are in use, so that an idle daemon does not keep the buffer of a past burst.
    fn pop_taken(&mut self) {
        while self.slots.front().is_some_and(|s| s.value.bytes().is_none()) {
            self.pop_oldest();
        }
        let (len, capacity) = (self.slots.len(), self.slots.capacity());
        if capacity > 64 && len < capacity / 4 {
            self.slots.shrink_to(len * 2);
            self.prefixes.shrink_to(len * 2);
        }
    }

    /// Drops sessions older than [`SESSION_MAX_AGE`] (the oldest are at the front).
    fn forget_expired(&mut self, now: u64) {
        let oldest_kept = now.saturating_sub(SESSION_MAX_AGE.as_secs());
        let before = self.slots.len();
        while self.slots.front().is_some_and(|s| s.created < oldest_kept) {
            self.pop_oldest();
        }
        if self.slots.len() != before {
            self.pop_taken();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Vec<u8> {
        let mut k = vec![7u8; KEY_LEN];
        k[KEY_LEN - 4..].copy_from_slice(&n.to_be_bytes());
        k
    }

    #[test]
    fn stores_gets_and_takes() {
        let store = SessionStore::new(8);
        assert!(store.put(&key(1), b"one"));
        assert!(store.put(&key(2), b"two"));
        assert_eq!(store.get(&key(1)).as_deref(), Some(&b"one"[..]));
        // get leaves it, take removes it.
        assert_eq!(store.get(&key(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(store.take(&key(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(store.get(&key(1)), None);
        assert_eq!(store.take(&key(1)), None);
        assert_eq!(store.get(&key(2)).as_deref(), Some(&b"two"[..]));
        assert_eq!(store.get(&key(3)), None);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn keys_share_prefixes_and_other_lengths_are_refused() {
        // All test keys share their first 8 bytes: the scan must compare whole keys.
        let store = SessionStore::new(64);
        for n in 0..50 {
            assert!(store.put(&key(n), format!("v{n}").as_bytes()));
        }
        for n in 0..50 {
            assert_eq!(store.get(&key(n)), Some(format!("v{n}").into_bytes()));
        }
        assert!(!store.put(&[1u8; 16], b"short key"));
        assert_eq!(store.get(&[1u8; 16]), None);
        assert_eq!(store.get(&[]), None);
    }

    #[test]
    fn a_put_under_an_existing_key_replaces_it() {
        let store = SessionStore::new(4);
        assert!(store.put(&key(1), b"old"));
        assert!(store.put(&key(1), b"new"));
        assert_eq!(store.take(&key(1)).as_deref(), Some(&b"new"[..]));
        assert_eq!(store.get(&key(1)), None);
    }

    #[test]
    fn the_oldest_go_first_beyond_the_bound() {
        let store = SessionStore::new(3);
        for n in 1..=5 {
            store.put(&key(n), &n.to_be_bytes());
        }
        assert_eq!(store.get(&key(1)), None);
        assert_eq!(store.get(&key(2)), None);
        for n in 3..=5 {
            assert_eq!(store.get(&key(n)), Some(n.to_be_bytes().to_vec()));
        }
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn long_values_are_kept_whole() {
        let store = SessionStore::new(4);
        let long: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let edge = vec![9u8; INLINE];
        let over = vec![8u8; INLINE + 1];
        store.put(&key(1), &long);
        store.put(&key(2), &edge);
        store.put(&key(3), &over);
        store.put(&key(4), b"");
        assert_eq!(store.get(&key(1)), Some(long.clone()));
        assert_eq!(store.take(&key(1)), Some(long));
        assert_eq!(store.get(&key(2)), Some(edge));
        assert_eq!(store.get(&key(3)), Some(over));
        assert_eq!(store.get(&key(4)), Some(Vec::new()));
    }

    #[test]
    fn expired_sessions_are_not_returned_and_are_dropped() {
        let store = SessionStore::new(8);
        store.put(&key(1), b"old");
        store.put(&key(2), b"new");
        // Age the first session past the limit.
        store.ring().slots[0].created = now_secs() - SESSION_MAX_AGE.as_secs() - 1;
        assert_eq!(store.get(&key(1)), None);
        assert_eq!(store.ring().slots.len(), 1);
        assert_eq!(store.get(&key(2)).as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn the_buffer_shrinks_once_most_sessions_are_taken() {
        let store = SessionStore::new(4096);
        for n in 0..1000 {
            store.put(&key(n), b"session");
        }
        let full = store.ring().slots.capacity();
        assert!(full >= 1000);
        // Taking from the old end frees the slots, and the buffer follows.
        for n in 0..990 {
            assert!(store.take(&key(n)).is_some());
        }
        let ring = store.ring();
        assert_eq!(ring.slots.len(), 10);
        assert!(ring.slots.capacity() < full / 4, "{} of {full}", ring.slots.capacity());
        assert_eq!(ring.prefixes.len(), 10);
    }

    #[test]
    fn holes_in_the_middle_wait_for_their_turn() {
        let store = SessionStore::new(3);
        store.put(&key(1), b"1");
        store.put(&key(2), b"2");
        store.put(&key(3), b"3");
        // A taken session in the middle keeps its slot until the ones before it go...
        assert!(store.take(&key(2)).is_some());
        assert_eq!(store.ring().slots.len(), 3);
        // ...and counts against the bound until then: the oldest live one goes first.
        store.put(&key(4), b"4");
        assert_eq!(store.get(&key(1)), None);
        assert_eq!(store.ring().slots.len(), 2);
        assert_eq!(store.get(&key(3)).as_deref(), Some(&b"3"[..]));
        assert_eq!(store.get(&key(4)).as_deref(), Some(&b"4"[..]));
    }
}

//! The failed-logins policy: after `max` failed logins for one key (address, user name, or
//! both, per [`BlockBy`]), logins for that key are refused for `block`.
//!
//! The session asks [`Guard::is_blocked`] before it verifies a password, so that during a
//! block a right and a wrong guess get the same reply in the same time (nothing to learn).
//! Memory stays bounded whatever an attacker sends: at most [`MAX_KEYS`] keys, user names cut
//! to [`MAX_USER_BYTES`] bytes.
//!
//! The session reaches the policy through [`LoginGuard`]. [`Guard`] keeps the counts in this
//! process; a program that runs several servers on one database gives the server its own
//! implementation ([`super::server::Server::with_login_guard`]) so that the counts are shared,
//! keyed by [`key_text`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use super::{BlockBy, FailedLogins};

/// What the policy knows about a login about to be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No failure on record: a successful login has nothing to clear.
    Clear,
    /// Failures on record, no block: a successful login clears them.
    Counting,
    /// Blocked: refused before the password is checked.
    Blocked,
}

/// Where the failed-logins policy keeps its counts. The session asks [`LoginGuard::check`]
/// before it verifies a password, reports bad credentials with [`LoginGuard::failed`] and,
/// when the check found failures, a successful login with [`LoginGuard::succeeded`].
#[async_trait]
pub trait LoginGuard: Send + Sync + 'static {
    /// What is on record for a login of `user` from `ip` now.
    async fn check(&self, ip: IpAddr, user: &str) -> Verdict;
    /// Counts a failed attempt (bad credentials).
    async fn failed(&self, ip: IpAddr, user: &str);
    /// A successful login clears the count for its key.
    async fn succeeded(&self, ip: IpAddr, user: &str);
}

/// The key of a login of `user` from `ip` under `by`, as text for a shared store:
/// `pair <ip> <user>`, `ip <ip>` or `user <user>`, with the address in one form (an IPv4
/// client on a dual-stack socket is `a.b.c.d`) and the name cut to [`MAX_USER_BYTES`], as
/// [`Guard`]'s own keys.
pub fn key_text(by: BlockBy, ip: IpAddr, user: &str) -> String {
    let ip = ip.to_canonical();
    match by {
        BlockBy::UserAndIp => format!("pair {ip} {}", truncate(user)),
        BlockBy::Ip => format!("ip {ip}"),
        BlockBy::User => format!("user {}", truncate(user)),
    }
}

/// Most keys remembered at once; beyond it, expired entries go first, then the oldest.
pub const MAX_KEYS: usize = 100_000;

/// User names longer than this are cut (at a character boundary) in keys.
pub const MAX_USER_BYTES: usize = 64;

/// What one entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    UserAndIp(IpAddr, Box<str>),
    Ip(IpAddr),
    User(Box<str>),
}

/// The failures counted for one key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// The latest failure: failures older than `block` no longer count.
    last: Instant,
    /// Set when `failures` reached `max`: no login until then.
    blocked_until: Option<Instant>,
}

/// The failed-logins policy, shared by all sessions (`Arc<Guard>`).
#[derive(Debug)]
pub struct Guard {
    policy: FailedLogins,
    entries: Mutex<HashMap<Key, Entry>>,
    capacity: usize,
}

impl Guard {
    /// A guard applying `policy` (a `max` of 0 counts as 1).
    pub fn new(policy: FailedLogins) -> Self {
        Self::with_capacity(policy, MAX_KEYS)
    }

    /// A guard remembering at most `capacity` keys (tests use small ones).
    fn with_capacity(policy: FailedLogins, capacity: usize) -> Self {
        Self { policy, entries: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// Whether a login of `user` from `ip` is blocked now. Checked BEFORE the password is
    /// verified, so during a block a right and a wrong guess get the same reply and time.
    pub fn is_blocked(&self, ip: IpAddr, user: &str) -> bool {
        self.is_blocked_at(ip, user, Instant::now())
    }

    /// What is on record for `user` from `ip` now.
    pub fn verdict(&self, ip: IpAddr, user: &str) -> Verdict {
        if self.is_blocked(ip, user) {
            Verdict::Blocked
        } else if self.lock().contains_key(&self.key(ip, user)) {
            Verdict::Counting
        } else {
            Verdict::Clear
        }
    }

    /// Counts a failed attempt (bad credentials).
    pub fn failed(&self, ip: IpAddr, user: &str) {
        self.failed_at(ip, user, Instant::now());
    }

    /// A successful login clears the count for its key.
    pub fn succeeded(&self, ip: IpAddr, user: &str) {
        let key = self.key(ip, user);
        self.lock().remove(&key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic elsewhere while holding the lock leaves a consistent map: keep going.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key(&self, ip: IpAddr, user: &str) -> Key {
        // One form per address: an IPv4 client reaching a dual-stack socket shows up as
        // ::ffff:a.b.c.d and must share its IPv4 entry.
        let ip = ip.to_canonical();
        match self.policy.by {
            BlockBy::UserAndIp => Key::UserAndIp(ip, truncate(user).into()),
            BlockBy::Ip => Key::Ip(ip),
            BlockBy::User => Key::User(truncate(user).into()),
        }
    }

    /// Whether `entry` no longer matters at `now`: no block running and its failures too old.
    fn expired(&self, entry: &Entry, now: Instant) -> bool {
        match entry.blocked_until {
            Some(until) => now >= until,
            None => now.saturating_duration_since(entry.last) >= self.policy.block,
        }
    }

    fn is_blocked_at(&self, ip: IpAddr, user: &str, now: Instant) -> bool {
        let key = self.key(ip, user);
        let mut entries = self.lock();
        match entries.get(&key) {
            Some(entry) if entry.blocked_until.is_some_and(|until| now < until) => true,
            Some(entry) if self.expired(entry, now) => {
                entries.remove(&key);
                false
            }
            _ => false,
        }
    }

    fn failed_at(&self, ip: IpAddr, user: &str, now: Instant) {
        let key = self.key(ip, user);
        let max = self.policy.max.max(1);
        let mut entries = self.lock();
        if !entries.contains_key(&key) && entries.len() >= self.capacity {
            self.make_room(&mut entries, now);
        }
        let fresh = Entry { failures: 0, last: now, blocked_until: None };
        let entry = entries.entry(key).or_insert(fresh);
        if self.expired(entry, now) {
            *entry = fresh;
        }
        if entry.blocked_until.is_some() {
            // Already blocked: the block ends `block` after the failure that triggered it,
            // later attempts do not extend it.
            return;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        if entry.failures >= max {
            entry.blocked_until = Some(now + self.policy.block);
        }
    }

    /// Frees at least one slot: expired entries first; if none, the oldest tenth (by latest
    /// failure), so that a flood of new keys costs one sort per many insertions.
    fn make_room(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        entries.retain(|_, entry| !self.expired(entry, now));
        if entries.len() < self.capacity {
            return;
        }
        let mut ages: Vec<Instant> = entries.values().map(|entry| entry.last).collect();
        let evict = (self.capacity / 10).max(1);
        let (_, cutoff, _) = ages.select_nth_unstable(evict - 1);
        let cutoff = *cutoff;
        let mut removed = 0;
        entries.retain(|_, entry| {
            if removed < evict && entry.last <= cutoff {
                removed += 1;
                false
            } else {
                true
            }
        });
    }

    /// How many keys are remembered now (tests, metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl LoginGuard for Guard {
    async fn check(&self, ip: IpAddr, user: &str) -> Verdict {
        self.verdict(ip, user)
    }

    async fn failed(&self, ip: IpAddr, user: &str) {
        Guard::failed(self, ip, user);
    }

    async fn succeeded(&self, ip: IpAddr, user: &str) {
        Guard::succeeded(self, ip, user);
    }
}

/// `user` cut to at most [`MAX_USER_BYTES`] bytes at a character boundary.
fn truncate(user: &str) -> &str {
    if user.len() <= MAX_USER_BYTES {
        return user;
    }
    let mut end = MAX_USER_BYTES;
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    &user[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BLOCK: Duration = Duration::from_secs(60);

    fn guard(max: u32, by: BlockBy) -> Guard {
        Guard::new(FailedLogins { max, block: BLOCK, by })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_after_max_failures_and_expires() {
        let g = guard(3, BlockBy::UserAndIp);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        g.failed_at(a, "alice", t0);
        g.failed_at(a, "alice", t0);
        assert!(!g.is_blocked_at(a, "alice", t0));
        g.failed_at(a, "alice", t0 + Duration::from_secs(1));
        assert!(g.is_blocked_at(a, "alice", t0 + Duration::from_secs(2)));
        // Other keys are not blocked.
        assert!(!g.is_blocked_at(a, "bob", t0));
        assert!(!g.is_blocked_at(ip("192.0.2.2"), "alice", t0));
        // More failures during the block do not extend it.
        g.failed_at(a, "alice", t0 + Duration::from_secs(30));
        let end = t0 + Duration::from_secs(1) + BLOCK;
        assert!(g.is_blocked_at(a, "alice", end - Duration::from_millis(1)));
        assert!(!g.is_blocked_at(a, "alice", end));
        // After the block, counting starts again.
        g.failed_at(a, "alice", end);
        assert!(!g.is_blocked_at(a, "alice", end));
    }

    #[test]
    fn success_clears_the_count() {
        let g = guard(2, BlockBy::UserAndIp);
        let a = ip("192.0.2.1");
        g.failed(a, "alice");
        g.succeeded(a, "alice");
        g.failed(a, "alice");
        assert!(!g.is_blocked(a, "alice"));
        g.failed(a, "alice");
        assert!(g.is_blocked(a, "alice"));
    }

    #[test]
    fn old_failures_stop_counting() {
        let g = guard(2, BlockBy::UserAndIp);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        g.failed_at(a, "alice", t0);
        g.failed_at(a, "alice", t0 + BLOCK + Duration::from_secs(1));
        assert!(!g.is_blocked_at(a, "alice", t0 + BLOCK + Duration::from_secs(2)));
    }

    #[test]
    fn keys_by_ip_and_by_user() {
        let g = guard(2, BlockBy::Ip);
        let a = ip("192.0.2.1");
        g.failed(a, "alice");
        g.failed(a, "bob");
        assert!(g.is_blocked(a, "carol"));
        assert!(!g.is_blocked(ip("192.0.2.2"), "alice"));
        // The IPv4-mapped form is the same client.
        assert!(g.is_blocked(ip("::ffff:192.0.2.1"), "dave"));

        let g = guard(2, BlockBy::User);
        g.failed(a, "alice");
        g.failed(ip("2001:db8::1"), "alice");
        assert!(g.is_blocked(ip("198.51.100.9"), "alice"));
        assert!(!g.is_blocked(a, "bob"));
    }

    #[test]
    fn verdicts_and_text_keys() {
        let g = guard(2, BlockBy::UserAndIp);
        let a = ip("192.0.2.1");
        assert_eq!(g.verdict(a, "alice"), Verdict::Clear);
        g.failed(a, "alice");
        assert_eq!(g.verdict(a, "alice"), Verdict::Counting);
        g.failed(a, "alice");
        assert_eq!(g.verdict(a, "alice"), Verdict::Blocked);
        let mapped = ip("::ffff:192.0.2.1");
        assert_eq!(key_text(BlockBy::UserAndIp, mapped, "alice"), "pair 192.0.2.1 alice");
        assert_eq!(key_text(BlockBy::Ip, mapped, "x"), "ip 192.0.2.1");
        let long = "é".repeat(40);
        assert_eq!(key_text(BlockBy::User, a, &long), format!("user {}", truncate(&long)));
    }

    #[test]
    fn max_zero_blocks_at_the_first_failure() {
        let g = guard(0, BlockBy::Ip);
        let a = ip("192.0.2.1");
        assert!(!g.is_blocked(a, "x"));
        g.failed(a, "x");
        assert!(g.is_blocked(a, "x"));
    }

    #[test]
    fn long_user_names_are_truncated_in_keys() {
        let g = guard(2, BlockBy::User);
        let a = ip("192.0.2.1");
        let long1 = format!("{}{}", "é".repeat(40), "tail-one");
        let long2 = format!("{}{}", "é".repeat(40), "tail-two");
        g.failed(a, &long1);
        g.failed(a, &long2);
        assert!(g.is_blocked(a, &long1));
        assert!(truncate(&long1).len() <= MAX_USER_BYTES);
        assert_eq!(truncate("alice"), "alice");
    }

    #[test]
    fn memory_is_bounded() {
        let g = Guard::with_capacity(
            FailedLogins { max: 1, block: BLOCK, by: BlockBy::UserAndIp },
            100,
        );
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let at = t0 + Duration::from_millis(u64::from(i));
            g.failed_at(IpAddr::from(i.to_be_bytes()), "u", at);
            assert!(g.len() <= 100);
        }
        // The newest block survives; the oldest was evicted.
        let newest = IpAddr::from(999u32.to_be_bytes());
        assert!(g.is_blocked_at(newest, "u", t0 + Duration::from_secs(1)));
        assert!(!g.is_blocked_at(
            IpAddr::from(0u32.to_be_bytes()),
            "u",
            t0 + Duration::from_secs(1)
        ));

        // Expired entries go first, whatever their number.
        let later = t0 + BLOCK * 2;
        g.failed_at(ip("192.0.2.200"), "u", later);
        assert_eq!(g.len(), 1);
    }
}

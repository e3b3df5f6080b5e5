//! `SITE PASSWD <current> <new>`: change your own password. The current password must match
//! and the new one pass the policy (at least 8 characters); new logins need the new password at
//! once. Passwords cannot contain spaces here (FTP arguments are space-separated). Neither is
//! ever logged or echoed. Any logged-in user; 200, 501 on bad syntax, 550 when refused.
//!
//! A wrong current password counts like a failed login (issue 11, item 4): a stolen session
//! must not become a way to guess the password. After `failed_logins_max` wrong ones in a row
//! (each within `failed_logins_block` of the previous), `SITE PASSWD` of that user is refused
//! for `failed_logins_block` without checking anything, so a right guess then looks like a
//! wrong one. Counted per user, in this daemon; `failed_logins_max = 0` turns it off like the
//! login policy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Call, SiteCommand, Syntax, ok};
use crate::account::Accounts;
use crate::error::{Error, Result};
use crate::ftp::Reply;

/// Most users tracked at once; expired entries go first (only logged-in users get here, so
/// this is never reached in practice).
const MAX_ENTRIES: usize = 10_000;

/// `SITE PASSWD`.
#[derive(Debug)]
pub(super) struct Passwd {
    pub(super) accounts: Accounts,
    pub(super) limit: GuessLimit,
}

/// Counts the attempts of each user and blocks them after too many wrong ones.
#[derive(Debug)]
pub struct GuessLimit {
    /// Wrong attempts before a block; 0: no limit.
    max: u32,
    block: Duration,
    entries: Mutex<HashMap<String, Tries>>,
}

#[derive(Debug, Clone, Copy)]
struct Tries {
    /// Attempts not yet cleared by a right current password.
    count: u32,
    /// The latest attempt: a count older than the block time starts over.
    last: Instant,
    blocked_until: Option<Instant>,
}

impl GuessLimit {
    /// A limit of `max` wrong attempts (0: none), then a block of `block`.
    pub fn new(max: u32, block: Duration) -> Self {
        Self { max, block, entries: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tries>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one attempt of `user` now, or says for how long they are blocked. The attempt
    /// counts before the password is checked, so parallel sessions cannot all guess while the
    /// first checks run; the attempt that reaches `max` still runs, the next one is blocked.
    fn begin(&self, user: &str, now: Instant) -> Result<(), Duration> {
        if self.max == 0 {
            return Ok(());
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(user) {
            let block = self.block;
            entries.retain(|_, t| now.saturating_duration_since(t.last) < block);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let tries = entries.entry(user.to_string()).or_insert(Tries {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if let Some(until) = tries.blocked_until {
            if now < until {
                return Err(until - now);
            }
            *tries = Tries { count: 0, last: now, blocked_until: None };
        }
        if now.saturating_duration_since(tries.last) >= self.block {
            tries.count = 0;
        }
        tries.count += 1;
        tries.last = now;
        if tries.count >= self.max {
            tries.blocked_until = Some(now + self.block);
        }
        Ok(())
    }

    /// The current password was right: `user`'s count starts over.
    fn cleared(&self, user: &str) {
        self.lock().remove(user);
    }
}

/// Parses `<current> <new>`: exactly two words.
pub fn parse(args: &str) -> Option<(&str, &str)> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(current), Some(new), None) => Some((current, new)),
        _ => None,
    }
}

#[async_trait]
impl SiteCommand for Passwd {
    const NAME: &'static str = "PASSWD";
    const SYNTAX: &'static [Syntax] =
        &[Syntax { args: "<current> <new>", summary: "change your password" }];
    /// The current and the new password.
    type Request<'a> = (&'a str, &'a str);

    fn parse(args: &str) -> Option<(&str, &str)> {
        parse(args)
    }

    async fn run(&self, (current, new): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let me = &call.user.username;
        if let Err(left) = self.limit.begin(me, Instant::now()) {
            tracing::warn!(
                user = %me,
                ip = %call.client.addr.ip(),
                "password change refused: too many wrong current passwords"
            );
            return Ok(Reply::new(
                550,
                format!(
                    "Too many wrong current passwords: SITE PASSWD is blocked for {} s",
                    left.as_secs().max(1)
                ),
            ));
        }
        match self.accounts.change_own_password(me, current, new).await {
            Ok(()) => {
                self.limit.cleared(me);
                Ok(ok("Password changed; use the new one from your next login".into()))
            }
            // The current password was right, the new one is refused (policy, unchanged).
            Err(e @ Error::InvalidInput(_)) => {
                self.limit.cleared(me);
                Err(e)
            }
            // A wrong current password (Forbidden) stays counted, and so does anything that
            // failed before the check.
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_needs_exactly_two_words() {
        assert_eq!(parse("old1pass new2pass"), Some(("old1pass", "new2pass")));
        assert_eq!(parse("  a   b  "), Some(("a", "b")));
        assert_eq!(parse("only"), None);
        assert_eq!(parse("a b c"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn the_limit_blocks_after_max_attempts_for_the_block_time() {
        let limit = GuessLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limit.begin("alice", t0 + Duration::from_secs(i)).is_ok(), "attempt {i}");
        }
        let left = limit.begin("alice", t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!(left, Duration::from_secs(9));
        assert!(limit.begin("bob", t0 + Duration::from_secs(3)).is_ok(), "per user");
        // After the block: a fresh count.
        assert!(limit.begin("alice", t0 + Duration::from_secs(13)).is_ok());
        // A right password clears the count.
        limit.cleared("alice");
        for i in 0..3 {
            assert!(limit.begin("alice", t0 + Duration::from_secs(14 + i)).is_ok());
        }
        // Attempts further apart than the block time do not add up.
        let slow = GuessLimit::new(2, Duration::from_secs(10));
        assert!(slow.begin("alice", t0).is_ok());
        assert!(slow.begin("alice", t0 + Duration::from_secs(11)).is_ok());
        assert!(slow.begin("alice", t0 + Duration::from_secs(22)).is_ok());
        // 0: no limit.
        let off = GuessLimit::new(0, Duration::from_secs(10));
        assert!((0..100).all(|_| off.begin("alice", t0).is_ok()));
    }
}

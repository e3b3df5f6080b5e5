//! [`SharedGuard`]: the engine's failed-logins policy ([`LoginGuard`]) over the database's
//! counts ([`LoginFailures`]), so that every node on the database blocks the same guesser.
//! The engine makes the key text ([`key_text`]), the same key its in-memory guard uses.
//!
//! A database that cannot answer must not lock everyone out, nor stop logins it would let
//! through: a failed check lets the login go on (the login itself needs the database and
//! fails on its own), a failed count is logged.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::ftp::BlockBy;
use crate::ftp::guard::{LoginGuard, Verdict, key_text};
use crate::session::LoginFailures;
use crate::session::failures::Record;

/// The failed-logins policy over the database, keyed as `by` says.
#[derive(Debug)]
pub struct SharedGuard {
    failures: LoginFailures,
    by: BlockBy,
}

impl SharedGuard {
    /// The guard over `failures`, keyed by `by`.
    pub fn new(failures: LoginFailures, by: BlockBy) -> Self {
        Self { failures, by }
    }
}

#[async_trait]
impl LoginGuard for SharedGuard {
    async fn check(&self, ip: IpAddr, user: &str) -> Verdict {
        match self.failures.check(&key_text(self.by, ip, user)).await {
            Ok(Record::Clear) => Verdict::Clear,
            Ok(Record::Counting) => Verdict::Counting,
            Ok(Record::Blocked) => Verdict::Blocked,
            Err(e) => {
                tracing::warn!(cause = %e, "cannot read the failed-logins counts");
                Verdict::Clear
            }
        }
    }

    async fn failed(&self, ip: IpAddr, user: &str) {
        if let Err(e) = self.failures.failed(&key_text(self.by, ip, user)).await {
            tracing::warn!(cause = %e, "cannot count a failed login");
        }
    }

    async fn succeeded(&self, ip: IpAddr, user: &str) {
        if let Err(e) = self.failures.succeeded(&key_text(self.by, ip, user)).await {
            tracing::warn!(cause = %e, "cannot clear the failed-logins count");
        }
    }
}

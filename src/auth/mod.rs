//! Login and the engine's view of the program: how an FTP `USER`/`PASS` pair becomes a
//! [`LoggedIn`](crate::account::LoggedIn) user, and [`Daemon`], the [`Backend`](crate::ftp::Backend) that gives the
//! engine accounts, storage, SITE commands and a place to report events.
//!
//! Credentials are checked against the `users` table (argon2id, constant work for unknown
//! users). An unknown user, a wrong password and a disabled account all give the same bad
//! credentials answer, so the client sees the same `530` and the engine's failed-logins
//! policy counts all three.
//!
//! The failed-logins counts are the database's ([`SharedGuard`]), so they hold across the
//! nodes sharing it.
//!
//! Open sessions lose their right at the next command once the account is disabled, deleted or
//! kicked ([`access`]), whichever process made the change.

pub mod access;
pub mod backend;
pub mod failures;

pub use backend::Daemon;
pub use failures::SharedGuard;

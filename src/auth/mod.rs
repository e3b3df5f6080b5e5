//! Login: how an FTP `USER`/`PASS` pair becomes a logged-in [`FtpUser`].
//!
//! libunftp splits login in two stages. [`DbAuthenticator`] checks the credentials against the
//! `users` table (argon2id, constant work for unknown users) and yields a `Principal`;
//! [`DbUserDetailProvider`] turns the principal into an [`FtpUser`] carrying the home folder the
//! storage backend is rooted at. Every failure is reported as a bad password, so the client sees
//! the same `530` for an unknown user, a wrong password and a disabled account, and libunftp's
//! failed-logins policy counts all three.

pub mod authenticator;
pub mod cache;
pub mod password;
pub mod store;
pub mod user;

pub use authenticator::DbAuthenticator;
pub use user::{DbUserDetailProvider, FtpUser};

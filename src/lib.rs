//! multiftp: a multi-user FTP server for teams, on its own FTP engine, tokio and SQLite.
//!
//! Users log in with any FTP client against accounts in a SQLite database (argon2id hashes),
//! each lives in a private home, and they can share files with each other through the
//! read-only virtual folder `/shared`. `multiftpd` serves FTP; `ftpadm` manages the same
//! database from the command line, while the daemon runs.
//!
//! # Layout
//!
//! Three tiers, data flowing one way: protocol -> service -> data.
//!
//! - Protocol: [`ftp`] (the FTP engine, which knows nothing of the rest and reaches it
//!   through its `Backend` trait), [`server`] (start-up: settings to engine options),
//!   [`site`] (custom SITE commands), [`cli`] (shared clap flags) and the binaries in
//!   `src/bin/`.
//! - Service: [`account`] (users, roles, profiles, passwords), [`share`] (sharing),
//!   [`message`] (messages and broadcasts), [`session`] (who is online), [`auth`] (login on
//!   top of accounts, and the engine's backend over all of these).
//! - Data: [`db`] (pool and migrations), `*/store.rs` (all SQL), [`storage`] (the per-user
//!   storage backend with the `/shared` folder).
//!
//! [`config`] loads layered settings; [`error`] is the crate's error type.

pub mod account;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod ftp;
pub mod message;
pub mod metrics;
pub mod server;
pub mod session;
pub mod share;
pub mod signal;
pub mod site;
pub mod storage;
pub mod transfer_log;

pub use app::App;
pub use config::Settings;
pub use error::{Error, Result};
pub use server::run;

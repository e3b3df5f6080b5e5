//! multiftp: a multi-user FTP server for teams, on its own FTP engine, tokio and SQLite.
//!
//! Users log in with any FTP client against accounts in a SQLite database (argon2id hashes),
//! each lives in a private home, and they can share files with each other through the
//! read-only virtual folder `/shared`. `multiftpd` serves FTP; `ftpadm` manages the same
//! database from the command line, while the daemon runs.
//!
//! # Layout
//!
//! Three tiers, imports going one way: protocol -> service -> data (`tests/it/layout.rs`
//! checks it).
//!
//! - Protocol: [`ftp`] (the FTP engine, which knows nothing of the rest and reaches it
//!   through its `Backend` and `Storage` traits), [`auth`] (those traits over the services,
//!   and the access checks of open sessions), [`site`] (custom SITE commands), [`server`]
//!   (settings to engine options, serving, reload), [`metrics`], [`cli`] (logging set-up) and
//!   the binaries in `src/bin/`.
//! - Service: [`app`] (opens everything), [`account`] (users, roles, profiles, passwords),
//!   [`share`] (sharing), [`message`] (messages and broadcasts), [`session`] (who is online).
//! - Data: [`db`] (pool, migrations, error classification), each service's `store.rs` (all
//!   SQL), [`storage`] (one user's files with the `/shared` folder).
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
pub mod memory;
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

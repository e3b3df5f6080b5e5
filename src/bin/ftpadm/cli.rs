//! `ftpadm`'s command line: the global flags and the list of top-level commands. Each command
//! group keeps its clap types next to the code that runs them (`user.rs`, `share.rs`, ...), so
//! a new command is one variant there; this file only names the groups.

use std::io::Write;

use clap::{Parser, Subcommand};
use multiftp::App;
use multiftp::config::DataArgs;

use crate::output::Output;
use crate::{cert, msg, password, profile, session, share, user};

/// Manage multiftp users and shares.
///
/// Uses the same configuration as multiftpd: --config, --root and --db (or MULTIFTP_CONFIG,
/// MULTIFTP_ROOT, MULTIFTP_DB) point both at the same database.
#[derive(Debug, Parser)]
#[command(name = "ftpadm", version)]
pub struct Cli {
    #[command(flatten)]
    pub data: DataArgs,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands, split by what they need: `init` makes the database, `cert` needs
/// none, and all the others need an existing one.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data root, its homes folder and the database with the first admin account,
    /// as multiftpd's first start does; prints the admin's password (also kept in
    /// <root>/initial-admin-password until it is changed).
    Init,
    #[command(flatten)]
    Database(DbCommand),
    /// Make TLS certificates for FTPS.
    #[command(subcommand)]
    Cert(cert::CertCommand),
}

/// The commands that work on an existing database.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Add, list, show, update and delete users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Set a user's password (asked twice on the terminal, or --password-stdin).
    Passwd {
        /// The user.
        name: String,
        #[command(flatten)]
        password: password::PasswordArgs,
    },
    /// Share files between users (the same as SITE SHARE / UNSHARE / SHARES).
    #[command(subcommand)]
    Share(share::ShareCommand),
    /// Show or change a user's profile (the same as SITE PROFILE / SETPROFILE).
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Send messages to users (they read them with SITE INBOX).
    #[command(subcommand)]
    Msg(msg::MsgCommand),
    /// Show who is logged in now, in every running multiftpd on this database.
    Who,
    /// End a user's open sessions in every running multiftpd on this database (within a
    /// second, at each session's next command). The account stays enabled: they may log in
    /// again; disable it to keep them out.
    Kick {
        /// The user.
        name: String,
    },
}

impl DbCommand {
    /// Runs the command on `app`'s database, writing its result to `out`.
    pub async fn run(self, app: &App, out: &mut Output<impl Write>) -> anyhow::Result<()> {
        match self {
            DbCommand::User(cmd) => cmd.run(app, out).await,
            DbCommand::Passwd { name, password } => {
                password::passwd(app, out, &name, &password).await
            }
            DbCommand::Share(cmd) => cmd.run(app, out).await,
            DbCommand::Profile(cmd) => cmd.run(app, out).await,
            DbCommand::Msg(cmd) => cmd.run(app, out).await,
            DbCommand::Who => session::who(app, out).await,
            DbCommand::Kick { name } => session::kick(app, out, &name).await,
        }
    }
}

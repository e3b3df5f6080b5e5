//! `ftpadm`: the multiftp admin CLI. Works on the same database as `multiftpd`, also while the
//! daemon runs. Every command calls the library's service functions, the same ones the SITE
//! commands use. Exit codes: 0 success (also when the reader of standard output closed it
//! early, as with `| head`), 1 failure (one line on stderr), 2 usage.
//!
//! Only `ftpadm init` creates a SQLite database: every other command needs an existing one, so
//! a mistyped `--root` is reported instead of answered with an empty, new installation. A
//! PostgreSQL database exists before multiftp uses it; any command brings its schema up to date.
//!
//! # Layout
//!
//! - `cli.rs`: the global flags and the top-level commands.
//! - One module per command group, each with its clap types and the code that runs them:
//!   `init.rs`, `user.rs`, `password.rs` (`passwd`, and reading passwords), `profile.rs`,
//!   `share.rs`, `msg.rs`, `session.rs` (`who`, `kick`), `cert.rs`.
//! - `output.rs`: everything printed on standard output, text or `--json`.
//! - `owner.rs`: Unix users (`--owner`, the data root's owner).

mod cert;
mod cli;
mod init;
mod msg;
mod output;
mod owner;
mod password;
mod profile;
mod session;
mod share;
mod user;

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use multiftp::cli::init_tracing;
use multiftp::config::DataArgs;
use multiftp::{App, Settings};

use crate::cli::{Cli, Command};
use crate::output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(false, "warn", multiftp::config::LogFormat::Text);
    let mut out = Output::new(std::io::stdout().lock(), cli.json);
    match run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        // `ftpadm user list | head -1`: the reader has all it wanted.
        Err(e) if output::reader_gone(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpadm: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn run(cli: Cli, out: &mut Output<impl Write>) -> anyhow::Result<()> {
    match cli.command {
        Command::Cert(cmd) => cmd.run(out),
        Command::Init => init::run(settings(&cli.data)?, out).await,
        Command::Database(cmd) => {
            let app = open(&cli.data).await?;
            let result = cmd.run(&app, out).await;
            app.pool.close().await;
            result
        }
    }
}

/// The settings from `--config`, `--root`, `--db` and their environment twins.
fn settings(data: &DataArgs) -> anyhow::Result<Settings> {
    Ok(Settings::load(data.config.as_deref(), data.raw())?)
}

/// Opens the existing installation the settings point at, warning on stderr when `ftpadm`
/// runs as another user than the daemon's.
async fn open(data: &DataArgs) -> anyhow::Result<App> {
    let settings = settings(data)?;
    // A PostgreSQL database is made by its administrator (createdb) and migrated by whichever
    // binary opens it first; only a SQLite file can be missing by mistake.
    if let Some(db) = settings.db.sqlite_path()
        && !db.exists()
    {
        bail!(
            "no multiftp database at {} (data root {}): check --root, --db or --config (or \
             MULTIFTP_ROOT, MULTIFTP_DB, MULTIFTP_CONFIG); to set up a new installation there, \
             run 'ftpadm --root {} init' or start multiftpd once",
            db.display(),
            settings.root.display(),
            settings.root.display()
        );
    }
    if let Some(warning) = owner::owner_warning(&settings.root) {
        eprintln!("ftpadm: warning: {warning}");
    }
    Ok(App::open(settings).await?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn msg_send_takes_exactly_one_of_to_and_all() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(["ftpadm", "msg", "send"].iter().chain(args));
        assert!(parse(&["--to", "bob", "hi"]).is_ok());
        assert!(parse(&["--all", "hi"]).is_ok());
        for bad in [&["hi"][..], &["--to", "bob", "--all", "hi"]] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
    }
}

//! `multiftpd`: the multiftp FTP daemon. Parses flags, sets up logging, opens the data root
//! and database, and serves until SIGINT or SIGTERM; SIGHUP reloads the configuration's live
//! settings (certificate, transfer log).

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use multiftp::cli::init_tracing;
use multiftp::config::DataArgs;
use multiftp::config::RawConfig;
use multiftp::{App, Settings};

/// multiftp FTP server: private homes, accounts in SQLite or PostgreSQL, user-to-user sharing.
///
/// Every flag has an environment twin (shown below) and a key in the --config file.
/// Precedence: defaults < config file < environment < flags.
#[derive(Debug, Parser)]
#[command(name = "multiftpd", version)]
struct Cli {
    #[command(flatten)]
    data: DataArgs,

    #[command(flatten)]
    settings: RawConfig,

    /// Log at debug level (RUST_LOG overrides). MULTIFTP_VERBOSE takes 1/0, true/false,
    /// yes/no, on/off.
    #[arg(short, long, env = "MULTIFTP_VERBOSE", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    verbose: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve FTP (the default).
    Run,
    /// Validate the configuration (loading the TLS certificate and key, if set, and checking
    /// that they belong together) and print the effective settings as a configuration file
    /// that --config reads back, then exit.
    CheckConfig,
    /// Print the README's configuration table (made from the settings' definition).
    #[command(hide = true)]
    SettingsTable,
}

/// What the settings are loaded from, kept for SIGHUP: the file is read again, the flags and
/// environment (which cannot change) are reused.
#[derive(Debug, Clone)]
struct Sources {
    file: Option<std::path::PathBuf>,
    overrides: RawConfig,
}

impl Sources {
    /// The configuration file and the layer that flags and variables set.
    fn new(cli: &Cli, matches: &clap::ArgMatches) -> multiftp::Result<Sources> {
        let overrides = cli.settings.explicit(matches)?.merged(&cli.data.raw())?;
        Ok(Sources { file: cli.data.config.clone(), overrides })
    }

    /// The merged layers, before validation.
    fn layers(&self) -> multiftp::Result<RawConfig> {
        Settings::layers(self.file.as_deref(), self.overrides.clone())
    }

    fn settings(&self) -> multiftp::Result<Settings> {
        Settings::load(self.file.as_deref(), self.overrides.clone())
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if matches!(cli.command, Some(Command::SettingsTable)) {
        print!("{}", multiftp::config::reference::markdown_table(&Cli::command()));
        return ExitCode::SUCCESS;
    }
    // Settings first: they choose the log format. Their errors go straight to stderr.
    let loaded =
        Sources::new(&cli, &matches).and_then(|sources| Ok((sources.settings()?, sources)));
    let (settings, sources) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("multiftpd: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // Serving: restart with the allocator settings first (before any thread exists).
    let restart_failed = matches!(cli.command, None | Some(Command::Run))
        .then(multiftp::cli::restart_with_allocator_tunables)
        .flatten();
    init_tracing(cli.verbose, "info,sqlx=warn", settings.log_format);
    if let Some(e) = restart_failed {
        tracing::warn!(
            error = %e,
            "could not restart with the allocator settings (GLIBC_TUNABLES); serving without \
             them, which uses more memory per session"
        );
    }
    for var in multiftp::config::unknown_env_vars(&Cli::command()) {
        tracing::warn!(%var, "unknown environment variable ignored; see multiftpd --help");
    }
    match run(cli.command, sources, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("multiftpd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Threads for blocking work. A transfer on a plain data connection runs on one of them from
/// start to end, so this bounds the transfers that move at once (more wait for a free thread);
/// tokio's default of 512 is too low for a busy server. Idle threads end after 10 s.
const BLOCKING_THREADS: usize = 4096;

fn run(command: Option<Command>, sources: Sources, settings: Settings) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")?
        .block_on(serve(command, sources, settings))
}

async fn serve(
    command: Option<Command>,
    sources: Sources,
    settings: Settings,
) -> anyhow::Result<()> {
    if matches!(command, Some(Command::CheckConfig)) {
        // The start loads the certificate only after opening the database; load it here too,
        // so a key that does not belong to the certificate is found before a restart.
        multiftp::server::engine_options(&settings)?;
        // The merged layers, as a file that --config reads back to these settings; the data
        // root and database resolved, as the daemon would use them.
        let mut layers = sources.layers()?;
        // A PostgreSQL password is left out: the file is printed, and the daemon that reads it
        // back takes the password from PGPASSWORD or a passfile.
        (layers.root, layers.db) = (Some(settings.root.clone()), Some(settings.db.redacted()));
        print!("{}", layers.to_toml()?);
        return Ok(());
    }
    // SIGHUP from the very start: its default action would kill the daemon.
    let mut hangups = multiftp::signal::hangups().context("installing the SIGHUP handler")?;
    // Each session holds a socket and a home handle, each transfer a socket and a file: raise
    // the soft open-files limit to the hard one so thousands of sessions fit.
    let open_files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let app = App::open(settings).await?;
    // The password goes to <root>/initial-admin-password at once but is shown only once the
    // server is serving: shown before a start that then fails (port in use), it would scroll
    // away with the error while the account stays.
    let first_password = app.accounts.bootstrap_admin().await?;
    let password_file = multiftp::account::initial_password_path(&app.settings.root);
    if first_password.is_none() {
        if app.accounts.enabled_admins().await? == 0 {
            tracing::warn!(
                "no enabled admin account: nobody can manage users over FTP; make one with \
                 'ftpadm user update NAME --admin' (or 'ftpadm user add NAME --admin')"
            );
        }
        if password_file.exists() {
            tracing::warn!(
                file = %password_file.display(),
                "the generated password of the admin account is still in this file; change it \
                 with 'ftpadm passwd admin', which removes the file"
            );
        }
    }
    let s = &app.settings;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        node = %s.node_name,
        listen = %std::net::SocketAddr::new(s.bind, s.port),
        root = %s.root.display(),
        db = %s.db,
        users = app.accounts.count().await?,
        passive_ports = ?s.passive_ports,
        open_files,
        ftps = s.tls.is_some(),
        implicit_tls_port = ?s.implicit_tls_port,
        tls_required = ?s.tls_required,
        "multiftpd starting"
    );
    let json = s.log_format == multiftp::config::LogFormat::Json;
    let announce = move || {
        if let Some(password) = first_password {
            show_first_password(&password, &password_file, json);
        }
    };
    // On SIGHUP the settings are read again as at start (the configuration file may have
    // changed; flags and environment cannot) and handed to the server, which applies what can
    // change live and names the rest.
    let (reload_tx, reload_rx) = tokio::sync::mpsc::unbounded_channel();
    let reloader = tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received, reloading");
            match sources.settings() {
                Ok(settings) => {
                    if reload_tx.send(settings).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::error!(
                    cause = %format!("{e:#}"),
                    "reload refused: the configuration has an error; nothing changed"
                ),
            }
        }
    });
    let result =
        multiftp::server::run_with(&app, multiftp::signal::shutdown_signal(), announce, reload_rx)
            .await;
    reloader.abort();
    app.pool.close().await;
    result?;
    tracing::info!("multiftpd stopped");
    Ok(())
}

/// Shows the first admin's password, once the server is serving: a plain block on stderr, or
/// in JSON log mode one JSON event (log collectors take the stream line by line).
fn show_first_password(password: &str, file: &std::path::Path, json: bool) {
    let admin = multiftp::account::FIRST_ADMIN;
    if json {
        tracing::warn!(
            username = admin,
            password,
            password_file = %file.display(),
            "first start: created the admin account; change its password with 'ftpadm passwd \
             admin', which removes the password file"
        );
    } else {
        eprintln!(
            "\nFirst start: created the admin account.\n  username: {admin}\n  password: \
             {password}\n  saved in: {} (mode 0600)\nChange it with: ftpadm passwd {admin} (this \
             deletes the file)\n",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use multiftp::config::reference::{BEGIN, END, markdown_table};

    use super::*;

    #[test]
    fn the_parser_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_readme_table_is_the_settings_definition() {
        let readme = include_str!("../../README.md");
        let table = markdown_table(&Cli::command());
        assert!(
            readme.contains(&format!("{BEGIN}\n{table}{END}\n")),
            "README.md's configuration table is out of date: put the output of `multiftpd \
             settings-table` between its markers:\n{table}"
        );
    }

    /// Flags and variables override the file; the defaults clap fills in do not, or a file's
    /// greeting would lose to the default greeting.
    #[test]
    fn only_flags_that_were_given_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("multiftpd.toml");
        std::fs::write(&file, "greeting = \"from the file\"\nport = 21\n").unwrap();
        let matches = Cli::command()
            .try_get_matches_from([
                "multiftpd",
                "--config",
                file.to_str().unwrap(),
                "--port",
                "2200",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let sources = Sources::new(&cli, &matches).unwrap();
        assert_eq!(sources.overrides.greeting, None);
        let settings = sources.settings().unwrap();
        assert_eq!((settings.port, settings.greeting.as_str()), (2200, "from the file"));
    }
}

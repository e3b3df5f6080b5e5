//! Command-line pieces shared by `multiftpd` and `ftpadm`: the flags that locate the data
//! (each with its `MULTIFTP_*` environment twin) and logging set-up. Only the binaries call
//! [`init_tracing`].

use std::path::PathBuf;

use crate::config::{LogFormat, RawConfig};

/// Where the configuration and data are: the same flags and variables for both binaries, so
/// `--root` alone points the daemon and `ftpadm` at the same database.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// TOML configuration file (see config/multiftpd.example.toml).
    #[arg(long, env = "MULTIFTP_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Data root holding the database and home/<user>/ [default: ./data].
    #[arg(long, env = "MULTIFTP_ROOT", value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,

    /// SQLite database file [default: <root>/multiftp.db].
    #[arg(long, env = "MULTIFTP_DB", value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
}

impl DataArgs {
    /// These flags as a configuration layer.
    pub fn raw(&self) -> RawConfig {
        RawConfig { root: self.root.clone(), db: self.db.clone(), ..RawConfig::default() }
    }
}

/// Installs the tracing subscriber on stderr. `RUST_LOG` wins; otherwise `info` (or `debug`
/// with `verbose`), with sqlx's per-query lines kept at warn. Crates that log through the `log`
/// crate (sqlx, rustls, tiny_http) are picked up too.
pub fn init_tracing(verbose: bool, default: &str, format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::EnvFilter;
    use tracing_subscriber::prelude::*;
    let fallback = if verbose { "debug,sqlx=warn" } else { default };
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(fallback));
    let output = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    };
    let _ = tracing_subscriber::registry().with(output.with_filter(env)).try_init();
    let _ = tracing_log::LogTracer::init();
}

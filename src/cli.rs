//! Logging set-up shared by `multiftpd` and `ftpadm` (the flags that locate the data,
//! shared too, are [`crate::config::DataArgs`]). Only the binaries call [`init_tracing`].

use crate::config::LogFormat;

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

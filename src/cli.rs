//! Process set-up for the binaries: logging, shared by `multiftpd` and `ftpadm` (the flags
//! that locate the data, shared too, are [`crate::config::DataArgs`]), and the daemon's
//! allocator settings ([`restart_with_allocator_tunables`]). Only the binaries call these.

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

/// glibc allocator settings for the daemon, as `GLIBC_TUNABLES` (see `tunables(7)`):
///
/// - `arena_max=2`. glibc gives each thread that allocates at once its own arena (up to 8 per
///   core), and every transfer thread of the blocking pool kept the memory of its arena after
///   the transfer ended. Measured in bench/ (W7, 1,000 idle sessions after the other
///   workloads, the same build with and without): 43.9 KiB per session without, 19.7 with.
///   One arena (`arena_max=1`) measured 13.5 KiB but W3 fell by 12% (3 alternations each):
///   probably because the two workers then take turns on one lock.
/// - `trim_threshold=256 KiB`. `malloc_trim(0)` ([`crate::memory`]) returns the free pages in
///   every arena's bins, but not the free space at the top of the second arena: only `free`
///   gives that back, once it exceeds the trim threshold, which glibc raises to twice the
///   largest mapping freed so far (a freed 1 MiB buffer would make it 2 MiB). After the bench's
///   workloads and 1,000 idle sessions the second arena held 2.0 of its 4.0 MB free
///   (`malloc_info`), most of it at its top, and a `malloc_trim(0)` run from gdb gave back
///   40 KiB of it.
/// - `mmap_threshold=4 MiB`. Fixing the trim threshold also stops glibc from raising the mmap
///   threshold, which would then stay at 128 KiB: every buffer of 128 KiB or more a fresh
///   mapping, faulted in page by page, which cost W3 a third and W6 18% when tried before.
///   At 4 MiB transfer and listing buffers stay in the arenas as they did. argon2's working
///   memory is mapped either way (a reservation above 32 MiB, `account/password.rs`).
///
/// The last two together, measured on the workloads once each and then 1,000 idle sessions:
/// 13.6 instead of 15.2 MiB for the whole process. Alternating with `arena_max=2` alone
/// (3-7 times each): W3 3,780 against 3,881 MB/s (medians; single runs 3,187-4,363 against
/// 3,358-4,325), W4, W5, W6 and W8 RETR within each other's spread.
pub const GLIBC_TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=262144:glibc.malloc.mmap_threshold=4194304";

/// Starts this program again in place, same pid and arguments, with [`GLIBC_TUNABLES`] in its
/// environment: glibc reads them only when a process starts, and setting them from inside
/// (`mallopt`) would take more `unsafe` code than the one glibc call the crate allows
/// (`malloc_trim`, in [`crate::memory`]).
///
/// Does nothing (returns `None`) when the environment already chooses: `GLIBC_TUNABLES` set
/// (by an admin, or by this function before the restart) or any `MALLOC_*` variable; and on
/// other C libraries. Returns the error when the restart failed; the caller goes on as it is.
pub fn restart_with_allocator_tunables() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return None;
    }
    let chosen = std::env::vars_os().any(|(name, _)| {
        let name = name.to_string_lossy();
        name == "GLIBC_TUNABLES" || name.starts_with("MALLOC_")
    });
    if chosen {
        return None;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "multiftpd".into());
    // /proc/self/exe is the running binary even if the file was replaced since (an upgrade).
    Some(
        std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(args)
            .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .exec(),
    )
}

//! `node_name`: which node of a cluster (several multiftpd on one database) this daemon is.
//! The host name unless set; checked to fit one column of `SITE WHO` and a log field. Also
//! how many heartbeat intervals a node may miss before it counts as gone.

use crate::error::{Error, Result};

/// A node whose heartbeat is this many intervals old is gone: its sessions leave `SITE WHO`,
/// `ftpadm who` and the session limits. Three, so that one late or failed beat (a busy
/// database) does not make a live node's sessions blink out.
pub const HEARTBEAT_WINDOW: u32 = 3;

/// Longest `node_name`, in bytes (a host name label is at most 63, a Linux host name 64).
pub const MAX_NODE_NAME: usize = 64;

/// The node name from the setting `raw` (trimmed), or the host name when it is unset or
/// empty.
///
/// # Errors
///
/// [`Error::Config`] for a name that does not fit, or no host name to default to.
pub(super) fn resolve(raw: Option<&str>) -> Result<String> {
    let name = match raw.map(str::trim) {
        None | Some("") => host_name()?,
        Some(name) => name.to_string(),
    };
    check_node_name(&name)?;
    Ok(name)
}

/// This machine's host name, the default `node_name`.
fn host_name() -> Result<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().trim().to_string();
    if name.is_empty() {
        return Err(Error::Config(
            "this machine has no host name to use as node_name: set node_name (env \
             MULTIFTP_NODE_NAME, flag --node-name)"
                .into(),
        ));
    }
    Ok(name)
}

/// A node name is shown in one column of `SITE WHO` and in log fields: letters, digits, `.`,
/// `_` and `-`, at most [`MAX_NODE_NAME`] bytes.
fn check_node_name(name: &str) -> Result<()> {
    let fits = name.len() <= MAX_NODE_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fits {
        return Ok(());
    }
    Err(Error::Config(format!(
        "invalid node_name '{name}' (env MULTIFTP_NODE_NAME, flag --node-name): use at most \
         {MAX_NODE_NAME} letters, digits, '.', '_' or '-', one name per node"
    )))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{RawConfig, Settings};

    #[test]
    fn node_name_defaults_to_the_host_name_and_is_checked() {
        let load = |name: Option<&str>| {
            Settings::load(
                None,
                RawConfig { node_name: name.map(Into::into), ..Default::default() },
            )
        };
        let host = load(None).unwrap();
        assert!(!host.node_name.is_empty());
        assert_eq!(host.node_name, host_name().unwrap());
        assert_eq!(load(Some(" ftp-2.example ")).unwrap().node_name, "ftp-2.example");
        for bad in ["two words", "a/b", &"n".repeat(MAX_NODE_NAME + 1)] {
            let e = load(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("MULTIFTP_NODE_NAME"), "{bad}: {e}");
        }
        assert_eq!(host.heartbeat_interval, Duration::from_secs(10));
        let raw = RawConfig { heartbeat_interval: Some(0), ..Default::default() };
        let e = Settings::load(None, raw).unwrap_err().to_string();
        assert!(e.contains("--heartbeat-interval"), "{e}");
    }
}

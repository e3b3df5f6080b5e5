//! Parsing and checking single setting values for [`Settings::load`](super::Settings::load):
//! each error names the key, its `MULTIFTP_*` variable and its flag, and says what to use.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The value of a key that has a default, which the defaults layer always sets.
pub(super) fn set<T>(value: Option<T>, key: &str) -> Result<T> {
    value.ok_or_else(|| {
        Error::Config(format!("setting '{key}' has no value: give its #[arg] a default_value"))
    })
}

/// The value of `key`, a count or a number of seconds that must not be 0; `least` and
/// `default` complete the hint, which names the key, its variable and its flag.
pub(super) fn positive<T: PartialEq + From<u8>>(
    value: Option<T>,
    key: &str,
    least: &str,
    default: &str,
) -> Result<T> {
    let value = set(value, key)?;
    if value == T::from(0) {
        return Err(Error::Config(format!(
            "invalid {key} 0 (key '{key}', env MULTIFTP_{}, flag --{}): use at least {least} \
             (default {default})",
            key.to_uppercase(),
            key.replace('_', "-")
        )));
    }
    Ok(value)
}

pub(super) fn is_dns_name(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

pub(super) fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| Error::Config(format!("cannot resolve path {}: {e}", path.display())))
}

/// Parses a passive port range `LOW-HIGH` (inclusive, LOW <= HIGH, both >= 1024).
///
/// # Errors
///
/// [`Error::Config`] explaining the expected form.
pub fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>> {
    let bad = || {
        Error::Config(format!(
            "invalid passive port range '{text}' (key 'passive_ports', env \
             MULTIFTP_PASSIVE_PORTS, flag --passive-ports): use LOW-HIGH with \
             1024 <= LOW <= HIGH <= 65535, e.g. 50000-50100"
        ))
    };
    let (low, high) = text.trim().split_once('-').ok_or_else(bad)?;
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low < 1024 || low > high {
        return Err(bad());
    }
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused_with_the_key_variable_and_flag() {
        assert_eq!(positive(Some(5u32), "db_max_connections", "1", "8").unwrap(), 5);
        let e = positive(Some(0u64), "heartbeat_interval", "1s", "10s").unwrap_err().to_string();
        for part in ["'heartbeat_interval'", "MULTIFTP_HEARTBEAT_INTERVAL", "--heartbeat-interval"]
        {
            assert!(e.contains(part), "{e}");
        }
        assert!(e.ends_with("use at least 1s (default 10s)"), "{e}");
    }
}

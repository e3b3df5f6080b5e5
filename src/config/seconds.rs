//! Durations in settings: whole seconds, written as a number (`600`) or a duration such as
//! `"10m"` or `"1h 30m"` (humantime's syntax), and printed back in the second form.

use std::fmt;
use std::time::Duration;

use serde::Serializer;
use serde::de::{self, Deserializer, Visitor};

/// Parses `600`, `"600s"`, `"10m"` or `"1h 30m"` into seconds.
///
/// # Errors
///
/// A message with the accepted forms, for values that are neither, or not whole seconds.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    let bad = |why: &str| {
        format!("invalid duration '{text}': {why}; use seconds (600) or a duration such as 10m")
    };
    let duration = humantime::parse_duration(text).map_err(|e| bad(&e.to_string()))?;
    if duration.subsec_nanos() != 0 {
        return Err(bad("only whole seconds are allowed"));
    }
    Ok(duration.as_secs())
}

/// Writes seconds as a duration (`600` as `10m`).
pub fn format(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// Serde `with` form for `Option<u64>` seconds (see the module doc).
///
/// # Errors
///
/// Never for a present value; `None` is left to the format (TOML leaves the key out).
pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secs) => serializer.serialize_str(&format(*secs)),
        None => serializer.serialize_none(),
    }
}

/// Serde `with` form for `Option<u64>` seconds: a number or a duration string.
///
/// # Errors
///
/// A negative number, or a string that [`parse`] refuses.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_any(SecondsVisitor)
}

struct SecondsVisitor;

impl<'de> Visitor<'de> for SecondsVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("seconds (600) or a duration such as \"10m\"")
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Self::Value, E> {
        Ok(Some(secs))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Self::Value, E> {
        u64::try_from(secs)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(secs), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        parse(text).map(Some).map_err(E::custom)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        inner.deserialize_any(SecondsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations() {
        assert_eq!(parse("600"), Ok(600));
        assert_eq!(parse("10m"), Ok(600));
        assert_eq!(parse("1h 30m"), Ok(5400));
        assert_eq!(parse(" 45s "), Ok(45));
        assert!(parse("1500ms").unwrap_err().contains("whole seconds"));
        assert!(parse("ten").unwrap_err().contains("such as 10m"));
        assert_eq!(format(600), "10m");
        assert_eq!(format(5400), "1h 30m");
        assert_eq!(parse(&format(86_461)), Ok(86_461));
    }
}

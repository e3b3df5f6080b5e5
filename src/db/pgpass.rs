//! The password for a `postgres://…?passfile=PATH` URL, read from that pgpass file (the format
//! of PostgreSQL's `~/.pgpass`: `host:port:database:user:password` lines, `*` matching
//! anything, `\:` and `\\` escaping). sqlx reads `PGPASSWORD`, `PGPASSFILE` and `~/.pgpass`
//! itself but not this URL parameter, which keeps a cluster's nodes' settings in one place.

use std::path::Path;

use crate::error::{Error, Result};

/// What a pgpass line is matched against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
}

/// The password of the first line of `file` that matches `target`.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Config`] when group or others may
/// read it (PostgreSQL's clients refuse such a file too) or no line matches.
pub(super) fn password(file: &Path, target: Target<'_>) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(file)
            .map_err(|cause| Error::io("cannot read the passfile", file, cause))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::Config(format!(
                "the passfile {} may be read by other users: chmod 600 it (PostgreSQL's own \
                 clients ignore such a file too)",
                file.display()
            )));
        }
    }
    let text = std::fs::read_to_string(file)
        .map_err(|cause| Error::io("cannot read the passfile", file, cause))?;
    text.lines().find_map(|line| matching(line, target)).ok_or_else(|| {
        Error::Config(format!(
            "no line of the passfile {} matches {}:{}:{}:{} (host:port:database:user; * matches \
             any)",
            file.display(),
            target.host,
            target.port,
            target.database,
            target.user
        ))
    })
}

/// The password on `line` if its first four fields match.
fn matching(line: &str, target: Target<'_>) -> Option<String> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let fields = split(line);
    let [host, port, database, user, password] = fields.as_slice() else { return None };
    let port_text = target.port.to_string();
    let wanted = [target.host, &port_text, target.database, target.user];
    [host, port, database, user]
        .iter()
        .zip(wanted)
        .all(|(field, want)| field.as_str() == "*" || field.as_str() == want)
        .then(|| password.clone())
}

/// Splits a line at unescaped colons, undoing `\:` and `\\`.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("never empty").extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("never empty").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Target<'static> =
        Target { host: "db.example.org", port: 5432, database: "multiftp", user: "ftp" };

    #[test]
    fn the_first_matching_line_wins_with_wildcards_and_escapes() {
        assert_eq!(
            matching("db.example.org:5432:multiftp:ftp:a\\:b\\\\c", TARGET).unwrap(),
            "a:b\\c"
        );
        assert_eq!(matching("*:*:*:ftp:pw", TARGET).unwrap(), "pw");
        for miss in ["other:5432:multiftp:ftp:pw", "*:5433:*:*:pw", "# *:*:*:*:pw", "*:*:*:pw"] {
            assert_eq!(matching(miss, TARGET), None, "{miss}");
        }
    }

    #[test]
    fn a_file_others_may_read_or_without_a_match_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "other:*:*:*:no\n*:5432:multiftp:ftp:yes\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(password(&file, TARGET).unwrap_err().to_string().contains("chmod 600"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(password(&file, TARGET).unwrap(), "yes");
        let other = Target { user: "bob", ..TARGET };
        assert!(password(&file, other).unwrap_err().to_string().contains("no line"));
    }
}

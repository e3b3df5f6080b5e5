//! Unix users as `ftpadm` needs them: the `--owner` of new certificate files, and the warning
//! when `ftpadm` runs as someone else than the owner of the data root (the daemon's user).
//! Names come from `/etc/passwd` only: users known only to NSS services (LDAP) are not there,
//! so `--owner` also takes `UID[:GID]`.

use std::path::Path;

use anyhow::{Context, Result};

/// The uid and gid for `--owner`: `UID[:GID]`, or a user name from `/etc/passwd` with its
/// primary group.
pub fn lookup_owner(spec: &str) -> Result<(u32, u32)> {
    if let Some((uid, gid)) = spec.split_once(':') {
        if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
            return Ok((uid, gid));
        }
    } else if let Ok(uid) = spec.parse::<u32>() {
        let gid = passwd_entries().find(|e| e.1 == uid).map_or(uid, |e| e.2);
        return Ok((uid, gid));
    }
    passwd_entries().find(|e| e.0 == spec).map(|e| (e.1, e.2)).with_context(|| {
        format!("no user '{spec}' in /etc/passwd (--owner takes a user name or UID[:GID])")
    })
}

/// A warning when `ftpadm` runs as another user than the owner of the data root `root`: the
/// daemon runs as that owner and must be able to write what `ftpadm` creates there.
pub fn owner_warning(root: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(root).ok()?.uid();
    let me = rustix::process::geteuid().as_raw();
    if owner == me {
        return None;
    }
    let name = |uid: u32| {
        passwd_entries()
            .find(|e| e.1 == uid)
            .map_or_else(|| format!("uid {uid}"), |e| format!("'{}' (uid {uid})", e.0))
    };
    let as_root = if me == 0 { " (as root, new homes are given to that user)" } else { "" };
    Some(format!(
        "ftpadm runs as {} but the data root {} belongs to {}, the user multiftpd should run \
         as{as_root}; run ftpadm as that user, e.g. sudo -u {} ftpadm ...",
        name(me),
        root.display(),
        name(owner),
        passwd_entries().find(|e| e.1 == owner).map_or_else(|| format!("#{owner}"), |e| e.0),
    ))
}

/// `(name, uid, gid)` of every well-formed line of `/etc/passwd` (none if it is unreadable).
fn passwd_entries() -> std::vec::IntoIter<(String, u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entries: Vec<(String, u32, u32)> = text
        .lines()
        .filter_map(|line| {
            // name:password:uid:gid:gecos:home:shell
            let mut fields = line.split(':');
            let name = fields.next()?.to_string();
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some((name, uid, gid))
        })
        .collect();
    entries.into_iter()
}

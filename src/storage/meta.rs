//! File metadata: `stat`, `lstat` and listings of a [`ConfinedDir`] (a directory listing is
//! one blocking task, not a hop per entry), MFMT's time setting, and their conversion into the
//! engine's [`Meta`], including the read-only view `/shared` gives.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cap_std::fs::{Dir, OpenOptions};

use super::dir::{ConfinedDir, run};
use super::error;
use crate::ftp::{FileKind, Meta};

/// Engine metadata from cap-std metadata (of the entry itself when it was `lstat`ed).
pub fn meta_of(m: &cap_std::fs::Metadata) -> Meta {
    use cap_std::fs::MetadataExt;
    let file_type = m.file_type();
    Meta {
        kind: if file_type.is_dir() {
            FileKind::Dir
        } else if file_type.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::File
        },
        len: m.len(),
        modified: m.modified().map(|t| t.into_std()).unwrap_or(SystemTime::UNIX_EPOCH),
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        links: m.nlink(),
    }
}

/// A virtual folder of `/shared`: read-only, dated `modified`.
pub fn virtual_dir(modified: SystemTime) -> Meta {
    Meta { kind: FileKind::Dir, len: 0, modified, mode: 0o555, uid: 0, gid: 0, links: 1 }
}

/// Drops the write bits: everything under `/shared` is shown read-only.
pub fn read_only(mut meta: Meta) -> Meta {
    meta.mode &= !0o222;
    meta
}

/// `lstat` of `rel` in `dir`; `.` is the directory itself.
///
/// # Errors
///
/// The I/O error, e.g. `NotFound`, or [`error::panicked`].
pub async fn stat(dir: ConfinedDir, rel: PathBuf) -> std::io::Result<cap_std::fs::Metadata> {
    run(dir, move |d| {
        if rel == std::path::Path::new(".") { d.dir_metadata() } else { d.symlink_metadata(&rel) }
    })
    .await
}

/// `stat` of `rel` in `dir`, following symbolic links (cap-std refuses a link that leads out
/// of `dir`); `.` is the directory itself.
///
/// # Errors
///
/// The I/O error, e.g. `NotFound` for a dangling link.
///
/// It runs on the calling (async) thread, as the plain-socket RETR opens files there: an
/// `openat` and a `statx` of cached entries take microseconds, less than the hop to a blocking
/// thread would (every RETR and STOR checks its target first: bench/ W4).
pub async fn stat_followed(
    dir: ConfinedDir,
    rel: PathBuf,
) -> std::io::Result<cap_std::fs::Metadata> {
    let d = dir.open()?;
    if rel == std::path::Path::new(".") { d.dir_metadata() } else { d.metadata(&rel) }
}

/// Sets the modification time of file `rel` in `dir` (MFMT). The file is opened for writing
/// (nothing is written, so its contents and size stay), which also refuses folders.
///
/// # Errors
///
/// The I/O error of the open or of setting the time.
pub fn set_modified(dir: &Dir, rel: &Path, at: std::time::SystemTime) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    dir.open_with(rel, &options)?.into_std().set_modified(at)
}

/// Folders with at least this many entries are `lstat`ed by several threads.
const PARALLEL_STAT: usize = 2048;

/// One directory entry with its `lstat` metadata.
pub type Entry = (String, cap_std::fs::Metadata);

/// Lists `rel` (relative to `dir`, `.` for the directory itself) with each entry's metadata,
/// in one blocking task: a thread-pool hop per entry made LIST of a big folder many times
/// slower than vsftpd (bench/). Entries that vanish while we list are skipped. Names that are
/// not UTF-8 are skipped too: FTP paths here are UTF-8 (RFC 2640).
///
/// # Errors
///
/// The I/O error of opening or reading the directory, or [`error::panicked`].
pub async fn list_dir(dir: ConfinedDir, rel: PathBuf) -> std::io::Result<Vec<Entry>> {
    tokio::task::spawn_blocking(move || {
        let opened = dir.open()?;
        let sub;
        let target = if rel.as_os_str().is_empty() || rel == std::path::Path::new(".") {
            &opened
        } else {
            sub = opened.open_dir(&rel)?;
            &sub
        };
        let mut names = Vec::new();
        for entry in target.entries()? {
            let Ok(name) = entry?.file_name().into_string() else { continue };
            names.push(name);
        }
        let stat_all = |names: &[String]| -> Vec<Entry> {
            names
                .iter()
                .filter_map(|n| target.symlink_metadata(n).ok().map(|m| (n.clone(), m)))
                .collect()
        };
        // One `lstat` per entry is most of a big listing's cost (path lookup in the kernel);
        // big folders are split over the cores (bench/ has the figures).
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(4);
        if names.len() < PARALLEL_STAT || threads < 2 {
            return Ok(stat_all(&names));
        }
        let per = names.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> =
                names.chunks(per).map(|part| scope.spawn(move || stat_all(part))).collect();
            let mut all = Vec::with_capacity(names.len());
            for part in parts {
                // A panicked stat thread would otherwise drop its share of the listing.
                let Ok(entries) = part.join() else {
                    tracing::error!("a listing thread panicked");
                    return Err(std::io::Error::other(error::Panicked));
                };
                all.extend(entries);
            }
            Ok(all)
        })
    })
    .await
    .map_err(error::panicked)?
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::storage::dir::home_at;

    #[tokio::test]
    async fn list_dir_lists_entries_with_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("h/sub/d")).unwrap();
        std::fs::write(tmp.path().join("h/sub/a.txt"), b"abc").unwrap();
        let dir = home_at(tmp.path(), "h");
        let mut got: Vec<(String, bool, u64)> = list_dir(dir.clone(), "sub".into())
            .await
            .unwrap()
            .into_iter()
            .map(|(n, m)| (n, m.is_dir(), if m.is_dir() { 0 } else { m.len() }))
            .collect();
        got.sort();
        assert_eq!(got, [("a.txt".into(), false, 3), ("d".into(), true, 0)]);
        assert_eq!(list_dir(dir.clone(), ".".into()).await.unwrap().len(), 1);
        // A folder big enough to be stat'ed by several threads lists every entry once.
        let big = tmp.path().join("h/big");
        std::fs::create_dir(&big).unwrap();
        for i in 0..PARALLEL_STAT + 5 {
            std::fs::write(big.join(format!("f{i}")), vec![0u8; i % 7]).unwrap();
        }
        let mut names: Vec<(String, u64)> = list_dir(dir.clone(), "big".into())
            .await
            .unwrap()
            .into_iter()
            .map(|(n, m)| (n, m.len()))
            .collect();
        names.sort();
        let mut want: Vec<(String, u64)> =
            (0..PARALLEL_STAT + 5).map(|i| (format!("f{i}"), (i % 7) as u64)).collect();
        want.sort();
        assert_eq!(names, want);
        assert!(list_dir(dir, "../".into()).await.is_err());
    }

    #[tokio::test]
    async fn set_modified_sets_the_time_of_files_only() {
        let top = tempfile::tempdir().unwrap();
        let dir = home_at(top.path(), "h");
        std::fs::write(top.path().join("h/f.txt"), b"keep").unwrap();
        std::fs::create_dir(top.path().join("h/d")).unwrap();
        let at = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
        let d = dir.open().unwrap();
        set_modified(&d, Path::new("f.txt"), at).unwrap();
        let m = stat_followed(dir.clone(), "f.txt".into()).await.unwrap();
        assert_eq!(m.modified().unwrap().into_std(), at);
        assert_eq!(std::fs::read(top.path().join("h/f.txt")).unwrap(), b"keep");
        assert!(set_modified(&d, Path::new("d"), at).is_err());
        assert!(set_modified(&d, Path::new("missing"), at).is_err());
        assert!(set_modified(&d, Path::new("../h/f.txt"), at).is_err());
    }

    #[test]
    fn virtual_and_shared_entries_are_read_only() {
        let m = virtual_dir(SystemTime::UNIX_EPOCH);
        assert!(m.is_dir() && !m.writable());
        let file = Meta {
            kind: FileKind::File,
            len: 3,
            modified: SystemTime::UNIX_EPOCH,
            mode: 0o100644,
            uid: 1,
            gid: 1,
            links: 1,
        };
        assert!(file.writable());
        assert_eq!(read_only(file).mode, 0o100444);
    }
}

//! The file an upload writes: opened as STOR, APPE or STOU ask ([`WriteMode`]), and for an
//! overwrite a temporary file beside the old one that replaces it only when the upload is
//! complete ([`Upload`]). Shared by the stream pipeline and the plain-socket paths.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, OpenOptions};

use crate::ftp::WriteMode;

/// Opens `rel` in `dir` for STOR (`Write`: kept up to `offset`, written from there, RFC 3659
/// section 5.1), APPE (`Append`: written at the end) or STOU (`CreateNew`: fails with
/// `AlreadyExists` if the name is taken); the file is positioned where writing starts. Not
/// `O_APPEND` for APPE: `splice(2)` refuses files opened that way.
fn open_for_write(dir: &Dir, rel: &Path, mode: WriteMode) -> std::io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.write(true);
    if mode == WriteMode::CreateNew {
        options.create_new(true);
    } else {
        options.create(true);
    }
    let mut file = dir.open_with(rel, &options)?.into_std();
    match mode {
        WriteMode::Write { offset } => {
            // Only a file of another length is cut (or extended) to `offset`. Not a no-op on
            // ext4 otherwise: a truncate to 0, even of a new empty file, arms its
            // `auto_da_alloc` heuristic (a file truncated to 0 and rewritten is flushed when
            // closed), so the close of every new upload started writeback of the whole file
            // and made the client wait for it: 0.2-0.4 s per 512 MiB here (bench/, W2).
            if file.metadata()?.len() != offset {
                file.set_len(offset)?;
            }
            file.seek(SeekFrom::Start(offset))?;
        }
        WriteMode::Append => {
            file.seek(SeekFrom::End(0))?;
        }
        WriteMode::CreateNew => {}
    }
    Ok(file)
}

/// Uploads up to this size are renamed into place on the async worker ([`Upload::commit`]).
const RENAME_INLINE: u64 = 1 << 20;

/// An upload's file until the transfer is complete. An overwrite (STOR from the start onto an
/// existing file) is written under a temporary name in the same folder and renamed over the
/// old file only by [`Upload::commit`], so an upload that fails or is abandoned (data
/// connection lost, ABOR, the control connection closed, a stall, a full disk, the daemon
/// killed) leaves the old file as it was; dropping an `Upload` that was not committed removes
/// its temporary file. Everything else is written in place: a new file (clients resume a
/// partial one with REST or APPE), APPE, STOR after REST, STOU.
#[derive(Debug)]
pub struct Upload {
    dir: Dir,
    /// `(temporary name, target)` of an overwrite not committed yet.
    pending: Option<(PathBuf, PathBuf)>,
}

impl Upload {
    /// Puts a completed overwrite in place of the old file (one `rename(2)`); nothing to do
    /// for an upload written in place.
    ///
    /// In stream mode the end of the data connection marks the end of the file (RFC 959
    /// 3.4.1), so a client killed mid-upload (its sockets closed, not reset) looks like a
    /// complete upload. `alive` tells whether the client is still there (the engine checks
    /// that its control connection is not closed): if not, the old file stays.
    ///
    /// # Errors
    ///
    /// `ConnectionAborted` when the client is gone, or the I/O error of the rename; the
    /// temporary file is removed then.
    /// `written` is the upload's size: a big file is renamed on a blocking thread, because
    /// ext4 (`auto_da_alloc`) starts writeback of a file renamed over another one inside
    /// `rename(2)` itself, which for a large upload takes long enough to stall every session
    /// on the async worker.
    pub async fn commit(
        mut self,
        alive: &(dyn Fn() -> bool + Send + Sync),
        written: u64,
    ) -> std::io::Result<()> {
        if self.pending.is_none() {
            return Ok(());
        }
        if !alive() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the client closed its control connection before the upload ended: the old \
                 file is kept",
            ));
        }
        if let Some((temp, target)) = &self.pending {
            if written <= RENAME_INLINE {
                // On the async worker: a small file's flush is short, cheaper than a hop to a
                // thread.
                self.dir.rename(temp, &self.dir, target)?;
            } else {
                let dir = self.dir.try_clone()?;
                let (temp, target) = (temp.clone(), target.clone());
                tokio::task::spawn_blocking(move || dir.rename(temp, &dir, target))
                    .await
                    .map_err(crate::storage::error::panicked)??;
            }
        }
        self.pending = None;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some((temp, _)) = self.pending.take() {
            let _ = self.dir.remove_file(&temp);
        }
    }
}

/// Opens the file an upload of `rel` writes, in place or (for an overwrite, see [`Upload`])
/// under a temporary name. A symbolic link as target is written through, and a file without
/// its owner's write bit is opened in place (and refused, as before): a rename would replace
/// a file that was made read-only.
pub(super) fn start_write(
    dir: Dir,
    rel: &Path,
    mode: WriteMode,
) -> std::io::Result<(std::fs::File, Upload)> {
    use cap_std::fs::MetadataExt;
    if mode == (WriteMode::Write { offset: 0 })
        && let Ok(old) = dir.symlink_metadata(rel)
        && old.is_file()
        && old.mode() & 0o200 != 0
    {
        use std::os::unix::fs::PermissionsExt;
        let (file, temp) = create_temp(&dir, rel)?;
        // The new file keeps the old one's permission bits (best effort: only cosmetic).
        let _ = file.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777));
        return Ok((file, Upload { dir, pending: Some((temp, rel.to_path_buf())) }));
    }
    let file = open_for_write(&dir, rel, mode)?;
    Ok((file, Upload { dir, pending: None }))
}

/// Creates a new temporary file next to `rel`: `.<name>.multiftp-<16 random hex>.part`, a
/// dot-name (hidden by most clients) that says what it belongs to and who made it.
fn create_temp(dir: &Dir, rel: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    use ring::rand::SecureRandom;
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
    // The temporary name must fit NAME_MAX (255 bytes) too: long names are cut.
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let random = ring::rand::SystemRandom::new();
    for _ in 0..4 {
        let mut bytes = [0u8; 8];
        random.fill(&mut bytes).map_err(|_| std::io::Error::other("no random bytes"))?;
        let tag = u64::from_le_bytes(bytes);
        let temp = rel.with_file_name(format!(".{}.multiftp-{tag:016x}.part", &name[..cut]));
        match dir.open_with(&temp, &options) {
            Ok(f) => return Ok((f.into_std(), temp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::ErrorKind::AlreadyExists.into())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn open_at(top: &Path) -> Dir {
        Dir::open_ambient_dir(top, cap_std::ambient_authority()).unwrap()
    }

    #[test]
    fn write_mode_keeps_the_file_up_to_the_offset_only() {
        let top = tempfile::tempdir().unwrap();
        let dir = open_at(top.path());
        let len = |name: &str| std::fs::metadata(top.path().join(name)).unwrap().len();
        // A new file (no truncate needed) starts empty at 0.
        let mut f = open_for_write(&dir, Path::new("new"), WriteMode::Write { offset: 0 }).unwrap();
        f.write_all(b"hello world").unwrap();
        drop(f);
        assert_eq!(std::fs::read(top.path().join("new")).unwrap(), b"hello world");
        // REST 5 + STOR: kept up to 5, written from there, the rest cut.
        let mut f = open_for_write(&dir, Path::new("new"), WriteMode::Write { offset: 5 }).unwrap();
        f.write_all(b"!").unwrap();
        drop(f);
        assert_eq!(std::fs::read(top.path().join("new")).unwrap(), b"hello!");
        // REST at the end: nothing cut, appended.
        let mut f = open_for_write(&dir, Path::new("new"), WriteMode::Write { offset: 6 }).unwrap();
        f.write_all(b"?").unwrap();
        drop(f);
        assert_eq!(std::fs::read(top.path().join("new")).unwrap(), b"hello!?");
        // REST 0 on an existing file opened in place: emptied.
        drop(open_for_write(&dir, Path::new("new"), WriteMode::Write { offset: 0 }).unwrap());
        assert_eq!(len("new"), 0);
        // REST past the end: extended with zeros to the offset, as before.
        drop(open_for_write(&dir, Path::new("new"), WriteMode::Write { offset: 3 }).unwrap());
        assert_eq!(std::fs::read(top.path().join("new")).unwrap(), [0, 0, 0]);
    }
}

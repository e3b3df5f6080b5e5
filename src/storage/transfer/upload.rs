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
            file.set_len(offset)?;
            file.seek(SeekFrom::Start(offset))?;
        }
        WriteMode::Append => {
            file.seek(SeekFrom::End(0))?;
        }
        WriteMode::CreateNew => {}
    }
    Ok(file)
}

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
    pub async fn commit(mut self, alive: &(dyn Fn() -> bool + Send + Sync)) -> std::io::Result<()> {
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
            // On the async worker: one metadata operation, cheaper than a hop to a thread.
            self.dir.rename(temp, &self.dir, target)?;
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

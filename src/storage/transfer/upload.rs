//! The file an upload writes: opened as STOR, APPE or STOU ask ([`WriteMode`]), and for an
//! overwrite a temporary file beside the old one that replaces it only when the upload is
//! complete ([`Upload`]). Shared by the stream pipeline and the plain-socket paths.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::{Dir, OpenOptions};

use crate::ftp::WriteMode;
use crate::storage::spare::Spares;

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
/// existing file) is written to a separate file, a recycled spare ([`Spares`]) or else a
/// temporary name in the same folder, and put in place of the old file only by
/// [`Upload::commit`], so an upload that fails or is abandoned (data connection lost, ABOR,
/// the control connection closed, a stall, a full disk, the daemon killed) leaves the old file
/// as it was; dropping an `Upload` that was not committed removes its file. Everything else is
/// written in place: a new file (clients resume a partial one with REST or APPE), APPE, STOR
/// after REST, STOU.
#[derive(Debug)]
pub struct Upload {
    dir: Dir,
    /// The overwrite not committed yet, if any.
    pending: Option<Pending>,
}

/// Where an overwrite not committed yet is written, and the file it replaces (`target`).
#[derive(Debug)]
enum Pending {
    /// A temporary file beside the target, renamed over it.
    Temp { temp: PathBuf, target: PathBuf },
    /// The spare `id`, swapped with the target.
    Spare { spares: Arc<Spares>, id: u64, target: PathBuf },
}

impl Upload {
    /// Puts a completed overwrite in place of the old file (one `rename(2)` or, for a spare,
    /// one `renameat2(2)`); nothing to do for an upload written in place.
    ///
    /// In stream mode the end of the data connection marks the end of the file (RFC 959
    /// 3.4.1), so a client killed mid-upload (its sockets closed, not reset) looks like a
    /// complete upload. `alive` tells whether the client is still there (the engine checks
    /// that its control connection is not closed): if not, the old file stays.
    ///
    /// # Errors
    ///
    /// `ConnectionAborted` when the client is gone, or the I/O error of the rename; the
    /// new file is removed then.
    /// `written` is the upload's size: a big file is put in place on a blocking thread,
    /// because ext4 (`auto_da_alloc`) starts writeback of a file renamed over another one
    /// inside `rename(2)` itself, and the old file's blocks are freed there too, which for
    /// large files takes long enough to stall every session on the async worker.
    pub async fn commit(
        self,
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
        if written <= RENAME_INLINE {
            // On the async worker: a small file's flush is short, cheaper than a hop to a
            // thread.
            self.finish()
        } else {
            tokio::task::spawn_blocking(move || self.finish())
                .await
                .map_err(crate::storage::error::panicked)?
        }
    }

    /// Puts the pending overwrite in place of its target; on an error the new file is
    /// removed when `self` drops.
    fn finish(mut self) -> std::io::Result<()> {
        match &self.pending {
            None => {}
            Some(Pending::Temp { temp, target }) => self.dir.rename(temp, &self.dir, target)?,
            Some(Pending::Spare { spares, id, target }) => {
                let name = Path::new(target.file_name().ok_or(std::io::ErrorKind::InvalidInput)?);
                match target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(parent) => spares.put_in_place(*id, &self.dir.open_dir(parent)?, name)?,
                    None => spares.put_in_place(*id, &self.dir, name)?,
                }
            }
        }
        self.pending = None;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        match self.pending.take() {
            Some(Pending::Temp { temp, .. }) => {
                let _ = self.dir.remove_file(&temp);
            }
            Some(Pending::Spare { spares, id, .. }) => spares.abandon(id),
            None => {}
        }
    }
}

/// Opens the file an upload of `rel` writes, in place or (for an overwrite, see [`Upload`])
/// as a spare from `spares` or under a temporary name. A symbolic link as target is written
/// through, and a file without its owner's write bit is opened in place (and refused, as
/// before): a rename would replace a file that was made read-only.
pub(super) fn start_write(
    dir: Dir,
    rel: &Path,
    mode: WriteMode,
    spares: Option<&Arc<Spares>>,
) -> std::io::Result<(std::fs::File, Upload)> {
    use cap_std::fs::MetadataExt;
    if mode == (WriteMode::Write { offset: 0 })
        && let Ok(old) = dir.symlink_metadata(rel)
        && old.is_file()
        && old.mode() & 0o200 != 0
    {
        use std::os::unix::fs::PermissionsExt;
        let target = rel.to_path_buf();
        let (file, pending) = match spares.and_then(|s| Some((s, s.take(old.dev())?))) {
            Some((spares, spare)) => {
                (spare.file, Pending::Spare { spares: Arc::clone(spares), id: spare.id, target })
            }
            None => {
                let (file, temp) = create_temp(&dir, rel)?;
                (file, Pending::Temp { temp, target })
            }
        };
        // The new file keeps the old one's permission bits (best effort: only cosmetic).
        let _ = file.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777));
        return Ok((file, Upload { dir, pending: Some(pending) }));
    }
    let file = open_for_write(&dir, rel, mode)?;
    Ok((file, Upload { dir, pending: None }))
}

/// Creates a new temporary file next to `rel`: `.<name>.multiftp-<16 random hex>.part`, a
/// dot-name (hidden by most clients) that says what it belongs to and who made it.
fn create_temp(dir: &Dir, rel: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
    // The temporary name must fit NAME_MAX (255 bytes) too: long names are cut.
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    for _ in 0..4 {
        let tag = crate::storage::spare::random_u64()?;
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

/// Overwrites through [`Spares`]: what is recycled, what never is, and the races at commit.
#[cfg(test)]
mod spare_tests {
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;

    use super::*;

    const OVERWRITE: WriteMode = WriteMode::Write { offset: 0 };

    /// A home `top/u` with the file `f`, and spares in `top`.
    fn setup() -> (tempfile::TempDir, Arc<Spares>) {
        let top = tempfile::tempdir().unwrap();
        std::fs::create_dir(top.path().join("u")).unwrap();
        std::fs::write(top.path().join("u/f"), b"the old content, longer than the new").unwrap();
        let homes = Dir::open_ambient_dir(top.path(), cap_std::ambient_authority()).unwrap();
        let spares = Arc::new(Spares::open(&homes).unwrap());
        (top, spares)
    }

    fn home(top: &tempfile::TempDir) -> Dir {
        Dir::open_ambient_dir(top.path().join("u"), cap_std::ambient_authority()).unwrap()
    }

    /// Overwrites `name` in the home with `data` and commits.
    async fn overwrite(
        top: &tempfile::TempDir,
        spares: &Arc<Spares>,
        name: &str,
        data: &[u8],
    ) -> std::io::Result<()> {
        let (mut file, upload) = start_write(home(top), Path::new(name), OVERWRITE, Some(spares))?;
        file.write_all(data)?;
        drop(file);
        upload.commit(&|| true, data.len() as u64).await
    }

    /// The files in this process's spare folder, but its lock, once recycling is done.
    fn spare_files(top: &tempfile::TempDir, spares: &Spares) -> Vec<(String, u64, u64)> {
        spares.settle();
        let mut found = Vec::new();
        for process in std::fs::read_dir(top.path().join(crate::storage::spare::SPARE_DIR)).unwrap()
        {
            for f in std::fs::read_dir(process.unwrap().path()).unwrap() {
                let f = f.unwrap();
                let name = f.file_name().into_string().unwrap();
                if name != "lock" {
                    let meta = f.metadata().unwrap();
                    found.push((name, meta.ino(), meta.len()));
                }
            }
        }
        found
    }

    #[tokio::test]
    async fn an_overwrite_reuses_the_file_the_last_one_replaced() {
        let (top, spares) = setup();
        let path = top.path().join("u/f");
        let first = std::fs::metadata(&path).unwrap().ino();
        overwrite(&top, &spares, "f", b"new one").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new one");
        // The old file waits, emptied, in the spare folder.
        let spare = spare_files(&top, &spares);
        assert_eq!(spare.len(), 1);
        assert_eq!((spare[0].1, spare[0].2), (first, 0));
        overwrite(&top, &spares, "f", b"two").await.unwrap();
        // The recycled inode holds exactly the new bytes: nothing of what it held before.
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), first);
        assert_eq!(spare_files(&top, &spares).len(), 1);
    }

    #[tokio::test]
    async fn a_replaced_file_still_open_elsewhere_is_never_reused() {
        let (top, spares) = setup();
        std::fs::write(top.path().join("u/g"), b"g").unwrap();
        let mut reader = std::fs::File::open(top.path().join("u/f")).unwrap();
        overwrite(&top, &spares, "f", b"new").await.unwrap();
        // The open file could not be leased: it was unlinked, not kept.
        assert!(spare_files(&top, &spares).is_empty());
        overwrite(&top, &spares, "g", b"new g").await.unwrap();
        overwrite(&top, &spares, "f", b"newer").await.unwrap();
        let mut old = String::new();
        reader.read_to_string(&mut old).unwrap();
        assert_eq!(old, "the old content, longer than the new");
        assert_eq!(std::fs::read(top.path().join("u/f")).unwrap(), b"newer");
        assert_eq!(std::fs::read(top.path().join("u/g")).unwrap(), b"new g");
    }

    #[tokio::test]
    async fn a_file_with_another_link_is_never_reused() {
        let (top, spares) = setup();
        std::fs::hard_link(top.path().join("u/f"), top.path().join("u/link")).unwrap();
        overwrite(&top, &spares, "f", b"new").await.unwrap();
        assert!(spare_files(&top, &spares).is_empty());
        overwrite(&top, &spares, "f", b"newer").await.unwrap();
        assert_eq!(
            std::fs::read(top.path().join("u/link")).unwrap(),
            b"the old content, longer than the new"
        );
    }

    #[tokio::test]
    async fn an_abandoned_overwrite_keeps_the_old_file_and_leaves_no_spare() {
        let (top, spares) = setup();
        let (mut file, upload) =
            start_write(home(&top), Path::new("f"), OVERWRITE, Some(&spares)).unwrap();
        file.write_all(b"half").unwrap();
        drop((file, upload));
        assert_eq!(
            std::fs::read(top.path().join("u/f")).unwrap(),
            b"the old content, longer than the new"
        );
        assert!(spare_files(&top, &spares).is_empty());
        // A client gone before the end: the same.
        let (file, upload) =
            start_write(home(&top), Path::new("f"), OVERWRITE, Some(&spares)).unwrap();
        drop(file);
        let gone = upload.commit(&|| false, 0).await.unwrap_err();
        assert_eq!(gone.kind(), std::io::ErrorKind::ConnectionAborted);
        assert!(spare_files(&top, &spares).is_empty());
    }

    #[tokio::test]
    async fn the_target_deleted_or_made_a_folder_during_the_upload() {
        let (top, spares) = setup();
        std::fs::create_dir(top.path().join("u/sub")).unwrap();
        std::fs::write(top.path().join("u/sub/f"), b"old").unwrap();
        // Deleted meanwhile: the upload still lands.
        let (mut file, upload) =
            start_write(home(&top), Path::new("sub/f"), OVERWRITE, Some(&spares)).unwrap();
        file.write_all(b"landed").unwrap();
        std::fs::remove_file(top.path().join("u/sub/f")).unwrap();
        upload.commit(&|| true, 6).await.unwrap();
        assert_eq!(std::fs::read(top.path().join("u/sub/f")).unwrap(), b"landed");
        // Made a folder meanwhile: refused as a rename would be, the folder left as it was.
        let (mut file, upload) =
            start_write(home(&top), Path::new("f"), OVERWRITE, Some(&spares)).unwrap();
        file.write_all(b"lost").unwrap();
        std::fs::remove_file(top.path().join("u/f")).unwrap();
        std::fs::create_dir(top.path().join("u/f")).unwrap();
        std::fs::write(top.path().join("u/f/inside"), b"kept").unwrap();
        let err = upload.commit(&|| true, 4).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::IsADirectory);
        assert_eq!(std::fs::read(top.path().join("u/f/inside")).unwrap(), b"kept");
        assert!(spare_files(&top, &spares).is_empty());
    }

    #[test]
    fn a_new_process_removes_the_spares_of_one_that_ended_only() {
        let top = tempfile::tempdir().unwrap();
        let homes = Dir::open_ambient_dir(top.path(), cap_std::ambient_authority()).unwrap();
        let live = Spares::open(&homes).unwrap();
        let dead = top.path().join(crate::storage::spare::SPARE_DIR).join("0123456789abcdef");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("lock"), b"").unwrap();
        std::fs::write(dead.join("7"), b"part of an upload").unwrap();
        let next = Spares::open(&homes).unwrap();
        assert!(!dead.exists());
        let folders = || std::fs::read_dir(top.path().join(".multiftp-spare")).unwrap().count();
        // `live` still holds its lock: its folder stays, next to `next`'s.
        assert_eq!(folders(), 2);
        drop((live, next));
        assert_eq!(folders(), 0);
    }
}

//! [`Spares`]: recycled files for overwrites. An overwrite (STOR onto an existing file) is
//! written to a separate file and swapped with the old one only when complete (see
//! `transfer/upload.rs`). Creating that file costs a new inode and the swap frees the old one.
//! On ext4 without a journal, each inode freed in the last 30 seconds is skipped, one by one,
//! by the search for a free inode (`recently_deleted()` in the kernel's inode allocator). A
//! burst of overwrites therefore made every file creation slower than the last: about 1 ms
//! per overwrite of a 4 KiB file here, against about 0.05 ms for the same swap on a recycled
//! file (bench/, W4).
//!
//! So the old file is not freed: `renameat2(RENAME_EXCHANGE)` swaps the new file into place
//! and leaves the old one under the spare's name, in a folder of this process's own
//! (`<homes>/.multiftp-spare/<tag>/`, invisible to users: usernames start with a letter).
//! There it is emptied and kept for the next overwrite, but only when nothing else can still
//! see its bytes or reach it: one link, owned by the daemon's user and group, no extended
//! attributes (ACLs, security labels), and no other open file anywhere (a write lease, which
//! the kernel grants only then). Otherwise it is unlinked, exactly as a rename would have done.
//! An emptied file has no data blocks, so a new upload's bytes always go to newly allocated
//! blocks, as in a new file.
//!
//! Each process's folder holds an `flock`ed lock file: a process that starts removes the
//! folders whose lock nobody holds (left by a process that died), so several daemons can share
//! one homes folder.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cap_std::fs::{Dir, DirBuilder, OpenOptions};
use rustix::fs::{AtFlags, FileType, FlockOperation, RenameFlags};
use rustix::io::Errno;

/// The folder, in the homes folder, that holds every process's spares.
pub const SPARE_DIR: &str = ".multiftp-spare";

/// At most this many emptied spares wait for an overwrite; more are unlinked. One is enough
/// per overwrite in progress at a time.
const MAX_FREE: usize = 64;

/// The spares of this process: its own folder and the spares in it that are empty and free.
#[derive(Debug)]
pub struct Spares {
    /// `<homes>/.multiftp-spare/<tag>`.
    dir: Dir,
    /// The device the folder is on: only files on the same one can be swapped with a spare.
    dev: u64,
    /// Empty spares ready for an overwrite (their names are these numbers).
    free: Mutex<Vec<u64>>,
    /// The name of the next new spare.
    next: AtomicU64,
    /// Replaced files waiting to be recycled, and the blocking tasks doing it.
    recycling: Mutex<Recycling>,
    /// Cleared when the filesystem refuses `RENAME_EXCHANGE`: overwrites then use a temporary
    /// file beside the target again.
    exchange: AtomicBool,
    /// The `flock`ed lock file that tells other processes this folder is in use.
    _lock: std::fs::File,
    /// For removing the folder when the process ends: `<homes>/.multiftp-spare` and the
    /// folder's name in it.
    top: Dir,
    tag: String,
}

/// The queue of [`Spares::recycle`]: replaced files (their spare names and what `statat`
/// said of them) and how many blocking tasks are draining it.
#[derive(Debug, Default)]
struct Recycling {
    queue: Vec<(u64, rustix::fs::Stat)>,
    workers: usize,
}

/// At most this many blocking tasks recycle at a time: a burst of overwrites queues its
/// replaced files instead of taking a thread each.
const RECYCLERS: usize = 2;

/// A spare taken for one overwrite: its name in the spare folder and the file, empty, opened
/// for writing.
#[derive(Debug)]
pub struct Spare {
    pub id: u64,
    pub file: std::fs::File,
}

impl Spares {
    /// Opens this process's spare folder in the homes folder `homes` (making it), after
    /// removing the folders of processes that are gone.
    ///
    /// # Errors
    ///
    /// The I/O error of making the folder or its lock file; the caller then runs without
    /// spares (overwrites still work, through temporary files).
    pub fn open(homes: &Dir) -> std::io::Result<Self> {
        use cap_std::fs::DirBuilderExt;
        let mut builder = DirBuilder::new();
        builder.mode(0o700);
        match homes.create_dir_with(SPARE_DIR, &builder) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let top = homes.open_dir(SPARE_DIR)?;
        remove_abandoned(&top);
        let tag = format!("{:016x}", random_u64()?);
        top.create_dir_with(&tag, &builder)?;
        let dir = top.open_dir(&tag)?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        let lock = dir.open_with("lock", &options)?.into_std();
        rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive)?;
        let dev = rustix::fs::fstat(&dir)?.st_dev;
        Ok(Self {
            dir,
            dev,
            free: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            recycling: Mutex::new(Recycling::default()),
            exchange: AtomicBool::new(true),
            _lock: lock,
            top,
            tag,
        })
    }

    /// An empty spare for overwriting a file on device `dev`, taken from the free ones or
    /// made; `None` when the file is on another device, the filesystem cannot swap, or the
    /// spare cannot be made (the caller then writes a temporary file beside the target).
    pub fn take(&self, dev: u64) -> Option<Spare> {
        if dev != self.dev || !self.exchange.load(Ordering::Relaxed) {
            return None;
        }
        let reused = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        if let Some(id) = reused {
            let mut options = OpenOptions::new();
            options.write(true);
            match self.dir.open_with(id.to_string(), &options) {
                Ok(file) => return Some(Spare { id, file: file.into_std() }),
                Err(e) => tracing::warn!(cause = %e, "a spare file went missing; making another"),
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        match self.dir.open_with(id.to_string(), &options) {
            Ok(file) => Some(Spare { id, file: file.into_std() }),
            Err(e) => {
                tracing::warn!(cause = %e, "cannot make a spare file; using a temporary file");
                None
            }
        }
    }

    /// Puts the complete spare `id` in place of `name` in `parent` (one `renameat2`) and
    /// recycles or unlinks what it replaced.
    ///
    /// # Errors
    ///
    /// `IsADirectory` when `name` became a folder meanwhile (it is left in place), or the I/O
    /// error of the swap. The spare is still there then: the caller abandons it.
    pub fn put_in_place(
        self: &Arc<Self>,
        id: u64,
        parent: &Dir,
        name: &Path,
    ) -> std::io::Result<()> {
        let spare = id.to_string();
        match rustix::fs::renameat_with(&self.dir, &spare, parent, name, RenameFlags::EXCHANGE) {
            Ok(()) => {}
            // The target is gone (deleted meanwhile): the spare simply becomes the file.
            Err(Errno::NOENT) => return Ok(rustix::fs::renameat(&self.dir, &spare, parent, name)?),
            // A filesystem without the swap (e.g. NFS): a plain rename, and temporary files
            // from now on.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                tracing::info!(
                    "the homes filesystem cannot swap files (RENAME_EXCHANGE): overwrites use temporary files"
                );
                self.exchange.store(false, Ordering::Relaxed);
                return Ok(rustix::fs::renameat(&self.dir, &spare, parent, name)?);
            }
            // The spare is removed by its owner (the `Upload` that fails).
            Err(e) => return Err(e.into()),
        }
        // `spare` is now what was at `name`: normally the old file.
        let old = match rustix::fs::statat(&self.dir, &spare, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(old) => old,
            Err(e) => {
                tracing::warn!(cause = %e, "cannot look at a replaced file");
                return Ok(());
            }
        };
        if FileType::from_raw_mode(old.st_mode) == FileType::Directory {
            // A folder made at the name during the upload: a rename would have failed, so put
            // it back and fail the same way.
            if let Err(e) =
                rustix::fs::renameat_with(&self.dir, &spare, parent, name, RenameFlags::EXCHANGE)
            {
                tracing::error!(
                    folder = ?name, moved_to = %format!("{SPARE_DIR}/{}/{spare}", self.tag),
                    cause = %e,
                    "a folder made during an upload was swapped out and cannot be swapped back; \
                     move it back by hand (it is kept)"
                );
                return Err(e.into());
            }
            return Err(std::io::ErrorKind::IsADirectory.into());
        }
        // Emptying the old file frees its blocks, which can wait for the disk (ext4 without a
        // journal discards freed blocks synchronously when mounted with `discard`: 0.2-1 ms
        // per file here). The client need not wait for that: it is done on a blocking thread
        // after the reply, and an overwrite meanwhile makes a new spare.
        let start = {
            let mut recycling = self.recycling();
            recycling.queue.push((id, old));
            let start = recycling.workers < RECYCLERS;
            recycling.workers += usize::from(start);
            start
        };
        if start {
            let spares = Arc::clone(self);
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || spares.drain())),
                Err(_) => spares.drain(),
            }
        }
        Ok(())
    }

    fn recycling(&self) -> std::sync::MutexGuard<'_, Recycling> {
        self.recycling.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Recycles queued replaced files until the queue is empty.
    fn drain(&self) {
        loop {
            let next = {
                let mut recycling = self.recycling();
                let next = recycling.queue.pop();
                if next.is_none() {
                    recycling.workers -= 1;
                }
                next
            };
            let Some((id, old)) = next else { return };
            self.recycle(id, &old);
        }
    }

    /// Waits until the replaced files handed to the blocking pool are recycled or unlinked.
    #[cfg(test)]
    pub fn settle(&self) {
        while self.recycling().workers > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Empties the replaced file now named `id` and frees it for the next overwrite, or
    /// unlinks it when it cannot be recycled safely (see the module doc).
    fn recycle(&self, id: u64, old: &rustix::fs::Stat) {
        let full =
            self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() >= MAX_FREE;
        let plain = FileType::from_raw_mode(old.st_mode) == FileType::RegularFile
            && old.st_nlink == 1
            && old.st_uid == rustix::process::geteuid().as_raw()
            && old.st_gid == rustix::process::getegid().as_raw();
        if full || !plain || self.empty_if_unshared(id).is_err() {
            self.discard(id);
            return;
        }
        self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id);
    }

    /// Truncates the file `id` to nothing if no other open file refers to it (a write lease is
    /// granted only then) and it has no extended attributes.
    fn empty_if_unshared(&self, id: u64) -> std::io::Result<()> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = rustix::fs::openat(&self.dir, id.to_string(), flags, Mode::empty())?;
        lease(&file, true)?;
        let emptied = match rustix::fs::flistxattr(&file, &mut [0u8; 0][..]) {
            Ok(0) => rustix::fs::ftruncate(&file, 0).map_err(std::io::Error::from),
            Ok(_) | Err(Errno::RANGE) => Err(std::io::Error::other("extended attributes")),
            Err(e) => Err(e.into()),
        };
        lease(&file, false)?;
        emptied
    }

    /// Unlinks the spare `id` (best effort: the folder is removed at the end anyway).
    fn discard(&self, id: u64) {
        let _ = self.dir.remove_file(id.to_string());
    }

    /// Unlinks the spare `id` after an upload that did not complete.
    pub fn abandon(&self, id: u64) {
        self.discard(id);
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        remove_folder(&self.top, std::ffi::OsStr::new(&self.tag));
    }
}

/// Takes (`on`) or releases a write lease on `file`. The kernel grants one only when no other
/// open file (in any process) refers to the inode: a download still reading it, a link held
/// open elsewhere.
///
/// # Errors
///
/// `EAGAIN` when the file is open elsewhere, `EINVAL` when leases are disabled
/// (`fs.leases-enable`).
fn lease(file: &impl std::os::fd::AsRawFd, on: bool) -> std::io::Result<()> {
    let kind = if on { libc::F_WRLCK } else { libc::F_UNLCK };
    // SAFETY: fcntl(F_SETLEASE) takes an open descriptor and an integer; no pointer is
    // passed and nothing is assumed about memory. Neither rustix nor nix offers F_SETLEASE.
    #[allow(unsafe_code)]
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, kind) };
    if r == -1 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

/// Removes the folders in `top` whose lock file nobody holds: their process is gone, and what
/// they hold is emptied spares or the parts of uploads that never completed.
fn remove_abandoned(top: &Dir) {
    let Ok(entries) = top.entries() else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Ok(dir) = top.open_dir(&name) else { continue };
        let held = match dir.open("lock") {
            Ok(lock) => {
                let lock = lock.into_std();
                rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err()
            }
            Err(_) => false,
        };
        if !held {
            remove_folder(top, &name);
            tracing::info!(folder = ?name, "removed the spare files of a process that ended");
        }
    }
}

/// Removes the spare folder `name` in `top`: its files, then the folder. Anything else in it
/// is left, and so is the folder: only a folder swapped in by [`Spares::put_in_place`] that
/// could not be swapped back could be there, and it is a user's.
fn remove_folder(top: &Dir, name: &std::ffi::OsStr) {
    let Ok(dir) = top.open_dir(name) else { return };
    if let Ok(entries) = dir.entries() {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| !t.is_dir()) {
                let _ = dir.remove_file(entry.file_name());
            }
        }
    }
    if let Err(e) = top.remove_dir(name) {
        tracing::warn!(folder = ?name, cause = %e, "cannot remove a spare folder");
    }
}

/// A random number for a folder or file name nobody else picks.
pub fn random_u64() -> std::io::Result<u64> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("no random bytes"))?;
    Ok(u64::from_le_bytes(bytes))
}

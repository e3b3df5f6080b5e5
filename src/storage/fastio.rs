//! Fast transfer paths for RETR and STOR on the same cap-std capability handles as the rest of
//! the storage backend (so the same confinement holds: no `..`, absolute path or symlink leaves
//! the directory the handle was opened on).
//!
//! Why: streaming through a small `BufReader` over `tokio::fs::File` costs one thread-pool hop
//! per read. Two kinds of path avoid it:
//! - Plain (non-TLS, binary) data connections, on Linux, get the socket itself from the engine
//!   ([`send_file_to_socket`], [`receive_from_socket`]): a transfer runs on one blocking thread
//!   from start to end (uploads with `splice(2)`), and a small cached download runs on the
//!   async worker without any hop. These carry nearly all of the bench/ figures.
//! - TLS data connections (and other platforms) get a stream: one blocking task per transfer
//!   moves the file in 1 MiB chunks over a small channel ([`send_file`], [`receive_file`]), so
//!   a 1 GiB file takes about a thousand hand-offs instead of 131,072 hops.
//!
//! Every path fails a transfer whose data connection makes no progress for `data_timeout`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cap_std::fs::{Dir, OpenOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::ftp::WriteMode;

/// Chunk size: large enough that hand-offs are rare, small enough to keep per-transfer memory
/// at a few MiB.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the disk thread and the network side.
const DEPTH: usize = 2;

/// Where an operation runs: the folder `sub` (a user's home) under the shared handle `base`
/// (the homes folder), or a folder `inner` below it (a shared item). The folder is opened
/// inside each blocking task and closed when it ends, so an idle session holds no file
/// descriptor but its socket; opening costs one `openat` per level. cap-std confines every
/// path to the opened folder, whatever `..` or symlinks it holds.
#[derive(Debug, Clone)]
pub struct Root {
    base: Arc<Dir>,
    sub: String,
    /// Folders below `sub`, each opened without following a symbolic link: a link on the way
    /// to a shared item could otherwise point anywhere in the owner's home.
    inner: Vec<String>,
}

impl Root {
    /// `sub` under `base`; `sub` is a single validated name (a username).
    pub fn new(base: Arc<Dir>, sub: impl Into<String>) -> Self {
        Self { base, sub: sub.into(), inner: Vec::new() }
    }

    /// The folder `path` (normalised, `/a/b`; `/` is this folder) below this one, as a root of
    /// its own: no symbolic link is followed on the way down to it, and nothing done through
    /// it leaves it (how `/shared` stays inside the shared item).
    #[must_use]
    pub fn below(&self, path: &str) -> Self {
        let mut inner = self.inner.clone();
        inner.extend(path.split('/').filter(|c| !c.is_empty()).map(str::to_string));
        Self { base: Arc::clone(&self.base), sub: self.sub.clone(), inner }
    }

    /// Opens the folder.
    ///
    /// # Errors
    ///
    /// The I/O error, e.g. `NotFound` for a missing home, or for a symbolic link or a file on
    /// the way to a folder below it.
    pub fn open(&self) -> std::io::Result<Dir> {
        let mut dir = self.base.open_dir(&self.sub)?;
        for name in &self.inner {
            dir = open_dir_nofollow(&dir, name)?;
        }
        Ok(dir)
    }
}

/// Opens the folder `name` (one path component) in `dir` without following a symbolic link
/// (`O_NOFOLLOW`): a link, a file or a missing name all give `NotFound`, so the caller learns
/// nothing about where a link points.
///
/// # Errors
///
/// `NotFound` as above, or the I/O error of the open.
pub fn open_dir_nofollow(dir: &Dir, name: &str) -> std::io::Result<Dir> {
    use rustix::fs::{Mode, OFlags, openat};
    use rustix::io::Errno;
    // One component only: `..`, `.` or a `/` would make `openat` walk (and `..` leave `dir`).
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Dir::from_std_file(std::fs::File::from(fd))),
        // ELOOP: a symbolic link (O_NOFOLLOW); ENOTDIR: a file, or a link (O_DIRECTORY).
        Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT) => Err(std::io::ErrorKind::NotFound.into()),
        Err(e) => Err(e.into()),
    }
}

fn broken() -> std::io::Error {
    std::io::Error::other("transfer worker stopped")
}

/// Opens `rel` in `dir` for reading, refusing folders (which `open` accepts on Linux and whose
/// reads fail only later, after the client was told the transfer starts).
fn open_file(dir: &Dir, rel: &Path) -> std::io::Result<std::fs::File> {
    let f = dir.open(rel)?.into_std();
    if f.metadata()?.is_dir() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    Ok(f)
}

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
fn start_write(dir: Dir, rel: &Path, mode: WriteMode) -> std::io::Result<(std::fs::File, Upload)> {
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

/// Reads into `buf` until it is full or the file ends; returns the bytes read.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// `io` with `stall` as its time limit: a data connection that makes no progress for that
/// long fails with `TimedOut`.
async fn within<T>(
    stall: Duration,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(stall, io).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the data connection made no progress for data_timeout seconds",
        ))
    })
}

/// Sends `rel` (relative to `dir`) from `start` to `out`; returns the bytes sent. A chunk the
/// client takes longer than `stall` to accept fails the transfer.
///
/// # Errors
///
/// The I/O error of the open, read or write that failed.
pub async fn send_file<W>(
    root: Root,
    rel: PathBuf,
    start: u64,
    out: &mut W,
    stall: Duration,
) -> std::io::Result<u64>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let (full_tx, mut full_rx) = mpsc::channel::<std::io::Result<(Vec<u8>, usize)>>(DEPTH);
    let (empty_tx, mut empty_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let worker = tokio::task::spawn_blocking(move || {
        let opened = root.open().and_then(|dir| open_file(&dir, &rel)).and_then(|mut f| {
            if start > 0 {
                f.seek(SeekFrom::Start(start))?;
            }
            let len = f.metadata()?.len();
            Ok((f, len))
        });
        let (mut f, len) = match opened {
            Ok(x) => x,
            Err(e) => {
                let _ = full_tx.blocking_send(Err(e));
                return;
            }
        };
        // Small files get one small buffer: no MiB allocations for a 4 KiB file.
        let size = usize::try_from(len.saturating_sub(start)).unwrap_or(CHUNK).clamp(1, CHUNK);
        let mut spare = (0..DEPTH + 1).map(|_| vec![0u8; size]).collect::<Vec<_>>();
        loop {
            let mut buf = match spare.pop() {
                Some(b) => b,
                None => match empty_rx.blocking_recv() {
                    Some(b) => b,
                    None => return,
                },
            };
            match read_full(&mut f, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if full_tx.blocking_send(Ok((buf, n))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = full_tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let mut total = 0u64;
    while let Some(chunk) = full_rx.recv().await {
        let (buf, n) = chunk?;
        within(stall, out.write_all(&buf[..n])).await?;
        total += n as u64;
        let _ = empty_tx.send(buf);
    }
    drop(empty_tx);
    worker.await.map_err(|_| broken())?;
    Ok(total)
}

/// Pipe size for [`receive_from_socket`]: up to this much moves per pair of `splice` calls.
#[cfg(target_os = "linux")]
const PIPE: usize = 1 << 20;

/// Names a stall: `SO_SNDTIMEO`/`SO_RCVTIMEO` expiry shows up as `EAGAIN` (`WouldBlock`) on a
/// blocking socket.
#[cfg(target_os = "linux")]
fn stalled(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::WouldBlock {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the data connection made no progress for data_timeout seconds",
        )
    } else {
        e
    }
}

/// Takes a data connection off the async runtime for a transfer on a blocking thread: blocking
/// mode, so the thread sleeps in the kernel instead of polling, with `stall` as the longest
/// wait for progress (a client that neither reads nor sends for that long is gone).
#[cfg(target_os = "linux")]
fn blocking_socket(
    socket: tokio::net::TcpStream,
    stall: Duration,
) -> std::io::Result<std::net::TcpStream> {
    let socket = socket.into_std()?;
    socket.set_nonblocking(false)?;
    socket.set_write_timeout(Some(stall))?;
    socket.set_read_timeout(Some(stall))?;
    Ok(socket)
}

#[cfg(target_os = "linux")]
thread_local! {
    /// The copy buffer of this blocking-pool thread, kept between transfers: allocating and
    /// zeroing a fresh MiB per transfer was 8% of the server's CPU with 32 clients (bench/, W3).
    /// At most [`CHUNK`] per thread; the pool ends idle threads after 10 s.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's copy buffer, grown to `len` bytes (at most [`CHUNK`]) if needed.
#[cfg(target_os = "linux")]
fn with_thread_buffer<T>(len: usize, f: impl FnOnce(&mut [u8]) -> T) -> T {
    BUFFER.with(|cell| {
        let mut buf = cell.borrow_mut();
        let len = len.clamp(1, CHUNK);
        if buf.len() < len {
            buf.resize(len, 0);
        }
        f(&mut buf[..len])
    })
}

/// Files up to this size are sent by the async worker itself when their bytes are already in
/// the page cache.
#[cfg(target_os = "linux")]
pub const CACHED_MAX: u64 = 64 << 10;

/// RETR on a data connection without TLS; returns the bytes sent from `start`.
///
/// The file is opened on the async worker: a path lookup, normally answered from the kernel's
/// caches (the session has just used the folder), the same trade nginx makes by default.
/// Then one of two ways:
/// - A file of at most [`CACHED_MAX`] bytes whose bytes are in the page cache is read with
///   `RWF_NOWAIT` (which fails rather than wait for the disk) and written to the socket right
///   there: no hand-off to a blocking thread and back, which was most of a small download's
///   cost (bench/, W4: 20% more files/s).
/// - Anything else runs on one blocking thread that reads 1 MiB chunks and writes each
///   straight into the socket: no hand-off per chunk as in [`send_file`]. Not `sendfile(2)`:
///   measured on loopback (bench/, W1) it was 30% slower, because page-sized fragments cost the
///   receiver more than the copy saves here.
///
/// Either way the sending side is closed at the end (RFC 959 3.3: closing the data connection
/// marks the end of the file).
///
/// # Errors
///
/// The I/O error of the open or of the transfer (e.g. `BrokenPipe` when the client hangs up,
/// `TimedOut` after `stall` without progress).
#[cfg(target_os = "linux")]
pub async fn send_file_to_socket(
    root: Root,
    rel: PathBuf,
    start: u64,
    mut socket: tokio::net::TcpStream,
    stall: Duration,
) -> std::io::Result<u64> {
    let mut file = open_file(&root.open()?, &rel)?;
    let left = file.metadata()?.len().saturating_sub(start);
    if left <= CACHED_MAX
        && let Some(bytes) = read_cached(&file, start, left)
    {
        within(stall, socket.write_all(&bytes)).await?;
        let _ = socket.shutdown().await;
        return Ok(bytes.len() as u64);
    }
    let mut socket = blocking_socket(socket, stall)?;
    tokio::task::spawn_blocking(move || {
        if start > 0 {
            file.seek(SeekFrom::Start(start))?;
        }
        let want = usize::try_from(left).unwrap_or(CHUNK).clamp(1, CHUNK);
        let sent = with_thread_buffer(want, |buf| -> std::io::Result<u64> {
            let mut sent = 0u64;
            loop {
                let n = read_full(&mut file, buf)?;
                if n == 0 {
                    return Ok(sent);
                }
                socket.write_all(&buf[..n]).map_err(stalled)?;
                sent += n as u64;
            }
        })?;
        let _ = socket.shutdown(std::net::Shutdown::Write);
        Ok(sent)
    })
    .await
    .map_err(|_| broken())?
}

/// The `len` bytes of `file` from `start` if the page cache holds them all, without waiting for
/// the disk (`preadv2` with `RWF_NOWAIT`); `None` when it does not, or when the filesystem
/// cannot tell.
#[cfg(target_os = "linux")]
fn read_cached(file: &std::fs::File, start: u64, len: u64) -> Option<Vec<u8>> {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    let mut got = 0;
    while got < buf.len() {
        let mut io = [std::io::IoSliceMut::new(&mut buf[got..])];
        match preadv2(file, &mut io, start + got as u64, ReadWriteFlags::NOWAIT) {
            Ok(0) => break, // the file shrank: send what there is
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    Some(buf)
}

/// STOR/APPE/STOU on a data connection without TLS: `splice(2)` moves the bytes from the
/// socket into a pipe (no copy) and from the pipe into the file (one copy, into the page
/// cache), on one blocking thread. The file is opened as `mode` says, like [`receive_file`]
/// (an overwrite goes to a temporary name and replaces the old file when complete, see
/// [`Upload`]).
/// Filesystems that cannot take `splice` get plain reads and writes. Returns the bytes written.
///
/// # Errors
///
/// The I/O error of the open, of the socket (`TimedOut` after `stall` without data) or of the
/// write (e.g. a full disk).
#[cfg(target_os = "linux")]
pub async fn receive_from_socket(
    root: Root,
    rel: PathBuf,
    mode: WriteMode,
    socket: tokio::net::TcpStream,
    stall: Duration,
) -> std::io::Result<u64> {
    receive_from_socket_while(root, rel, mode, socket, stall, &|| true).await
}

/// [`receive_from_socket`], replacing an old file only if `alive` still says yes at the end
/// (see [`Upload::commit`]).
///
/// # Errors
///
/// As [`receive_from_socket`], and `ConnectionAborted` when `alive` says no.
#[cfg(target_os = "linux")]
pub async fn receive_from_socket_while(
    root: Root,
    rel: PathBuf,
    mode: WriteMode,
    socket: tokio::net::TcpStream,
    stall: Duration,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> std::io::Result<u64> {
    let socket = blocking_socket(socket, stall)?;
    let (written, upload) = tokio::task::spawn_blocking(move || {
        let (mut file, upload) = start_write(root.open()?, &rel, mode)?;
        // On an error `upload` is dropped here, which removes an overwrite's temporary file.
        let written = splice_into(&socket, &mut file)?;
        Ok::<_, std::io::Error>((written, upload))
    })
    .await
    .map_err(|_| broken())??;
    upload.commit(alive).await?;
    Ok(written)
}

/// The copy loop of [`receive_from_socket`]: socket to pipe to file until the end of the
/// data; returns the bytes written.
#[cfg(target_os = "linux")]
fn splice_into(socket: &std::net::TcpStream, file: &mut std::fs::File) -> std::io::Result<u64> {
    use rustix::io::Errno;
    use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};
    let (pipe_out, pipe_in) = pipe_with(PipeFlags::CLOEXEC)?;
    // A bigger pipe means fewer calls; the default (64 KiB) still works if this is refused.
    let chunk = fcntl_setpipe_size(&pipe_in, PIPE).unwrap_or(64 << 10);
    let mut written = 0u64;
    loop {
        let n = match splice(socket, None, &pipe_in, None, chunk, SpliceFlags::MOVE) {
            Ok(0) => return Ok(written),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            // Not a socket splice can read (should not happen for TCP): copy instead.
            Err(Errno::INVAL) if written == 0 => break,
            Err(e) => return Err(stalled(e.into())),
        };
        let mut left = n;
        while left > 0 {
            match splice(&pipe_out, None, &*file, None, left, SpliceFlags::MOVE) {
                Ok(m) => left -= m,
                Err(Errno::INTR) => {}
                Err(Errno::INVAL) => {
                    // The filesystem takes no splice: drain the pipe by hand, then copy.
                    let mut buf = vec![0u8; left];
                    std::io::Read::read_exact(&mut std::fs::File::from(pipe_out), &mut buf)?;
                    file.write_all(&buf)?;
                    written += n as u64;
                    return copy_plain(socket, file, written);
                }
                Err(e) => return Err(e.into()),
            }
        }
        written += n as u64;
    }
    copy_plain(socket, file, written)
}

/// The read/write loop for [`receive_from_socket`] where `splice` is not available; returns
/// `written` plus what it copied.
#[cfg(target_os = "linux")]
fn copy_plain(
    mut socket: &std::net::TcpStream,
    file: &mut std::fs::File,
    mut written: u64,
) -> std::io::Result<u64> {
    with_thread_buffer(CHUNK, |buf| {
        loop {
            match socket.read(buf) {
                Ok(0) => return Ok(written),
                Ok(n) => {
                    file.write_all(&buf[..n])?;
                    written += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(stalled(e)),
            }
        }
    })
}

/// Writes `input` to `rel` (relative to `dir`), opened as `mode` says (after REST, STOR keeps
/// the file up to the offset and resumes there; an overwrite replaces the old file only when
/// complete, see [`Upload`]); returns the bytes written. No data for `stall` fails the
/// transfer.
///
/// # Errors
///
/// The I/O error of the open, read or write that failed.
pub async fn receive_file<R>(
    root: Root,
    rel: PathBuf,
    mode: WriteMode,
    input: R,
    stall: Duration,
) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
{
    receive_file_while(root, rel, mode, input, stall, &|| true).await
}

/// [`receive_file`], replacing an old file only if `alive` still says yes at the end (see
/// [`Upload::commit`]).
///
/// # Errors
///
/// As [`receive_file`], and `ConnectionAborted` when `alive` says no.
pub async fn receive_file_while<R>(
    root: Root,
    rel: PathBuf,
    mode: WriteMode,
    mut input: R,
    stall: Duration,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
{
    let (full_tx, mut full_rx) = mpsc::channel::<(Vec<u8>, usize)>(DEPTH);
    let (empty_tx, mut empty_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    // If this future is dropped (ABOR, the session ended), the channel closes, the worker
    // ends as at the end of the data and its `Upload` is dropped uncommitted with its result.
    let worker = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Upload)> {
        let (mut f, upload) = start_write(root.open()?, &rel, mode)?;
        let mut written = 0u64;
        while let Some((buf, n)) = full_rx.blocking_recv() {
            f.write_all(&buf[..n])?;
            written += n as u64;
            let _ = empty_tx.send(buf);
        }
        Ok((written, upload))
    });
    let mut buffers = 0;
    let mut eof = false;
    while !eof {
        let mut buf = match empty_rx.try_recv() {
            Ok(b) => b,
            Err(_) if buffers <= DEPTH => {
                buffers += 1;
                // The first buffer is small: most uploads that fit in it never need more.
                vec![0u8; if buffers == 1 { 64 << 10 } else { CHUNK }]
            }
            Err(_) => match empty_rx.recv().await {
                Some(b) => b,
                None => break, // the worker stopped: its error is returned below
            },
        };
        let mut filled = 0;
        while filled < buf.len() {
            let n = within(stall, input.read(&mut buf[filled..])).await?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        if filled > 0 && full_tx.send((buf, filled)).await.is_err() {
            break;
        }
    }
    drop(full_tx);
    let (written, upload) = worker.await.map_err(|_| broken())??;
    upload.commit(alive).await?;
    Ok(written)
}

/// Runs `f` on `dir` in the blocking pool: the one hop every metadata-sized operation costs.
///
/// # Errors
///
/// What `f` returns.
pub async fn with_dir<T, F>(root: Root, f: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Dir) -> std::io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(move || f(&root.open()?)).await.map_err(|_| broken())?
}

/// `lstat` of `rel` in `dir`; `.` is the directory itself.
///
/// # Errors
///
/// The I/O error, e.g. `NotFound`.
pub async fn stat(root: Root, rel: PathBuf) -> std::io::Result<cap_std::fs::Metadata> {
    with_dir(root, move |d| {
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
/// It runs on the calling (async) thread, as [`send_file_to_socket`] opens files there: an
/// `openat` and a `statx` of cached entries take microseconds, less than the hop to a blocking
/// thread would (every RETR and STOR checks its target first: bench/ W4).
pub async fn stat_followed(root: Root, rel: PathBuf) -> std::io::Result<cap_std::fs::Metadata> {
    let d = root.open()?;
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
/// in one blocking task: a thread-pool hop per entry made LIST of a 10,000-file folder about ten
/// times slower than vsftpd. Entries that vanish while we list
/// are skipped. Names that are not UTF-8 are skipped too: FTP paths here are UTF-8 (RFC 2640).
///
/// # Errors
///
/// The I/O error of opening or reading the directory.
pub async fn list_dir(root: Root, rel: PathBuf) -> std::io::Result<Vec<Entry>> {
    tokio::task::spawn_blocking(move || {
        let dir = root.open()?;
        let sub;
        let target = if rel.as_os_str().is_empty() || rel == std::path::Path::new(".") {
            &dir
        } else {
            sub = dir.open_dir(&rel)?;
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
        // big folders are split over the cores, so a 10,000-file LIST takes about half as long.
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(4);
        if names.len() < PARALLEL_STAT || threads < 2 {
            return Ok(stat_all(&names));
        }
        let per = names.len().div_ceil(threads);
        Ok(std::thread::scope(|scope| {
            let parts: Vec<_> =
                names.chunks(per).map(|part| scope.spawn(move || stat_all(part))).collect();
            parts.into_iter().flat_map(|p| p.join().unwrap_or_default()).collect()
        }))
    })
    .await
    .map_err(|_| broken())?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder `name` under `top` (created if missing) as a [`Root`] on a handle for `top`,
    /// the way sessions reach their homes.
    fn root_at(top: &std::path::Path, name: &str) -> Root {
        std::fs::create_dir_all(top.join(name)).unwrap();
        let base = Dir::open_ambient_dir(top, cap_std::ambient_authority()).unwrap();
        Root::new(Arc::new(base), name)
    }

    #[tokio::test]
    async fn round_trips_small_and_large_files_and_resumes() {
        let top = tempfile::tempdir().unwrap();
        let tmp_path = top.path().join("h");
        let dir = root_at(top.path(), "h");
        for len in [0usize, 1, 4096, CHUNK - 1, CHUNK, 3 * CHUNK + 17] {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let n = receive_file(dir.clone(), "f.bin".into(), W0, &body[..], T).await.unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(std::fs::read(tmp_path.join("f.bin")).unwrap(), body);
            let mut out = Vec::new();
            let n = send_file(dir.clone(), "f.bin".into(), 0, &mut out, T).await.unwrap();
            assert_eq!((n, out == body), (len as u64, true), "len {len}");
            if len > 10 {
                let mut tail = Vec::new();
                send_file(dir.clone(), "f.bin".into(), 10, &mut tail, T).await.unwrap();
                assert!(tail == body[10..]);
                receive_file(
                    dir.clone(),
                    "f.bin".into(),
                    WriteMode::Write { offset: 10 },
                    &b"xyz"[..],
                    T,
                )
                .await
                .unwrap();
                let now = std::fs::read(tmp_path.join("f.bin")).unwrap();
                assert!(now[..10] == body[..10] && &now[10..] == b"xyz");
            }
        }
    }

    /// Stall timeout for the tests' transfers.
    const T: Duration = Duration::from_secs(30);

    /// A plain STOR.
    const W0: WriteMode = WriteMode::Write { offset: 0 };

    #[tokio::test]
    async fn append_appends_create_new_refuses_and_folders_are_not_files() {
        let top = tempfile::tempdir().unwrap();
        let dir = root_at(top.path(), "h");
        let path = top.path().join("h/f.txt");
        receive_file(dir.clone(), "f.txt".into(), WriteMode::Append, &b"abc"[..], T).await.unwrap();
        receive_file(dir.clone(), "f.txt".into(), WriteMode::Append, &b"def"[..], T).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        let e = receive_file(dir.clone(), "f.txt".into(), WriteMode::CreateNew, &b"x"[..], T)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        receive_file(dir.clone(), "new.txt".into(), WriteMode::CreateNew, &b"n"[..], T)
            .await
            .unwrap();
        assert_eq!(std::fs::read(top.path().join("h/new.txt")).unwrap(), b"n");
        // A plain STOR replaces the whole file.
        receive_file(dir.clone(), "f.txt".into(), W0, &b"z"[..], T).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"z");
        std::fs::create_dir(top.path().join("h/d")).unwrap();
        let e = send_file(dir.clone(), "d".into(), 0, &mut Vec::new(), T).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::IsADirectory);
        #[cfg(target_os = "linux")]
        {
            let (server, _client) = socket_pair().await;
            let e = send_file_to_socket(dir.clone(), "d".into(), 0, server, T).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::IsADirectory);
            let (server, mut client) = socket_pair().await;
            let writer = std::thread::spawn(move || client.write_all(b"ghi"));
            receive_from_socket(dir, "f.txt".into(), WriteMode::Append, server, T).await.unwrap();
            writer.join().unwrap().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"zghi");
        }
    }

    /// A connected loopback pair: (the server's end as tokio, the client's end as std).
    #[cfg(target_os = "linux")]
    async fn socket_pair() -> (tokio::net::TcpStream, std::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr));
        let (server, _) = listener.accept().await.unwrap();
        (server, client.await.unwrap().unwrap())
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn plain_socket_paths_move_exact_bytes_and_resume() {
        let top = tempfile::tempdir().unwrap();
        let dir = root_at(top.path(), "h");
        for len in [0usize, 1, 4096, CHUNK + 1, 3 * PIPE + 17] {
            let body: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            // Upload: the client writes and closes; splice moves it into the file.
            let (server, mut client) = socket_pair().await;
            let sent = body.clone();
            let writer = std::thread::spawn(move || client.write_all(&sent));
            let n = receive_from_socket(dir.clone(), "u.bin".into(), W0, server, T).await.unwrap();
            writer.join().unwrap().unwrap();
            assert_eq!(n, len as u64);
            assert!(std::fs::read(top.path().join("h/u.bin")).unwrap() == body, "len {len}");
            // Download from an offset: the client reads to end of stream.
            let start = len.min(10);
            let (server, mut client) = socket_pair().await;
            let reader = std::thread::spawn(move || {
                let mut got = Vec::new();
                client.read_to_end(&mut got).map(|_| got)
            });
            let n = send_file_to_socket(dir.clone(), "u.bin".into(), start as u64, server, T)
                .await
                .unwrap();
            assert_eq!(n, (len - start) as u64);
            assert!(reader.join().unwrap().unwrap() == body[start..], "len {len}");
        }
        // The read/write fallback for filesystems without splice gives the same bytes.
        let (server, mut client) = socket_pair().await;
        let writer = std::thread::spawn(move || client.write_all(b"fallback bytes"));
        let mut file = std::fs::File::create(top.path().join("h/f.bin")).unwrap();
        let n = copy_plain(&blocking_socket(server, T).unwrap(), &mut file, 3).unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(n, 3 + 14);
        assert_eq!(std::fs::read(top.path().join("h/f.bin")).unwrap(), b"fallback bytes");
        // Hostile paths stay refused on the plain paths too.
        let (server, _client) = socket_pair().await;
        assert!(receive_from_socket(dir.clone(), "../x".into(), W0, server, T).await.is_err());
        let (server, _client) = socket_pair().await;
        assert!(send_file_to_socket(dir, "../h/u.bin".into(), 0, server, T).await.is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn read_cached_returns_the_cached_bytes_from_an_offset() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // Just written, so in the page cache (or a filesystem that cannot say: then None).
        if let Some(bytes) = read_cached(&file, 3, 7) {
            assert_eq!(bytes, b"3456789");
        }
        assert_eq!(read_cached(&file, 10, 0), Some(Vec::new()));
    }

    #[tokio::test]
    async fn stream_paths_time_out_when_the_peer_makes_no_progress() {
        let top = tempfile::tempdir().unwrap();
        let dir = root_at(top.path(), "h");
        std::fs::write(top.path().join("h/f.bin"), vec![7u8; 1 << 20]).unwrap();
        let stall = Duration::from_millis(200);
        // A reader that never reads: the 1 MiB file does not fit the 4 KiB pipe.
        let (mut near, _far) = tokio::io::duplex(4096);
        let e = send_file(dir.clone(), "f.bin".into(), 0, &mut near, stall).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        // A sender that sends nothing and does not close.
        let (near, _far) = tokio::io::duplex(4096);
        let e = receive_file(dir, "g.bin".into(), W0, near, stall).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn list_dir_lists_entries_with_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("h/sub/d")).unwrap();
        std::fs::write(tmp.path().join("h/sub/a.txt"), b"abc").unwrap();
        let dir = root_at(tmp.path(), "h");
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
        let dir = root_at(top.path(), "h");
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

    /// Names of overwrite temporaries in `dir`.
    fn parts(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter(|n| n.ends_with(".part"))
            .collect()
    }

    #[tokio::test]
    async fn an_overwrite_replaces_the_old_file_only_when_complete() {
        use std::os::unix::fs::PermissionsExt;
        let top = tempfile::tempdir().unwrap();
        let dir = root_at(top.path(), "h");
        let home = top.path().join("h");
        std::fs::create_dir(home.join("sub")).unwrap();
        let path = home.join("sub/f.bin");
        std::fs::write(&path, b"old contents").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        // A sender that stalls after a few bytes: the transfer fails, the old file stays.
        let (mut near, far) = tokio::io::duplex(4096);
        near.write_all(b"new").await.unwrap();
        let stall = Duration::from_millis(200);
        let e = receive_file(dir.clone(), "sub/f.bin".into(), W0, far, stall).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        drop(near);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !parts(&home.join("sub")).is_empty() {
            assert!(std::time::Instant::now() < deadline, "{:?}", parts(&home.join("sub")));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
        // An upload abandoned half-way (its future dropped, as on ABOR): the same.
        let (mut near, far) = tokio::io::duplex(4096);
        let task = tokio::spawn(receive_file(dir.clone(), "sub/f.bin".into(), W0, far, T));
        near.write_all(b"half").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(parts(&home.join("sub")).len(), 1, "written under a temporary name");
        assert!(parts(&home.join("sub"))[0].starts_with(".f.bin.multiftp-"));
        task.abort();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !parts(&home.join("sub")).is_empty() {
            assert!(std::time::Instant::now() < deadline, "{:?}", parts(&home.join("sub")));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
        // Complete: replaced, with the old permission bits.
        receive_file(dir.clone(), "sub/f.bin".into(), W0, &b"new contents"[..], T).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(parts(&home.join("sub")).is_empty());
        // On the plain socket path, a reset connection keeps the old file too.
        #[cfg(target_os = "linux")]
        {
            let (server, client) = socket_pair().await;
            let writer = std::thread::spawn(move || {
                let mut client = client;
                client.write_all(&[1u8; 100_000]).unwrap();
                socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO)).unwrap();
            });
            let got = receive_from_socket(dir.clone(), "sub/f.bin".into(), W0, server, T).await;
            writer.join().unwrap();
            // The reset may come after the server read everything, then the upload is whole.
            if got.is_err() {
                assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
            }
            assert!(parts(&home.join("sub")).is_empty());
            let (server, mut client) = socket_pair().await;
            let writer = std::thread::spawn(move || client.write_all(b"via splice"));
            receive_from_socket(dir, "sub/f.bin".into(), W0, server, T).await.unwrap();
            writer.join().unwrap().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"via splice");
            assert!(parts(&home.join("sub")).is_empty());
        }
    }

    #[tokio::test]
    async fn below_confines_to_the_folder_and_follows_no_link_on_the_way() {
        let top = tempfile::tempdir().unwrap();
        let home = top.path().join("h");
        std::fs::create_dir_all(home.join("pub/in")).unwrap();
        std::fs::create_dir_all(home.join("private")).unwrap();
        std::fs::write(home.join("private/secret.txt"), b"s").unwrap();
        std::fs::write(home.join("pub/in/ok.txt"), b"ok").unwrap();
        std::os::unix::fs::symlink("../private", home.join("pub/up")).unwrap();
        std::os::unix::fs::symlink("in", home.join("pub/alias")).unwrap();
        std::os::unix::fs::symlink("private", home.join("link")).unwrap();
        let dir = root_at(top.path(), "h");
        let pub_root = dir.below("/pub");
        let mut out = Vec::new();
        send_file(pub_root.clone(), "in/ok.txt".into(), 0, &mut out, T).await.unwrap();
        assert_eq!(out, b"ok");
        // A link inside the folder works; one leading out of it does not.
        assert!(stat_followed(pub_root.clone(), "alias/ok.txt".into()).await.is_ok());
        assert!(stat_followed(pub_root.clone(), "up/secret.txt".into()).await.is_err());
        assert!(list_dir(pub_root.clone(), "up".into()).await.is_err());
        assert!(send_file(pub_root, "up/secret.txt".into(), 0, &mut out, T).await.is_err());
        // No link is followed on the way down.
        let e = dir.below("/link").open().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(dir.below("/pub/alias").open().is_err());
        assert!(dir.below("/pub/in/ok.txt").open().is_err());
        assert!(dir.below("/pub/in").open().is_ok());
    }

    #[tokio::test]
    async fn paths_outside_the_directory_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("secret"), b"s").unwrap();
        let dir = root_at(tmp.path(), "home");
        let mut out = Vec::new();
        assert!(send_file(dir.clone(), "../secret".into(), 0, &mut out, T).await.is_err());
        assert!(receive_file(dir, "../planted".into(), W0, &b"x"[..], T).await.is_err());
        assert!(!tmp.path().join("planted").exists());
    }
}

//! The plain-socket transfer paths on Linux (data connections without TLS): the engine hands
//! over the socket itself, so a transfer runs on one blocking thread from start to end
//! (uploads with `splice(2)`, downloads with `sendfile(2)`), and a cached download of up to a
//! few MiB runs on the async worker without any hop. Compiled on Linux only;
//! [`portable`](super::portable) stands in elsewhere.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::upload::start_write;
use super::{CHUNK, WRITE_PIECE, open_file, read_full, within, write_in_pieces};
use crate::ftp::WriteMode;
use crate::storage::dir::ConfinedDir;
use crate::storage::error;

/// Pipe size for [`receive_from_socket_while`]: up to this much moves per `splice` from the
/// socket.
const PIPE: usize = 1 << 20;

/// Names a stall: `SO_SNDTIMEO`/`SO_RCVTIMEO` expiry shows up as `EAGAIN` (`WouldBlock`) on a
/// blocking socket.
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

thread_local! {
    /// The copy buffer of this blocking-pool thread, kept between transfers: allocating and
    /// zeroing a fresh MiB per transfer was a visible share of the server's CPU with many
    /// clients (bench/, W3).
    /// At most [`CHUNK`] per thread; the pool ends idle threads after 10 s.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's copy buffer, grown to `len` bytes (at most [`CHUNK`]) if needed.
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
pub const CACHED_MAX: u64 = 64 << 10;

/// RETR on a data connection without TLS; returns the bytes sent from `start`.
///
/// The file is opened on the async worker: a path lookup, normally answered from the kernel's
/// caches (the session has just used the folder), the same trade nginx makes by default.
/// Then one of three ways:
/// - A file of at most [`CACHED_MAX`] bytes whose bytes are in the page cache is read with
///   `RWF_NOWAIT` (which fails rather than wait for the disk) and written to the socket right
///   there: no hand-off to a blocking thread and back, which was most of a small download's
///   cost (bench/, W4).
/// - A file of at most [`ASYNC_SENDFILE_MAX`] bytes that looks cached ([`looks_cached`]) is
///   sent right there too, with non-blocking `sendfile(2)` calls between waits for the socket
///   ([`sendfile_async`]). With one blocking thread per download, 32 clients looping on a
///   1 MiB file kept 32 threads competing for 2 cores with the 2 workers that send every
///   reply: side by side with the build before (bench/, W3, 3 rounds), 3,274 against 2,740
///   MB/s and a p99 of 16.2 against 21.9 ms.
/// - Anything else runs on one blocking thread with `sendfile(2)` ([`sendfile_all`]): no copy
///   through this process and no hand-off per chunk as in [`send_file`](super::send_file).
///   In three W1 runs (bench/, 1 GiB) it gave 1357, 1267 and 1442 MB/s per round against
///   839-1422 for the read/write copy it replaced, with the load generator then the busy side
///   (97% of a core); a filesystem without `sendfile` gets that copy, 1 MiB at a time.
///
/// Either way the sending side is closed at the end (RFC 959 3.3: closing the data connection
/// marks the end of the file).
///
/// # Errors
///
/// The I/O error of the open or of the transfer (e.g. `BrokenPipe` when the client hangs up,
/// `TimedOut` after `stall` without progress).
pub async fn send_file_to_socket(
    dir: ConfinedDir,
    rel: PathBuf,
    start: u64,
    mut socket: tokio::net::TcpStream,
    stall: Duration,
) -> std::io::Result<u64> {
    let (mut file, len) = open_file(&dir.open()?, &rel)?;
    let left = len.saturating_sub(start);
    if left <= CACHED_MAX
        && let Some(bytes) = read_cached(&file, start, left)
    {
        within(stall, socket.write_all(&bytes)).await?;
        let _ = socket.shutdown().await;
        return Ok(bytes.len() as u64);
    }
    if left <= ASYNC_SENDFILE_MAX && looks_cached(&file, start, left) {
        let sent = sendfile_async(&file, start, left, &socket, stall).await?;
        let _ = socket.shutdown().await;
        return Ok(sent);
    }
    let mut socket = blocking_socket(socket, stall)?;
    tokio::task::spawn_blocking(move || {
        if let Some(sent) = sendfile_all(&file, start, &socket)? {
            let _ = socket.shutdown(std::net::Shutdown::Write);
            return Ok(sent);
        }
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
    .map_err(error::panicked)?
}

/// Sends `file` from `start` to its end into `socket` with `sendfile(2)`: the page cache's
/// pages go to the socket without a copy through this process. `None` when the filesystem
/// cannot (`EINVAL`/`ENOSYS` before the first byte): the caller copies instead.
fn sendfile_all(
    file: &std::fs::File,
    start: u64,
    socket: &std::net::TcpStream,
) -> std::io::Result<Option<u64>> {
    use rustix::io::Errno;
    let mut offset = start;
    loop {
        match rustix::fs::sendfile(socket, file, Some(&mut offset), SENDFILE_CHUNK) {
            Ok(0) => return Ok(Some(offset - start)),
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(Errno::INVAL | Errno::NOSYS) if offset == start => return Ok(None),
            Err(e) => return Err(stalled(e.into())),
        }
    }
}

/// Files up to this size whose pages look cached ([`looks_cached`]) are sent by the async
/// worker itself with non-blocking `sendfile` calls ([`sendfile_async`]).
const ASYNC_SENDFILE_MAX: u64 = 4 << 20;

/// Whether `file`'s pages from `start` for `len` bytes look like they are in the page cache:
/// one byte read with `RWF_NOWAIT` (which fails rather than wait for the disk) every 256 KiB
/// and at the end. Readahead caches files in runs, so a page between probes is rarely
/// missing; if one is, a `sendfile` waits for it on the worker.
fn looks_cached(file: &std::fs::File, start: u64, len: u64) -> bool {
    use rustix::io::{ReadWriteFlags, preadv2};
    if len == 0 {
        return true;
    }
    let mut byte = [0u8; 1];
    let last = start + len - 1;
    let mut at = start;
    loop {
        let mut io = [std::io::IoSliceMut::new(&mut byte)];
        if !matches!(preadv2(file, &mut io, at.min(last), ReadWriteFlags::NOWAIT), Ok(1)) {
            return false;
        }
        if at >= last {
            return true;
        }
        at += 256 << 10;
    }
}

/// Sends `len` bytes of `file` from `start` with non-blocking `sendfile` calls, waiting on the
/// socket's readiness between them; returns the bytes sent (fewer if the file shrank).
async fn sendfile_async(
    file: &std::fs::File,
    start: u64,
    len: u64,
    socket: &tokio::net::TcpStream,
    stall: Duration,
) -> std::io::Result<u64> {
    let end = start + len;
    let mut offset = start;
    while offset < end {
        within(stall, socket.writable()).await?;
        let want = usize::try_from(end - offset).unwrap_or(SENDFILE_CHUNK).min(SENDFILE_CHUNK);
        match socket.try_io(tokio::io::Interest::WRITABLE, || {
            rustix::fs::sendfile(socket, file, Some(&mut offset), want).map_err(Into::into)
        }) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(offset - start)
}

/// Most bytes one `sendfile` call moves.
const SENDFILE_CHUNK: usize = 8 << 20;

/// The `len` bytes of `file` from `start` if the page cache holds them all, without waiting for
/// the disk (`preadv2` with `RWF_NOWAIT`); `None` when it does not, or when the filesystem
/// cannot tell.
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

/// Uploads whose data ends within this many bytes are written by the async worker itself.
pub const SMALL_UPLOAD: usize = 64 << 10;

/// STOR/APPE/STOU on a data connection without TLS. The file is opened as `mode` says, like
/// [`receive_file_while`](super::receive_file_while) (an overwrite goes to a temporary name and
/// replaces the old file when complete, and only if `alive` still says yes then, see
/// [`Upload::commit`](super::upload::Upload::commit)). Returns the bytes written.
///
/// The first [`SMALL_UPLOAD`] bytes are read on the async worker. When the data connection ends
/// within them (a small file), the worker writes the file itself: one write into the page cache
/// costs less than the hand-off to a blocking thread and back, which was most of a small
/// upload's time (bench/, W4), the same trade as RETR's cached path. Otherwise the rest moves
/// on one blocking thread with `splice(2)`, from the socket into a pipe (no copy) and from the
/// pipe into the file (one copy, into the page cache); filesystems that cannot take `splice`
/// get plain reads and writes.
///
/// # Errors
///
/// The I/O error of the open, of the socket (`TimedOut` after `stall` without data) or of the
/// write (e.g. a full disk), `ConnectionAborted` when `alive` says no, or
/// [`error::panicked`].
pub async fn receive_from_socket_while(
    dir: ConfinedDir,
    rel: PathBuf,
    mode: WriteMode,
    mut socket: tokio::net::TcpStream,
    stall: Duration,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> std::io::Result<u64> {
    // Opened first, so a refused name or a full folder is answered without waiting for data.
    // On an error `upload` is dropped, which removes an overwrite's temporary file.
    let (mut file, upload) = start_write(dir.open()?, &rel, mode, dir.spares())?;
    let mut head = Vec::with_capacity(SMALL_UPLOAD);
    let ended = loop {
        if head.len() == SMALL_UPLOAD {
            break false;
        }
        if within(stall, socket.read_buf(&mut head)).await? == 0 {
            break true;
        }
    };
    if ended {
        file.write_all(&head)?;
        drop(file);
        upload.commit(alive, head.len() as u64).await?;
        return Ok(head.len() as u64);
    }
    let socket = blocking_socket(socket, stall)?;
    let (written, upload) = tokio::task::spawn_blocking(move || {
        file.write_all(&head)?;
        let written = head.len() as u64 + splice_into(&socket, &mut file)?;
        Ok::<_, std::io::Error>((written, upload))
    })
    .await
    .map_err(error::panicked)??;
    upload.commit(alive, written).await?;
    Ok(written)
}

/// The copy loop of [`receive_from_socket_while`]: socket to pipe to file until the end of the
/// data; returns the bytes written.
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
            match splice(&pipe_out, None, &*file, None, left.min(WRITE_PIECE), SpliceFlags::MOVE) {
                Ok(m) => left -= m,
                Err(Errno::INTR) => {}
                Err(Errno::INVAL) => {
                    // The filesystem takes no splice: drain the pipe by hand, then copy.
                    let mut buf = vec![0u8; left];
                    std::io::Read::read_exact(&mut std::fs::File::from(pipe_out), &mut buf)?;
                    write_in_pieces(file, &buf)?;
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

/// The read/write loop for [`receive_from_socket_while`] where `splice` is not available; returns
/// `written` plus what it copied.
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
                    write_in_pieces(file, &buf[..n])?;
                    written += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(stalled(e)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::dir::home_at;
    use crate::storage::transfer::tests::{T, W0, receive_from_socket, socket_pair};

    #[tokio::test]
    async fn plain_socket_paths_move_exact_bytes_and_resume() {
        let top = tempfile::tempdir().unwrap();
        let dir = home_at(top.path(), "h");
        for len in [0usize, 1, 4096, SMALL_UPLOAD, SMALL_UPLOAD + 1, CHUNK + 1, 3 * PIPE + 17] {
            let body: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            // Upload: the client writes and closes; the async worker writes a small file, splice
            // moves the rest of a large one.
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
}

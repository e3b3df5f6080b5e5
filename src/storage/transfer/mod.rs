//! RETR and STOR: moving a file's bytes between a [`ConfinedDir`] and the data connection, on
//! the same cap-std handles as every other storage operation (so the same confinement holds:
//! no `..`, absolute path or symlink leaves the folder the handle was opened on).
//!
//! Why not a small `BufReader` over `tokio::fs::File`: that costs one thread-pool hop per
//! read. Two kinds of path avoid it:
//! - Plain (non-TLS, binary) data connections get the socket itself from the engine
//!   ([`send`], [`receive`] with [`Data::Socket`]): on Linux (`linux.rs`) a transfer runs on one
//!   blocking thread from start to end (uploads with `splice(2)`), and a cached download of
//!   up to 4 MiB runs on the async worker without any hop; elsewhere (`portable.rs`) the socket goes
//!   through the stream pipeline. The plain-socket paths carry nearly all of the bench/
//!   figures.
//! - TLS data connections get a stream (`stream.rs`): one blocking task per transfer moves the
//!   file in 1 MiB chunks over a small channel, so a 1 GiB file takes about a thousand
//!   hand-offs instead of 131,072 hops.
//!
//! Every path fails a transfer whose data connection makes no progress for `data_timeout`.
//! The platform choice is made here, once: the rest of storage has no `cfg`.

mod stream;
mod upload;

// The plain-socket paths: Linux's own, or the portable stand-in (also built for tests, so it
// stays tested on Linux).
#[cfg(target_os = "linux")]
mod linux;
#[cfg(any(test, not(target_os = "linux")))]
mod portable;
#[cfg(target_os = "linux")]
use linux as socket;
#[cfg(not(target_os = "linux"))]
use portable as socket;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cap_std::fs::Dir;

pub use stream::{receive_file_while, send_file};

use super::dir::ConfinedDir;
use crate::ftp::{Data, WriteMode};

/// Chunk size: large enough that hand-offs are rare, small enough to keep per-transfer memory
/// at a few MiB.
const CHUNK: usize = 1 << 20;

/// The most one write into a file takes, on every upload path. The write's length sets the size
/// of the page-cache folios the kernel allocates for it, and on a VM whose balloon hands free
/// memory back to the host (free page reporting) the big blocks such folios come from are the
/// ones the host has taken: their first touch is a fault on the host. In 1 GiB uploads
/// alternated on one VM (bench/README.md, W2), writing up to the whole 1 MiB at once had
/// medians of 0.8-1.8 GB/s per batch (single uploads 0.3-2.6); pieces of this size 2.4-2.5,
/// 256 KiB 2.2-2.4, 128 KiB 2.0-2.2 and 64 KiB 1.8 (more calls).
const WRITE_PIECE: usize = 512 << 10;

/// Writes all of `bytes` into `file` in pieces of at most [`WRITE_PIECE`].
fn write_in_pieces(file: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    bytes.chunks(WRITE_PIECE).try_for_each(|piece| file.write_all(piece))
}

/// RETR: sends `rel` (relative to `dir`) from `start` over the data connection `out`, by the
/// fastest path it allows; returns the bytes sent. No progress for `stall` fails the transfer.
///
/// # Errors
///
/// The I/O error of the open or of the transfer (e.g. `BrokenPipe` when the client hangs up,
/// `TimedOut` after `stall` without progress), or [`error::panicked`](super::error::panicked).
pub async fn send(
    dir: ConfinedDir,
    rel: PathBuf,
    start: u64,
    out: Data<'_>,
    stall: Duration,
) -> std::io::Result<u64> {
    match out {
        Data::Socket(socket) => socket::send_file_to_socket(dir, rel, start, socket, stall).await,
        Data::Stream(stream) => send_file(dir, rel, start, stream, stall).await,
    }
}

/// STOR/APPE/STOU: writes what the data connection `input` brings to `rel` (relative to
/// `dir`), opened as `mode` says, by the fastest path it allows; returns the bytes written. An
/// overwrite replaces the old file only when complete and if `alive` still says yes then (see
/// [`Upload`](upload::Upload)). No data for `stall` fails the transfer.
///
/// # Errors
///
/// The I/O error of the open or of the transfer, `ConnectionAborted` when `alive` says no, or
/// [`error::panicked`](super::error::panicked).
pub async fn receive(
    dir: ConfinedDir,
    rel: PathBuf,
    mode: WriteMode,
    input: Data<'_>,
    stall: Duration,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> std::io::Result<u64> {
    match input {
        Data::Socket(socket) => {
            socket::receive_from_socket_while(dir, rel, mode, socket, stall, alive).await
        }
        Data::Stream(stream) => receive_file_while(dir, rel, mode, stream, stall, alive).await,
    }
}

/// Opens `rel` in `dir` for reading, refusing folders (which `open` accepts on Linux and whose
/// reads fail only later, after the client was told the transfer starts); returns the file and
/// its length, from the one `statx` that check needs.
fn open_file(dir: &Dir, rel: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let f = dir.open(rel)?.into_std();
    let meta = f.metadata()?;
    if meta.is_dir() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    Ok((f, meta.len()))
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use tokio::io::{AsyncRead, AsyncWriteExt};

    use super::socket::send_file_to_socket;
    use super::*;
    use crate::storage::dir::home_at;

    /// [`receive_file_while`] for a client that stays to the end.
    pub(super) async fn receive_file<R: AsyncRead + Unpin>(
        dir: ConfinedDir,
        rel: PathBuf,
        mode: WriteMode,
        input: R,
        stall: Duration,
    ) -> std::io::Result<u64> {
        receive_file_while(dir, rel, mode, input, stall, &|| true).await
    }

    /// The plain-socket upload for a client that stays to the end.
    pub(super) async fn receive_from_socket(
        dir: ConfinedDir,
        rel: PathBuf,
        mode: WriteMode,
        input: tokio::net::TcpStream,
        stall: Duration,
    ) -> std::io::Result<u64> {
        socket::receive_from_socket_while(dir, rel, mode, input, stall, &|| true).await
    }

    #[tokio::test]
    async fn round_trips_small_and_large_files_and_resumes() {
        let top = tempfile::tempdir().unwrap();
        let tmp_path = top.path().join("h");
        let dir = home_at(top.path(), "h");
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
    pub(super) const T: Duration = Duration::from_secs(30);

    /// A plain STOR.
    pub(super) const W0: WriteMode = WriteMode::Write { offset: 0 };

    #[tokio::test]
    async fn append_appends_create_new_refuses_and_folders_are_not_files() {
        let top = tempfile::tempdir().unwrap();
        let dir = home_at(top.path(), "h");
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
    pub(super) async fn socket_pair() -> (tokio::net::TcpStream, std::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr));
        let (server, _) = listener.accept().await.unwrap();
        (server, client.await.unwrap().unwrap())
    }

    #[tokio::test]
    async fn stream_paths_time_out_when_the_peer_makes_no_progress() {
        let top = tempfile::tempdir().unwrap();
        let dir = home_at(top.path(), "h");
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
        let dir = home_at(top.path(), "h");
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
    async fn paths_outside_the_directory_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("secret"), b"s").unwrap();
        let dir = home_at(tmp.path(), "home");
        let mut out = Vec::new();
        assert!(send_file(dir.clone(), "../secret".into(), 0, &mut out, T).await.is_err());
        assert!(receive_file(dir, "../planted".into(), W0, &b"x"[..], T).await.is_err());
        assert!(!tmp.path().join("planted").exists());
    }

    #[tokio::test]
    async fn the_portable_socket_paths_move_exact_bytes() {
        let top = tempfile::tempdir().unwrap();
        let dir = home_at(top.path(), "h");
        let body: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let (server, mut client) = socket_pair().await;
        let sent = body.clone();
        let writer = std::thread::spawn(move || client.write_all(&sent));
        let n = portable::receive_from_socket_while(
            dir.clone(),
            "p.bin".into(),
            W0,
            server,
            T,
            &|| true,
        )
        .await
        .unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(n, body.len() as u64);
        assert!(std::fs::read(top.path().join("h/p.bin")).unwrap() == body);
        let (server, mut client) = socket_pair().await;
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).map(|_| got)
        });
        let n = portable::send_file_to_socket(dir, "p.bin".into(), 5, server, T).await.unwrap();
        assert_eq!(n, (body.len() - 5) as u64);
        assert!(reader.join().unwrap().unwrap() == body[5..]);
    }
}

//! Fast transfer paths for RETR and STOR on the same cap-std capability handles as the rest of
//! the storage backend (so the same confinement holds: no `..`, absolute path or symlink leaves
//! the directory the handle was opened on).
//!
//! Why: `unftp_sbe_fs` streams through a 4 KiB `BufReader` over `tokio::fs::File`, which costs
//! one thread-pool hop per 8 KiB read. Here one blocking task per transfer moves the file in
//! 1 MiB chunks and hands them over a small channel, so disk and network overlap, buffers are
//! reused, and a 1 GiB file takes about a thousand hand-offs instead of 131,072 hops.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use cap_std::fs::{Dir, OpenOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Chunk size: large enough that hand-offs are rare, small enough to keep per-transfer memory
/// at a few MiB.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the disk thread and the network side.
const DEPTH: usize = 2;

/// Where an operation runs: the folder `sub` (a user's home) under the shared handle `base`
/// (the homes folder). The home is opened inside each blocking task and closed when it ends,
/// so an idle session holds no file descriptor but its socket; opening costs one `openat`.
/// cap-std confines every path to the opened home, whatever `..` or symlinks it holds.
#[derive(Debug, Clone)]
pub struct Root {
    base: Arc<Dir>,
    sub: String,
}

impl Root {
    /// `sub` under `base`; `sub` is a single validated name (a username).
    pub fn new(base: Arc<Dir>, sub: impl Into<String>) -> Self {
        Self { base, sub: sub.into() }
    }

    /// Opens the folder.
    ///
    /// # Errors
    ///
    /// The I/O error, e.g. `NotFound` for a missing home.
    pub fn open(&self) -> std::io::Result<Dir> {
        self.base.open_dir(&self.sub)
    }
}

fn broken() -> std::io::Error {
    std::io::Error::other("transfer worker stopped")
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

/// Sends `rel` (relative to `dir`) from `start` to `out`; returns the bytes sent.
///
/// # Errors
///
/// The I/O error of the open, read or write that failed.
pub async fn send_file<W>(root: Root, rel: PathBuf, start: u64, out: &mut W) -> std::io::Result<u64>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let (full_tx, mut full_rx) = mpsc::channel::<std::io::Result<(Vec<u8>, usize)>>(DEPTH);
    let (empty_tx, mut empty_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let worker = tokio::task::spawn_blocking(move || {
        let opened =
            root.open().and_then(|dir| dir.open(&rel)).map(cap_std::fs::File::into_std).and_then(
                |mut f| {
                    if start > 0 {
                        f.seek(SeekFrom::Start(start))?;
                    }
                    let len = f.metadata()?.len();
                    Ok((f, len))
                },
            );
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
        out.write_all(&buf[..n]).await?;
        total += n as u64;
        let _ = empty_tx.send(buf);
    }
    drop(empty_tx);
    worker.await.map_err(|_| broken())?;
    Ok(total)
}

/// Writes `input` to `rel` (relative to `dir`), truncating the file at `start` first (REST +
/// STOR resumes there); returns the bytes written.
///
/// # Errors
///
/// The I/O error of the open, read or write that failed.
pub async fn receive_file<R>(
    root: Root,
    rel: PathBuf,
    start: u64,
    mut input: R,
) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
{
    let (full_tx, mut full_rx) = mpsc::channel::<(Vec<u8>, usize)>(DEPTH);
    let (empty_tx, mut empty_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let worker = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut options = OpenOptions::new();
        options.write(true).create(true);
        let mut f = root.open()?.open_with(&rel, &options)?.into_std();
        f.set_len(start)?;
        f.seek(SeekFrom::Start(start))?;
        let mut written = 0u64;
        while let Some((buf, n)) = full_rx.blocking_recv() {
            f.write_all(&buf[..n])?;
            written += n as u64;
            let _ = empty_tx.send(buf);
        }
        Ok(written)
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
            let n = input.read(&mut buf[filled..]).await?;
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
    worker.await.map_err(|_| broken())?
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

/// Opens `rel` for reading from `start`, as a buffered async reader (SITE MD5 uses it; RETR
/// goes through [`send_file`]).
///
/// # Errors
///
/// The I/O error of the open or seek.
pub async fn open_read(
    root: Root,
    rel: PathBuf,
    start: u64,
) -> std::io::Result<tokio::io::BufReader<tokio::fs::File>> {
    let f = with_dir(root, move |d| {
        let mut f = d.open(&rel)?.into_std();
        if start > 0 {
            f.seek(SeekFrom::Start(start))?;
        }
        Ok(f)
    })
    .await?;
    Ok(tokio::io::BufReader::with_capacity(64 << 10, tokio::fs::File::from_std(f)))
}

/// One directory entry with its `lstat` metadata.
pub type Entry = (String, cap_std::fs::Metadata);

/// Lists `rel` (relative to `dir`, `.` for the directory itself) with each entry's metadata,
/// in one blocking task: `unftp_sbe_fs` makes a thread-pool hop per entry, which made LIST of
/// a 10,000-file folder about ten times slower than vsftpd. Entries that vanish while we list
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
        let mut out = Vec::new();
        for entry in target.entries()? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if let Ok(meta) = target.symlink_metadata(&name) {
                out.push((name, meta));
            }
        }
        Ok(out)
    })
    .await
    .map_err(|_| broken())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_small_and_large_files_and_resumes() {
        let top = tempfile::tempdir().unwrap();
        let tmp_path = top.path().join("h");
        std::fs::create_dir(&tmp_path).unwrap();
        let base =
            Arc::new(Dir::open_ambient_dir(top.path(), cap_std::ambient_authority()).unwrap());
        let dir = Root::new(base, "h");
        for len in [0usize, 1, 4096, CHUNK - 1, CHUNK, 3 * CHUNK + 17] {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let n = receive_file(dir.clone(), "f.bin".into(), 0, &body[..]).await.unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(std::fs::read(tmp_path.join("f.bin")).unwrap(), body);
            let mut out = Vec::new();
            let n = send_file(dir.clone(), "f.bin".into(), 0, &mut out).await.unwrap();
            assert_eq!((n, out == body), (len as u64, true), "len {len}");
            if len > 10 {
                let mut tail = Vec::new();
                send_file(dir.clone(), "f.bin".into(), 10, &mut tail).await.unwrap();
                assert!(tail == body[10..]);
                receive_file(dir.clone(), "f.bin".into(), 10, &b"xyz"[..]).await.unwrap();
                let now = std::fs::read(tmp_path.join("f.bin")).unwrap();
                assert!(now[..10] == body[..10] && &now[10..] == b"xyz");
            }
        }
    }

    #[tokio::test]
    async fn list_dir_lists_entries_with_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("h/sub/d")).unwrap();
        std::fs::write(tmp.path().join("h/sub/a.txt"), b"abc").unwrap();
        let dir = Root::new(
            Arc::new(Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap()),
            "h",
        );
        let mut got: Vec<(String, bool, u64)> = list_dir(dir.clone(), "sub".into())
            .await
            .unwrap()
            .into_iter()
            .map(|(n, m)| (n, m.is_dir(), if m.is_dir() { 0 } else { m.len() }))
            .collect();
        got.sort();
        assert_eq!(got, [("a.txt".into(), false, 3), ("d".into(), true, 0)]);
        assert_eq!(list_dir(dir.clone(), ".".into()).await.unwrap().len(), 1);
        assert!(list_dir(dir, "../".into()).await.is_err());
    }

    #[tokio::test]
    async fn paths_outside_the_directory_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("home")).unwrap();
        std::fs::write(tmp.path().join("secret"), b"s").unwrap();
        let dir = Root::new(
            Arc::new(Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap()),
            "home",
        );
        let mut out = Vec::new();
        assert!(send_file(dir.clone(), "../secret".into(), 0, &mut out).await.is_err());
        assert!(receive_file(dir, "../planted".into(), 0, &b"x"[..]).await.is_err());
        assert!(!tmp.path().join("planted").exists());
    }
}

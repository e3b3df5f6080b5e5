//! The portable transfer pipeline, both ways: one blocking task per transfer moves the file in
//! [`CHUNK`]-sized buffers over a small channel to or from the async side, which talks to the
//! client's stream (a TLS data connection, or any connection where the plain-socket paths are
//! not available).

use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::upload::{Upload, start_write};
use super::{CHUNK, open_file, read_full, within, write_in_pieces};
use crate::ftp::WriteMode;
use crate::storage::dir::ConfinedDir;
use crate::storage::error;

/// Chunks in flight between the disk thread and the network side.
const DEPTH: usize = 2;

/// Sends `rel` (relative to `dir`) from `start` to `out`; returns the bytes sent. A chunk the
/// client takes longer than `stall` to accept fails the transfer.
///
/// # Errors
///
/// The I/O error of the open, read or write that failed, or [`error::panicked`].
pub async fn send_file<W>(
    dir: ConfinedDir,
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
        let opened = dir.open().and_then(|dir| open_file(&dir, &rel)).and_then(|(mut f, len)| {
            if start > 0 {
                f.seek(SeekFrom::Start(start))?;
            }
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
    worker.await.map_err(error::panicked)?;
    Ok(total)
}

/// Writes `input` to `rel` (relative to `dir`), opened as `mode` says (after REST, STOR keeps
/// the file up to the offset and resumes there; an overwrite replaces the old file only when
/// complete, see [`Upload`]); returns the bytes written. No data for `stall` fails the
/// transfer. An old file is replaced only if `alive` still says yes at the end (see
/// [`Upload::commit`]).
///
/// # Errors
///
/// The I/O error of the open, read or write that failed, `ConnectionAborted` when `alive`
/// says no, or [`error::panicked`].
pub async fn receive_file_while<R>(
    dir: ConfinedDir,
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
        let (mut f, upload) = start_write(dir.open()?, &rel, mode, dir.spares())?;
        let mut written = 0u64;
        while let Some((buf, n)) = full_rx.blocking_recv() {
            write_in_pieces(&mut f, &buf[..n])?;
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
    let (written, upload) = worker.await.map_err(error::panicked)??;
    upload.commit(alive, written).await?;
    Ok(written)
}

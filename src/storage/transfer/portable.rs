//! The plain-socket transfer paths where the Linux ones are not available: the socket is
//! served like any other stream, through the portable pipeline. Compiled on other platforms,
//! and in tests everywhere, so the fallback stays tested on Linux too.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::{receive_file_while, send_file};
use crate::ftp::WriteMode;
use crate::storage::dir::ConfinedDir;

/// RETR on a data connection without TLS: [`send_file`], then the sending side is closed
/// (RFC 959 3.3: closing the data connection marks the end of the file). Returns the bytes
/// sent from `start`.
///
/// # Errors
///
/// As [`send_file`].
pub async fn send_file_to_socket(
    dir: ConfinedDir,
    rel: PathBuf,
    start: u64,
    mut socket: tokio::net::TcpStream,
    stall: Duration,
) -> std::io::Result<u64> {
    let sent = send_file(dir, rel, start, &mut socket, stall).await?;
    let _ = socket.shutdown().await;
    Ok(sent)
}

/// STOR/APPE/STOU on a data connection without TLS: [`receive_file_while`] on the socket.
///
/// # Errors
///
/// As [`receive_file_while`].
pub async fn receive_from_socket_while(
    dir: ConfinedDir,
    rel: PathBuf,
    mode: WriteMode,
    socket: tokio::net::TcpStream,
    stall: Duration,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> std::io::Result<u64> {
    receive_file_while(dir, rel, mode, socket, stall, alive).await
}

//! What every data transfer command shares: taking the REST offset and the pending data
//! connection, opening it (150, then TLS under PROT P), watching the control connection while
//! the transfer runs, moving a file's bytes, and the closing replies. The commands themselves
//! are in [`retr`](super::retr), [`store`](super::store) and [`list`](super::list).
//!
//! Every transfer command takes the pending data connection and clears REST, whatever its
//! outcome; a command that finds no data connection set up answers 425 at once, and one whose
//! connection does not arrive within `data_timeout` answers 425 then. While a transfer runs,
//! the control connection is still read: ABOR ends the transfer with 426 and then 226 (RFC 959
//! 4.1.3), any other command waits until the transfer's reply is sent.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::super::ascii::Ascii;
use super::super::codec::Line;
use super::super::command::{self, Command};
use super::super::server::Stats;
use super::super::session::{Flow, Pending, Session};
use super::super::{
    Backend, Data, Direction, ErrorKind, Reply, Storage, StorageResult, TlsPolicy, WriteMode, tls,
};
use super::files::error_reply;

/// An open data connection.
pub(crate) enum DataConn {
    /// Clear.
    Plain(TcpStream),
    /// Protected (PROT P).
    Tls(Box<TlsStream<TcpStream>>),
}

/// Counts a running transfer in the server's stats.
struct Running(Arc<Stats>);

impl Running {
    fn start(stats: &Arc<Stats>) -> Self {
        stats.transfers.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(stats))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.transfers.fetch_sub(1, Ordering::Relaxed);
        self.0.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which way a file transfer goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    /// RETR from `offset`.
    Retrieve { offset: u64 },
    /// STOR, APPE, STOU.
    Store { mode: WriteMode },
}

impl<B: Backend> Session<B> {
    /// The start of every transfer command: takes the REST offset and the user's storage. Not
    /// logged in: answers 530 and gives `None`.
    pub(super) async fn begin_transfer(
        &mut self,
        verb: &str,
    ) -> std::io::Result<Option<(Arc<B::Storage>, u64)>> {
        let offset = std::mem::take(&mut self.rest);
        let Some(storage) = self.storage() else {
            self.answer(verb, super::files::not_logged_in()).await?;
            return Ok(None);
        };
        Ok(Some((storage, offset)))
    }

    /// Answers a transfer command refused before its data connection is opened, which it
    /// uses up all the same.
    pub(super) async fn refuse_transfer(
        &mut self,
        verb: &str,
        reply: Reply,
    ) -> std::io::Result<Flow> {
        self.pending = None;
        self.answer(verb, reply).await?;
        Ok(Flow::Continue)
    }

    /// Opens the data connection and sends `opening` (150), then the TLS handshake under
    /// PROT P. When that fails the command is answered with the reason and `None` returned.
    pub(super) async fn connect_data(
        &mut self,
        verb: &str,
        opening: Reply,
    ) -> std::io::Result<Option<DataConn>> {
        let tcp = match self.open_data().await {
            Ok(c) => c,
            Err(r) => {
                self.answer(verb, r).await?;
                return Ok(None);
            }
        };
        match self.start_data(tcp, opening).await? {
            Ok(c) => Ok(Some(c)),
            Err(r) => {
                self.answer(verb, r).await?;
                Ok(None)
            }
        }
    }

    /// Opens the TCP connection set up by PASV/EPSV/PORT/EPRT. TLS comes after the 150
    /// reply ([`Session::start_data`]): clients such as Python's ftplib start the handshake
    /// only once they have read it.
    async fn open_data(&mut self) -> Result<TcpStream, Reply> {
        let Some(pending) = self.pending.take() else {
            return Err(Reply::new(425, "No data connection: send PASV, EPSV, PORT or EPRT first"));
        };
        if !self.protect_data && self.shared.options.tls_policy == TlsPolicy::All {
            // RFC 4217 section 9: the server's policy requires protected data connections.
            return Err(Reply::new(
                521,
                "Data connections must be protected: send PBSZ 0 and PROT P",
            ));
        }
        let timeout = self.data_timeout();
        let tcp = match pending {
            Pending::Passive(listener) => {
                match listener.accept(self.expected_data_peer(), timeout).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::info!(session = self.client.session, cause = %e, "no passive data connection");
                        return Err(Reply::new(425, "No data connection arrived in time"));
                    }
                }
            }
            Pending::Active(target) => {
                match super::super::data::connect_active(self.client.local.ip(), target, timeout)
                    .await
                {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::info!(session = self.client.session, %target, cause = %e, "active data connection failed");
                        return Err(Reply::new(425, "Cannot open the data connection"));
                    }
                }
            }
        };
        Ok(tcp)
    }

    /// Sends the 150 reply, then (under PROT P) the TLS handshake on the data connection.
    async fn start_data(
        &mut self,
        tcp: TcpStream,
        opening: Reply,
    ) -> std::io::Result<Result<DataConn, Reply>> {
        self.send(&opening).await?;
        super::super::data::prepare(&tcp, self.protect_data);
        if !self.protect_data {
            return Ok(Ok(DataConn::Plain(tcp)));
        }
        let Some(tls) = self.shared.options.tls.clone() else {
            return Ok(Err(Reply::new(425, "TLS is not configured")));
        };
        let reuse = self.shared.options.require_tls_session_reuse;
        match tls.accept_data(tcp, self.data_timeout(), reuse).await {
            Ok(s) => Ok(Ok(DataConn::Tls(Box::new(s)))),
            Err(e) => {
                tracing::warn!(session = self.client.session, cause = %e, "TLS on a data connection failed");
                let text = if reuse {
                    "TLS on the data connection failed (this server requires the control \
                     connection's TLS session to be reused)"
                } else {
                    "TLS on the data connection failed"
                };
                Ok(Err(Reply::new(425, text)))
            }
        }
    }

    /// Runs `transfer` while watching the control connection for ABOR. `None`: aborted.
    pub(super) async fn watch<F, T>(&mut self, transfer: F) -> std::io::Result<Option<T>>
    where
        F: std::future::Future<Output = T>,
    {
        tokio::pin!(transfer);
        loop {
            let reading = self.queued.len() < super::super::session::QUEUE;
            tokio::select! {
                biased;
                done = &mut transfer => return Ok(Some(done)),
                line = self.reader.read_line(&mut self.control), if reading => match line? {
                    None => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Some(Line::Command(bytes)) if matches!(command::parse(&bytes), Ok(Command::Abor)) => {
                        return Ok(None);
                    }
                    Some(other) => {
                        if let Line::Command(bytes) = &other
                            && matches!(command::parse(bytes), Ok(Command::Quit))
                        {
                            self.quit_queued.store(true, Ordering::Relaxed);
                        }
                        self.queued.push_back(other);
                    }
                },
            }
        }
    }

    /// Moves one file over `conn` (RETR, or STOR/APPE/STOU), counted as a running transfer
    /// and watched for ABOR, then sends the closing replies. `alive` is what storage asks
    /// before an upload replaces a file.
    pub(super) async fn transfer_file<A>(
        &mut self,
        verb: &str,
        storage: Arc<B::Storage>,
        path: String,
        op: Op,
        conn: DataConn,
        alive: A,
    ) -> std::io::Result<Flow>
    where
        A: Fn() -> bool + Send + Sync + 'static,
    {
        let started = Instant::now();
        let running = Running::start(&self.shared.stats);
        let ascii = self.ascii;
        let target = path.clone();
        let outcome = self
            .watch(async move {
                let _running = running;
                move_data(&*storage, &target, op, conn, ascii, &alive).await
            })
            .await?;
        let direction = match op {
            Op::Retrieve { .. } => Direction::Download,
            Op::Store { .. } => Direction::Upload,
        };
        self.finish(verb, &path, Some(direction), started, outcome).await
    }

    /// Sends the replies of an ended transfer; `started` for the event.
    pub(super) async fn finish(
        &mut self,
        verb: &str,
        path: &str,
        direction: Option<Direction>,
        started: Instant,
        outcome: Option<StorageResult<u64>>,
    ) -> std::io::Result<Flow> {
        let (bytes, ok) = match &outcome {
            Some(Ok(n)) => (*n, true),
            _ => (0, false),
        };
        if let Some(d) = direction {
            self.transfer_event(path, d, bytes, started, ok);
        }
        match outcome {
            None => {
                self.send(&Reply::new(426, "Transfer aborted: data connection closed")).await?;
                self.answer("ABOR", Reply::new(226, "ABOR successful")).await?;
            }
            Some(Ok(_)) => self.answer(verb, Reply::new(226, "Transfer complete")).await?,
            Some(Err(e)) => {
                tracing::info!(session = self.client.session, %verb, path, cause = %e, "transfer failed");
                let reply = match e.kind {
                    ErrorKind::ConnectionLost => {
                        Reply::new(426, format!("Transfer aborted: {}", e.message))
                    }
                    _ => error_reply(&e),
                };
                self.answer(verb, reply).await?;
            }
        }
        Ok(Flow::Continue)
    }
}

/// Moves one file over `conn`: a plain binary connection goes to storage as a socket (its
/// fast paths), anything else as a stream, through [`Ascii`] under `TYPE A`; a TLS connection
/// is closed with close_notify both ways (RFC 4217: Python's storbinary waits for
/// ours after an upload).
async fn move_data<S: Storage>(
    storage: &S,
    path: &str,
    op: Op,
    conn: DataConn,
    ascii: bool,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> StorageResult<u64> {
    async fn run<S: Storage>(
        storage: &S,
        path: &str,
        op: Op,
        data: Data<'_>,
        alive: &(dyn Fn() -> bool + Send + Sync),
    ) -> StorageResult<u64> {
        match op {
            Op::Retrieve { offset } => storage.retrieve(path, offset, data).await,
            Op::Store { mode } => storage.store(path, mode, data, alive).await,
        }
    }
    match conn {
        DataConn::Plain(tcp) if !ascii => run(storage, path, op, Data::Socket(tcp), alive).await,
        DataConn::Plain(tcp) => {
            let mut s = Ascii::new(tcp);
            let n = run(storage, path, op, Data::Stream(&mut s), alive).await?;
            s.shutdown().await?;
            Ok(n)
        }
        DataConn::Tls(mut s) => {
            let n = if ascii {
                let mut a = Ascii::new(&mut *s);
                let n = run(storage, path, op, Data::Stream(&mut a), alive).await?;
                a.flush().await?;
                n
            } else {
                run(storage, path, op, Data::Stream(&mut *s), alive).await?
            };
            close_tls(&mut s, matches!(op, Op::Retrieve { .. })).await?;
            Ok(n)
        }
    }
}

/// How long the end of a TLS data connection waits for the client's close_notify.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends a TLS data connection: our close_notify, then (at most [`CLOSE_WAIT`]) the client's.
/// After a download (or listing) everything is sent, so a client that waits for the 226
/// before closing has its data all the same; after an upload a missing close_notify fails.
pub(super) async fn close_tls(s: &mut TlsStream<TcpStream>, download: bool) -> std::io::Result<()> {
    match tls::close_data(s, CLOSE_WAIT).await {
        Err(e) if download && e.kind() == std::io::ErrorKind::TimedOut => {
            tracing::debug!("client did not close the TLS data connection in time");
            Ok(())
        }
        other => other,
    }
}

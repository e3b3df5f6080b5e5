//! Data transfer commands: RETR, STOR, STOU, APPE, LIST, NLST (RFC 959 4.1.3), MLSD (RFC
//! 3659 section 7) and HASH (draft-bryan-ftpext-hash), which reads a file without a data
//! connection.
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
use super::super::hash::Hasher;
use super::super::listing::{self, Dates};
use super::super::server::Stats;
use super::super::session::{Control, Flow, Pending, Session};
use super::super::{
    Backend, Data, Direction, Entry, ErrorKind, FileKind, Reply, Storage, StorageError,
    StorageResult, TlsPolicy, WriteMode, tls,
};
use super::files::error_reply;
use super::{ListKind, StoreKind};

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
    }
}

/// Listings longer than this are formatted on a blocking thread.
const BIG_LISTING: usize = 2000;

impl<B: Backend> Session<B> {
    /// Opens the TCP connection set up by PASV/EPSV/PORT/EPRT. TLS comes after the 150
    /// reply ([`Session::secure`]): clients such as Python's ftplib start the handshake only
    /// once they have read it.
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
        if !self.protect_data {
            return Ok(Ok(DataConn::Plain(tcp)));
        }
        let Some(tls) = self.shared.options.tls.clone() else {
            return Ok(Err(Reply::new(425, "TLS is not configured")));
        };
        super::super::data::tune(&tcp);
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

    /// Whether the client is still there, asked by storage before an upload replaces a file:
    /// its control connection must not be closed, unless it sent QUIT first (then the
    /// transfer completes, RFC 959 4.1.1). Checked on a duplicate of the control socket
    /// (`MSG_PEEK`), so it sees a close the session has not read yet.
    fn client_alive(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let probe = match &self.control {
            Control::Plain(t) => socket2::SockRef::from(t).try_clone().ok(),
            Control::Tls(s) => socket2::SockRef::from(s.get_ref().0).try_clone().ok(),
            Control::Switching => None,
        };
        self.quit_queued.store(false, Ordering::Relaxed);
        let quit = Arc::clone(&self.quit_queued);
        move || {
            let Some(probe) = &probe else { return true };
            let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
            match probe.peek(&mut byte) {
                Ok(0) => quit.load(Ordering::Relaxed),
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            }
        }
    }

    /// Runs `transfer` while watching the control connection for ABOR. `None`: aborted.
    async fn watch<F, T>(&mut self, transfer: F) -> std::io::Result<Option<T>>
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

    /// Sends the replies of an ended transfer; `started` for the event.
    async fn finish(
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

    /// RETR (RFC 959 4.1.3), from the REST offset.
    pub(super) async fn retr(&mut self, arg: &str) -> std::io::Result<Flow> {
        let offset = std::mem::take(&mut self.rest);
        let Some(storage) = self.storage() else {
            self.answer("RETR", super::files::not_logged_in()).await?;
            return Ok(Flow::Continue);
        };
        let path = self.resolve(arg);
        let meta = match storage.stat(&path).await {
            Ok(m) if m.kind == FileKind::Dir => Err(Reply::new(550, "Not a plain file")),
            Ok(m) => Ok(m),
            Err(e) => Err(error_reply(&e)),
        };
        let meta = match meta {
            Ok(m) => m,
            Err(r) => {
                self.pending = None;
                self.answer("RETR", r).await?;
                return Ok(Flow::Continue);
            }
        };
        let tcp = match self.open_data().await {
            Ok(c) => c,
            Err(r) => {
                self.answer("RETR", r).await?;
                return Ok(Flow::Continue);
            }
        };
        let mode = if self.ascii { "ASCII" } else { "BINARY" };
        let name = super::super::path::file_name(&path).to_string();
        let opening = Reply::new(
            150,
            format!("Opening {mode} mode data connection for {name} ({} bytes)", meta.len),
        );
        let conn = match self.start_data(tcp, opening).await? {
            Ok(c) => c,
            Err(r) => {
                self.answer("RETR", r).await?;
                return Ok(Flow::Continue);
            }
        };
        let started = Instant::now();
        let running = Running::start(&self.shared.stats);
        let ascii = self.ascii;
        let target = path.clone();
        let op = Op::Retrieve { offset };
        let outcome = self
            .watch(async move {
                let _running = running;
                move_data(&*storage, &target, op, conn, ascii, &|| true).await
            })
            .await?;
        self.finish("RETR", &path, Some(Direction::Download), started, outcome).await
    }

    /// STOR, APPE and STOU (RFC 959 4.1.3; REST before STOR per RFC 3659 section 5).
    pub(super) async fn store_cmd(
        &mut self,
        verb: &'static str,
        arg: Option<String>,
        kind: StoreKind,
    ) -> std::io::Result<Flow> {
        let offset = std::mem::take(&mut self.rest);
        let Some(storage) = self.storage() else {
            self.answer(verb, super::files::not_logged_in()).await?;
            return Ok(Flow::Continue);
        };
        let (path, mode) = match kind {
            StoreKind::Stor => {
                (self.resolve(arg.as_deref().unwrap_or("")), WriteMode::Write { offset })
            }
            StoreKind::Appe => (self.resolve(arg.as_deref().unwrap_or("")), WriteMode::Append),
            StoreKind::Stou => match self.unique_name(&*storage, arg.as_deref()).await {
                Some(p) => (p, WriteMode::CreateNew),
                None => {
                    self.pending = None;
                    self.answer(verb, Reply::new(553, "Could not find a unique file name")).await?;
                    return Ok(Flow::Continue);
                }
            },
        };
        if path == "/" {
            self.pending = None;
            self.answer(verb, Reply::new(553, "Not a file name")).await?;
            return Ok(Flow::Continue);
        }
        if let Ok(m) = storage.stat(&path).await
            && m.is_dir()
        {
            self.pending = None;
            self.answer(verb, Reply::new(550, "A folder has that name")).await?;
            return Ok(Flow::Continue);
        }
        let tcp = match self.open_data().await {
            Ok(c) => c,
            Err(r) => {
                self.answer(verb, r).await?;
                return Ok(Flow::Continue);
            }
        };
        let name = super::super::path::file_name(&path).to_string();
        let opening = if kind == StoreKind::Stou {
            // RFC 1123 4.1.2.9: the reply names the file.
            Reply::new(150, format!("FILE: {name}"))
        } else {
            Reply::new(150, format!("Ok to send data for {name}"))
        };
        let conn = match self.start_data(tcp, opening).await? {
            Ok(c) => c,
            Err(r) => {
                self.answer(verb, r).await?;
                return Ok(Flow::Continue);
            }
        };
        let started = Instant::now();
        let running = Running::start(&self.shared.stats);
        let ascii = self.ascii;
        let target = path.clone();
        let op = Op::Store { mode };
        let alive = self.client_alive();
        let outcome = self
            .watch(async move {
                let _running = running;
                move_data(&*storage, &target, op, conn, ascii, &alive).await
            })
            .await?;
        self.finish(verb, &path, Some(Direction::Upload), started, outcome).await
    }

    /// A free name for STOU: the argument (or `file`) with a numeric suffix if taken.
    async fn unique_name(&self, storage: &B::Storage, arg: Option<&str>) -> Option<String> {
        let base = self.resolve(arg.filter(|a| !a.is_empty()).unwrap_or("file"));
        if storage.stat(&base).await.is_err() {
            return Some(base);
        }
        for n in 1..1000u32 {
            let candidate = format!("{base}.{n}");
            if storage.stat(&candidate).await.is_err() {
                return Some(candidate);
            }
        }
        None
    }

    /// LIST, NLST and MLSD.
    pub(super) async fn listing(
        &mut self,
        verb: &'static str,
        arg: Option<String>,
        kind: ListKind,
    ) -> std::io::Result<Flow> {
        self.rest = 0;
        let Some(storage) = self.storage() else {
            self.answer(verb, super::files::not_logged_in()).await?;
            return Ok(Flow::Continue);
        };
        let path = match arg.as_deref() {
            Some(a) => self.resolve(a),
            None => self.cwd.clone(),
        };
        let entries = match self.entries(&*storage, &path, kind).await {
            Ok(e) => e,
            Err(r) => {
                self.pending = None;
                self.answer(verb, r).await?;
                return Ok(Flow::Continue);
            }
        };
        let facts = self.facts;
        let text = if entries.len() > BIG_LISTING {
            tokio::task::spawn_blocking(move || format_listing(&entries, kind, facts))
                .await
                .map_err(|_| std::io::Error::other("listing task failed"))?
        } else {
            format_listing(&entries, kind, facts)
        };
        let tcp = match self.open_data().await {
            Ok(c) => c,
            Err(r) => {
                self.answer(verb, r).await?;
                return Ok(Flow::Continue);
            }
        };
        let opening = Reply::new(150, "Here comes the directory listing");
        let conn = match self.start_data(tcp, opening).await? {
            Ok(c) => c,
            Err(r) => {
                self.answer(verb, r).await?;
                return Ok(Flow::Continue);
            }
        };
        let started = Instant::now();
        let timeout = self.data_timeout();
        let outcome = self
            .watch(async move {
                let sent = async {
                    match conn {
                        DataConn::Plain(mut tcp) => {
                            tcp.write_all(&text).await?;
                            tcp.shutdown().await?;
                        }
                        DataConn::Tls(mut s) => {
                            s.write_all(&text).await?;
                            close_tls(&mut s, true).await?;
                        }
                    }
                    Ok::<u64, std::io::Error>(text.len() as u64)
                };
                match tokio::time::timeout(timeout, sent).await {
                    Ok(r) => r.map_err(StorageError::from),
                    Err(_) => {
                        Err(StorageError::new(ErrorKind::ConnectionLost, "data connection stalled"))
                    }
                }
            })
            .await?;
        self.finish(verb, &path, None, started, outcome).await
    }

    /// The entries a listing shows: a folder's content, or the one file named.
    async fn entries(
        &self,
        storage: &B::Storage,
        path: &str,
        kind: ListKind,
    ) -> Result<Vec<Entry>, Reply> {
        let meta = storage.stat(path).await.map_err(|e| error_reply(&e))?;
        if !meta.is_dir() {
            if kind == ListKind::Mlsd {
                // RFC 3659 7.1: MLSD of a file is an error; MLST describes one entry.
                return Err(Reply::new(501, "Not a folder: use MLST for a file"));
            }
            let name = super::super::path::file_name(path).to_string();
            return Ok(vec![Entry { name, meta }]);
        }
        let mut entries = storage.list(path).await.map_err(|e| error_reply(&e))?;
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// HASH (draft-bryan-ftpext-hash-02 section 3): the digest of a file or of the RANG range.
    pub(super) async fn hash(&mut self, arg: &str) -> Reply {
        let range = self.range.take();
        let Some(storage) = self.storage() else { return super::files::not_logged_in() };
        let path = self.resolve(arg);
        let meta = match storage.stat(&path).await {
            Ok(m) if m.is_dir() => return Reply::new(550, "Not a plain file"),
            Ok(m) => m,
            Err(e) => return error_reply(&e),
        };
        let (start, end) = match range {
            Some((s, e)) => (s, e.min(meta.len.saturating_sub(1))),
            None => (0, meta.len.saturating_sub(1)),
        };
        let limit = if meta.len == 0 { 0 } else { end.saturating_sub(start) + 1 };
        let mut hasher = Hasher::new(self.hash_algo, Some(limit));
        if limit > 0
            && let Err(e) = storage.retrieve(&path, start, Data::Stream(&mut hasher)).await
        {
            return error_reply(&e);
        }
        let digest = hasher.finish();
        Reply::new(
            213,
            format!(
                "{} {start}-{end} {digest} {}",
                self.hash_algo.name(),
                super::super::reply::clean(&path)
            ),
        )
    }
}

/// Which way a file transfer goes.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// RETR from `offset`.
    Retrieve { offset: u64 },
    /// STOR, APPE, STOU.
    Store { mode: WriteMode },
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

/// Formats a listing for the data connection.
fn format_listing(entries: &[Entry], kind: ListKind, facts: listing::Facts) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * if kind == ListKind::Nlst { 24 } else { 80 });
    let mut dates = Dates::new();
    for e in entries {
        match kind {
            ListKind::List => listing::list_line(&mut out, &e.name, &e.meta, &mut dates),
            ListKind::Nlst => listing::nlst_line(&mut out, &e.name),
            ListKind::Mlsd => listing::mlsx_line(&mut out, &e.name, &e.meta, facts, None),
        }
    }
    out
}

/// How long the end of a TLS data connection waits for the client's close_notify.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends a TLS data connection: our close_notify, then (at most [`CLOSE_WAIT`]) the client's.
/// After a download (or listing) everything is sent, so a client that waits for the 226
/// before closing has its data all the same; after an upload a missing close_notify fails.
async fn close_tls(s: &mut TlsStream<TcpStream>, download: bool) -> std::io::Result<()> {
    match tls::close_data(s, CLOSE_WAIT).await {
        Err(e) if download && e.kind() == std::io::ErrorKind::TimedOut => {
            tracing::debug!("client did not close the TLS data connection in time");
            Ok(())
        }
        other => other,
    }
}

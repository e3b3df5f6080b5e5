//! One control connection, from the greeting to the end: one task, no task hop per command.
//! `run` reads lines with the [`codec`](super::codec), parses them with
//! [`command`] and dispatches to the handlers in `cmd/`; every line gets a
//! reply (RFC 959 section 5.4), none ends the session except QUIT, an idle timeout, a
//! shutdown or a lost connection. Whatever ends a logged-in session, the backend hears
//! `LoggedOut` exactly once (the `Presence` guard sends it on drop).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::codec::{Line, LineReader};
use super::command::{self, Command};
use super::control::Control;
use super::data::{PassiveListener, PortPool};
use super::guard::LoginGuard;
use super::hash::Algo;
use super::listing::Facts;
use super::server::Stats;
use super::{Backend, Client, Event, LOGIN_LINE_LIMIT, Options, Reply};

/// Most command lines kept while a transfer runs; past that the control connection is not
/// read until the transfer ends (an ABOR behind them then waits for it).
pub(crate) const QUEUE: usize = 16;

/// What every session shares: set up once by the server.
pub(crate) struct Shared<B: Backend> {
    pub backend: Arc<B>,
    pub options: Arc<Options>,
    pub stats: Arc<Stats>,
    pub ports: Arc<PortPool>,
    /// The failed-logins policy, when on.
    pub guard: Option<Arc<dyn LoginGuard>>,
    /// Becomes `true` when the server begins to shut down.
    pub shutdown: watch::Receiver<bool>,
}

/// Sends `LoggedOut` when a logged-in session ends, however it ends.
pub(crate) struct Presence<B: Backend> {
    pub backend: Arc<B>,
    pub stats: Arc<Stats>,
    pub client: Client,
    pub user: String,
}

impl<B: Backend> Drop for Presence<B> {
    fn drop(&mut self) {
        self.stats.sessions.fetch_sub(1, Ordering::Relaxed);
        self.backend.event(Event::LoggedOut { client: &self.client, user: &self.user });
    }
}

/// A logged-in user with their storage.
pub(crate) struct LoggedIn<B: Backend> {
    pub user: B::User,
    pub storage: Arc<B::Storage>,
    /// Held for its `Drop`.
    pub _presence: Presence<B>,
}

/// Where the session is in the login sequence.
pub(crate) enum Login<B: Backend> {
    /// Nothing yet.
    Fresh,
    /// USER given, waiting for PASS.
    User(String),
    /// Logged in.
    Done(Box<LoggedIn<B>>),
}

/// How the next transfer's data connection is made.
pub(crate) enum Pending {
    /// PASV/EPSV: a listener waits for the client.
    Passive(PassiveListener),
    /// PORT/EPRT: we connect to the client.
    Active(SocketAddr),
}

/// What the loop should do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection (the reply is sent).
    Close,
}

/// One control connection's state.
pub(crate) struct Session<B: Backend> {
    pub shared: Arc<Shared<B>>,
    pub control: Control,
    pub reader: LineReader,
    pub client: Client,
    /// The TCP peer of the control connection (the proxy's address in PROXY mode).
    pub peer: SocketAddr,
    pub login: Login<B>,
    /// Working directory: absolute and normalised.
    pub cwd: String,
    /// REST offset for the next transfer command, cleared by every transfer command.
    pub rest: u64,
    /// RNFR source, for the next command only.
    pub rename_from: Option<String>,
    /// TYPE A in force.
    pub ascii: bool,
    /// PBSZ was given (RFC 4217 section 8: before PROT).
    pub pbsz: bool,
    /// PROT P in force.
    pub protect_data: bool,
    /// EPSV ALL was given (RFC 2428 section 4).
    pub epsv_all: bool,
    pub pending: Option<Pending>,
    pub facts: Facts,
    pub hash_algo: Algo,
    /// RANG for the next HASH.
    pub range: Option<(u64, u64)>,
    /// QUIT is among the lines queued during the running upload (its end then counts even
    /// if the control connection closes right after).
    pub quit_queued: Arc<std::sync::atomic::AtomicBool>,
    /// Lines that arrived during a transfer, to run after it (at most [`QUEUE`]).
    pub queued: std::collections::VecDeque<Line>,
}

impl<B: Backend> Session<B> {
    /// The time limit for a data connection to arrive or make progress.
    pub fn data_timeout(&self) -> Duration {
        self.shared.options.data_timeout
    }

    /// The logged-in user, if any.
    pub fn logged_in(&self) -> Option<&LoggedIn<B>> {
        match &self.login {
            Login::Done(l) => Some(l),
            _ => None,
        }
    }

    /// The client address data connections must come from (the control peer's), unless the
    /// check is off or a proxy stands between.
    pub fn expected_data_peer(&self) -> Option<IpAddr> {
        let o = &self.shared.options;
        if !o.data_peer_check {
            return None;
        }
        if o.proxy_protocol {
            // Behind a proxy, data connections come from the client itself (passive ports
            // reachable directly) or from the proxy: either is fine.
            return None;
        }
        Some(self.peer.ip())
    }

    /// Resolves a path argument against the working directory.
    pub fn resolve(&self, arg: &str) -> String {
        super::path::resolve(&self.cwd, arg)
    }

    /// Sends one reply and reports it.
    pub async fn send(&mut self, reply: &Reply) -> std::io::Result<()> {
        self.control.write_all(reply.encode().as_bytes()).await?;
        self.control.flush().await
    }

    /// Sends a reply and notes the command it answered.
    pub async fn answer(&mut self, verb: &str, reply: Reply) -> std::io::Result<()> {
        self.send(&reply).await?;
        self.shared.backend.event(Event::Command { verb, code: reply.code });
        Ok(())
    }
}

impl<B: Backend> Session<B> {
    /// A session that just connected (before the greeting).
    pub fn new(shared: Arc<Shared<B>>, control: Control, client: Client, peer: SocketAddr) -> Self {
        Session {
            shared,
            control,
            reader: LineReader::new(LOGIN_LINE_LIMIT),
            client,
            peer,
            login: Login::Fresh,
            cwd: "/".to_string(),
            rest: 0,
            rename_from: None,
            ascii: false,
            pbsz: false,
            protect_data: false,
            epsv_all: false,
            pending: None,
            facts: Facts::default(),
            hash_algo: Algo::Sha256,
            range: None,
            quit_queued: Arc::default(),
            queued: std::collections::VecDeque::new(),
        }
    }

    /// Runs the session until it ends: greeting, commands, close.
    ///
    /// Borrows a session built by [`Session::new`] rather than taking its parts (or the
    /// session itself): an async fn keeps the slots of its arguments for its whole life even
    /// once they are moved, which made every idle session's task larger (bench/ W7).
    pub async fn run(&mut self) {
        let greeting = Reply::new(220, self.shared.options.greeting.clone());
        if self.send(&greeting).await.is_err() {
            return;
        }
        if let Err(e) = self.serve().await {
            tracing::debug!(session = self.client.session, cause = %e, "control connection ended");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.control.shutdown()).await;
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let idle = self.shared.options.idle_timeout;
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                self.send(&Reply::new(421, "Server shutting down, closing control connection"))
                    .await?;
                return Ok(());
            }
            let line = match self.queued.pop_front() {
                Some(l) => l,
                None => {
                    let read = tokio::time::timeout(idle, self.reader.read_line(&mut self.control));
                    tokio::select! {
                        r = read => match r {
                            Err(_) => {
                                let text = format!(
                                    "Idle timeout ({} s): closing control connection",
                                    idle.as_secs()
                                );
                                self.send(&Reply::new(421, text)).await?;
                                return Ok(());
                            }
                            Ok(Ok(Some(l))) => l,
                            Ok(Ok(None)) => return Ok(()),
                            Ok(Err(e)) => return Err(e),
                        },
                        _ = shutdown.changed() => continue,
                    }
                }
            };
            // Boxed: a command's state (its dispatch, replies, the account check) lives on
            // the heap while it runs, and an idle session's task holds only the line reading
            // (bench/ W7: memory per idle session).
            if Box::pin(self.line(line)).await? == Flow::Close {
                return Ok(());
            }
        }
    }

    /// Answers one line: a too-long or unparseable line gets its 500/501, a command is checked
    /// against the login state and dispatched.
    async fn line(&mut self, line: Line) -> std::io::Result<Flow> {
        let bytes = match line {
            Line::TooLong => {
                let limit = self.reader_limit();
                self.answer("-", Reply::new(500, format!("Line too long (limit {limit} bytes)")))
                    .await?;
                return Ok(Flow::Continue);
            }
            Line::Command(b) => b,
        };
        if bytes.is_empty() {
            // RFC 959 has no empty command; answer and go on.
            self.answer("-", Reply::new(500, "Empty command line")).await?;
            return Ok(Flow::Continue);
        }
        let command = match command::parse(&bytes) {
            Ok(c) => c,
            Err(e) => {
                self.answer("-", e.reply()).await?;
                return Ok(Flow::Continue);
            }
        };
        let verb = command.verb();
        if let Some(l) = self.logged_in() {
            // An account disabled or deleted since login loses the session at once.
            if !self.shared.backend.still_allowed(&l.user).await {
                let name = B::name(&l.user).to_string();
                tracing::info!(session = self.client.session, user = %name, "account no longer allowed: closing");
                self.answer(verb, Reply::new(530, "Account disabled or deleted: closing")).await?;
                return Ok(Flow::Close);
            }
        } else if !allowed_before_login(&command) {
            self.answer(verb, Reply::new(530, "Please log in with USER and PASS first")).await?;
            return Ok(Flow::Continue);
        }
        // RNFR applies to the very next command only (RFC 959 4.1.3).
        if !matches!(command, Command::Rnto(_)) {
            self.rename_from = None;
        }
        self.dispatch(command).await
    }

    fn reader_limit(&self) -> usize {
        if self.logged_in().is_some() { self.shared.options.line_limit } else { LOGIN_LINE_LIMIT }
    }
}

fn allowed_before_login(c: &Command) -> bool {
    matches!(
        c,
        Command::User(_)
            | Command::Pass(_)
            | Command::Acct(_)
            | Command::Quit
            | Command::Rein
            | Command::Noop
            | Command::Syst
            | Command::Feat
            | Command::Help(_)
            | Command::Opts(_)
            | Command::Auth(_)
            | Command::Pbsz(_)
            | Command::Prot(_)
            | Command::Ccc
            | Command::Host(_)
            | Command::Clnt(_)
            | Command::Lang(_)
            | Command::Stat(None)
            | Command::Abor
    )
}

/// Marks the session's slot in the server's counts; released on drop.
pub(crate) struct Counted(pub Arc<Stats>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
        self.0.ended.fetch_add(1, Ordering::Relaxed);
    }
}

//! [`Daemon`]: the engine's [`Backend`] over multiftp's services. It logs users in against
//! the account service and admits them under the session limits, counted over every node on
//! the database, recording the session for `SITE WHO` in the same step ([`Tracker::admit`]);
//! it opens their [`UserStorage`], runs the SITE commands of [`crate::site`], and turns the
//! engine's events into the end of session rows, the transfer log, the fail2ban-readable log
//! lines and metrics. Before each command of a session it checks the account may still act
//! ([`AccessWatch`]).
//!
//! [`Backend::event`] runs on the session's task and must not wait, so the database and
//! transfer-log writes go through channels to writer tasks, off every session's task. Each
//! session's jobs go to one writer (chosen by its number), which runs them in the order they
//! came, so a logout never overtakes its login's row, even when the login was abandoned
//! half-way; transfer-log lines all go to the first writer, in order.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::access::AccessWatch;
use crate::account::Accounts;
use crate::account::LoggedIn;
use crate::app::App;
use crate::ftp::{
    AuthError, Backend, Client, Direction, Event, Reply, SiteRequest, StorageError, StorageResult,
};
use crate::session::Tracker;
use crate::share::ShareStore;
use crate::site::{GuessLimit, Registry};
use crate::storage::{Owner, ShareIndex, Spares, UserStorage};
use crate::transfer_log::{Record, TransferLog};

/// What a writer task does, in order. On SQLite one writer writes every session row of this
/// daemon, so its logins never wait on each other for SQLite's one write lock (whose busy
/// handler sleeps in steps of milliseconds). On PostgreSQL several do
/// ([`Tracker::concurrent_writers`]): there every login's row is a round trip to the server,
/// and one writer bounded a node at one login per round trip (bench/cluster.sh, W5).
enum Job {
    /// Admit a login under the session limits and record it ([`Tracker::admit`]); the
    /// answer goes back to the waiting login.
    Admit { session: u64, user: String, addr: IpAddr, done: oneshot::Sender<Result<(), String>> },
    /// Remove a session from the sessions table.
    Close { session: u64 },
    /// Append a transfer-log line.
    Transfer(Record),
    /// Answer once everything before this is done.
    Flush(oneshot::Sender<()>),
}

/// The daemon as the engine sees it.
#[derive(Debug)]
pub struct Daemon {
    accounts: Accounts,
    shares: Arc<ShareStore>,
    tracker: Tracker,
    /// `<root>/home` and a handle on it, shared by every session's storage.
    homes: PathBuf,
    homes_dir: Arc<cap_std::fs::Dir>,
    /// The files overwrites are written to (`None` if the spare folder cannot be made).
    spares: Option<Arc<Spares>>,
    data_timeout: Duration,
    site: Registry,
    /// Whether open sessions may go on (disabled, deleted, kicked accounts).
    access: AccessWatch,
    /// Whether a transfer log is kept (else transfer events are not queued).
    logs_transfers: bool,
    /// Set when shutdown begins: logins are refused from then on.
    draining: AtomicBool,
    /// The writer tasks' queues; a session's jobs go to `jobs[session % len]`.
    jobs: Vec<mpsc::UnboundedSender<Job>>,
}

impl Daemon {
    /// The backend over `app`'s services, with `tracker` for the session limits and the
    /// sessions table, `homes_dir` a handle on `app`'s homes folder, and the transfer log if
    /// one is kept. Starts the writer task (so it needs a tokio runtime).
    pub fn new(
        app: &App,
        tracker: Tracker,
        homes_dir: Arc<cap_std::fs::Dir>,
        transfer_log: Option<TransferLog>,
    ) -> Self {
        let logs_transfers = transfer_log.is_some();
        let mut log = transfer_log;
        let jobs = (0..tracker.concurrent_writers())
            .map(|_| {
                let (jobs, rx) = mpsc::unbounded_channel();
                tokio::spawn(write_jobs(rx, tracker.clone(), log.take()));
                jobs
            })
            .collect();
        Self {
            accounts: app.accounts.clone(),
            shares: Arc::new(app.shares.store().clone()),
            tracker,
            homes: app.settings.homes(),
            spares: match Spares::open(&homes_dir) {
                Ok(spares) => Some(Arc::new(spares)),
                Err(e) => {
                    tracing::warn!(
                        cause = %e,
                        "cannot make the spare folder in the homes folder: overwrites use \
                         temporary files (slower)"
                    );
                    None
                }
            },
            homes_dir,
            data_timeout: app.settings.data_timeout,
            site: Registry::new(
                &app.accounts,
                &app.shares,
                &app.messages,
                &app.sessions,
                GuessLimit::new(app.settings.failed_logins_max, app.settings.failed_logins_block),
            ),
            access: AccessWatch::new(app.accounts.clone()),
            logs_transfers,
            draining: AtomicBool::new(false),
            jobs,
        }
    }

    /// From now on, refuse logins (shutdown has begun).
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Waits until every event reported so far is written (sessions table, transfer log).
    pub async fn flush(&self) {
        let mut answers = Vec::new();
        for jobs in &self.jobs {
            let (tx, rx) = oneshot::channel();
            if jobs.send(Job::Flush(tx)).is_ok() {
                answers.push(rx);
            }
        }
        for rx in answers {
            let _ = rx.await;
        }
    }

    /// [`Tracker::admit`] on the writer task.
    async fn admit(&self, session: u64, user: &str, addr: IpAddr) -> Result<(), String> {
        let (done, answer) = oneshot::channel();
        self.queue(session, Job::Admit { session, user: user.to_string(), addr, done });
        // The writer task is gone only when the runtime shuts down.
        answer
            .await
            .unwrap_or_else(|_| Err("the server is shutting down, try again shortly".into()))
    }

    /// Queues `job` on the writer of engine session `session`.
    fn queue(&self, session: u64, job: Job) {
        let writer = usize::try_from(session % self.jobs.len() as u64).unwrap_or(0);
        // Fails only when the writer task is gone (runtime shutting down): nothing to do.
        let _ = self.jobs[writer].send(job);
    }
}

/// A writer task: runs its jobs in order until its sender is gone; `log`, the transfer log,
/// is given to the first writer only.
async fn write_jobs(
    mut rx: mpsc::UnboundedReceiver<Job>,
    tracker: Tracker,
    log: Option<TransferLog>,
) {
    while let Some(job) = rx.recv().await {
        match job {
            Job::Admit { session, user, addr, done } => {
                let _ = done.send(tracker.admit(session, &user, addr).await);
            }
            Job::Close { session } => {
                if let Err(e) = tracker.record_close(session).await {
                    tracing::warn!(cause = %e, session, "could not record the end of a session");
                }
            }
            Job::Transfer(record) => {
                if let Some(log) = &log {
                    log.write(&record);
                }
            }
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

#[async_trait]
impl Backend for Daemon {
    type User = LoggedIn;
    type Storage = UserStorage;

    async fn login(
        &self,
        username: &str,
        password: &str,
        client: &Client,
    ) -> Result<LoggedIn, AuthError> {
        let ip = client.addr.ip();
        if self.draining.load(Ordering::SeqCst) {
            tracing::info!(user = %username, %ip, "login refused: shutting down");
            crate::metrics::login("refused");
            return Err(AuthError::Refused(
                "the server is shutting down, try again shortly".into(),
            ));
        }
        let node = self.tracker.node_name();
        match self.accounts.authenticate(username, password).await {
            Ok(Some(account)) => {
                // An admin may have removed the home by hand: make it again.
                let home = match self.accounts.ensure_home(&account.username) {
                    Ok(home) => home,
                    Err(e) => {
                        tracing::error!(user = %account.username, cause = %e, "cannot create the home folder");
                        return Err(AuthError::Unavailable);
                    }
                };
                // Counted over every node and recorded for SITE WHO in one step; the row
                // goes at the logout (or `login_abandoned`).
                if let Err(reason) = self.admit(client.session, &account.username, ip).await {
                    tracing::warn!(user = %account.username, %node, %ip, %reason, "login refused");
                    crate::metrics::login("refused");
                    return Err(AuthError::Refused(reason));
                }
                tracing::info!(user = %account.username, %node, %ip, "login succeeded");
                crate::metrics::login("ok");
                Ok(LoggedIn {
                    id: account.id,
                    username: account.username,
                    role: account.role,
                    home,
                    session_generation: account.session_generation,
                })
            }
            // Unknown user, disabled account and wrong password look the same to the client;
            // the engine reports it as `LoginFailed`, which logs and counts it.
            Ok(None) => Err(AuthError::BadCredentials),
            Err(e) => {
                tracing::error!(user = %username, cause = %e, "login failed: database error");
                Err(AuthError::Unavailable)
            }
        }
    }

    fn name(user: &LoggedIn) -> &str {
        &user.username
    }

    async fn storage(&self, user: &LoggedIn) -> StorageResult<UserStorage> {
        UserStorage::new(
            &self.homes,
            Arc::clone(&self.homes_dir),
            self.spares.clone(),
            Arc::clone(&self.shares) as Arc<dyn ShareIndex>,
            Owner { id: user.id, username: &user.username, home: &user.home },
            self.data_timeout,
        )
        .map_err(|e| {
            tracing::error!(user = %user.username, cause = %e, "cannot open the home folder");
            StorageError::from(e)
        })
    }

    async fn login_abandoned(&self, _user: &LoggedIn, client: &Client) {
        if self.tracker.logged_out(client.session) {
            self.queue(client.session, Job::Close { session: client.session });
        }
    }

    async fn still_allowed(&self, user: &LoggedIn) -> bool {
        self.access.allows(user).await
    }

    async fn site(&self, user: &LoggedIn, request: SiteRequest<'_>) -> Reply {
        // What the session did so far is written first: `SITE WHO` right after login lists
        // this very session.
        self.flush().await;
        self.site.dispatch(user, &request).await
    }

    async fn events_recorded(&self) {
        self.flush().await;
    }

    fn event(&self, event: Event<'_>) {
        match event {
            // Recorded by `login` already.
            Event::LoggedIn { .. } => {}
            Event::LoggedOut { client, .. } => {
                if self.tracker.logged_out(client.session) {
                    self.queue(client.session, Job::Close { session: client.session });
                }
            }
            Event::Transfer { client, user, path, direction, bytes, duration, ascii, ok } => {
                let (name, letter) = match direction {
                    Direction::Download => ("download", 'o'),
                    Direction::Upload => ("upload", 'i'),
                    Direction::Delete => ("delete", 'd'),
                };
                crate::metrics::transfer(name, ok, bytes);
                if self.logs_transfers {
                    // Writer 0 writes the transfer log.
                    self.queue(
                        0,
                        Job::Transfer(Record {
                            host: client.addr.ip(),
                            duration,
                            bytes,
                            path: path.to_string(),
                            ascii,
                            direction: letter,
                            user: user.to_string(),
                            ok,
                        }),
                    );
                }
            }
            // The fail2ban filter (config/fail2ban/multiftp.conf) matches these lines: keep
            // the message and `ip` as the last field.
            Event::LoginFailed { client, user, blocked } => {
                let ip = client.addr.ip();
                let node = self.tracker.node_name();
                if blocked {
                    tracing::warn!(user = %user, blocked, %node, ip = %ip, "login failed");
                    crate::metrics::login("blocked");
                } else {
                    tracing::warn!(user = %user, %node, ip = %ip, "login failed");
                    crate::metrics::login("failed");
                }
            }
            Event::Command { verb, code } => crate::metrics::command(verb, code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::NewAccount;
    use crate::config::RawConfig;
    use crate::ftp::{ErrorKind, FileKind, Storage};
    use crate::session::{Limits, Node};

    const PW: &str = "password123";

    async fn daemon(dir: &std::path::Path, limits: Limits) -> (App, Tracker, Daemon) {
        let raw = RawConfig { root: Some(dir.join("root")), ..Default::default() };
        let app = App::open(crate::Settings::load(None, raw).unwrap()).await.unwrap();
        for name in ["alice", "bob"] {
            app.accounts.add(NewAccount::user(name, PW)).await.unwrap();
        }
        let node = Node { name: "test-node".into(), heartbeat: Duration::from_secs(10) };
        let tracker = Tracker::start(&app.sessions, limits, node).await.unwrap();
        let homes = app.settings.homes();
        let dir = cap_std::fs::Dir::open_ambient_dir(&homes, cap_std::ambient_authority()).unwrap();
        let daemon = Daemon::new(&app, tracker.clone(), Arc::new(dir), None);
        (app, tracker, daemon)
    }

    fn client(session: u64) -> Client {
        Client {
            session,
            addr: "198.51.100.7:40000".parse().unwrap(),
            local: "127.0.0.1:2121".parse().unwrap(),
            tls: false,
        }
    }

    #[tokio::test]
    async fn login_limits_events_storage_and_site() {
        let tmp = tempfile::tempdir().unwrap();
        let (app, tracker, d) = daemon(tmp.path(), Limits { per_user: 1, total: 0 }).await;
        let c = client(7);
        assert_eq!(d.login("alice", "wrong", &c).await.unwrap_err(), AuthError::BadCredentials);
        assert_eq!(d.login("nobody", PW, &c).await.unwrap_err(), AuthError::BadCredentials);
        let alice = d.login("alice", PW, &c).await.unwrap();
        assert_eq!(Daemon::name(&alice), "alice");
        d.event(Event::LoggedIn { client: &c, user: "alice" });
        // The login recorded the session before it answered: the next one counts it.
        let second = d.login("alice", PW, &client(8)).await.unwrap_err();
        assert!(matches!(&second, AuthError::Refused(r) if r.contains("max_sessions_per_user")));

        // SITE: the session is listed with the client's address; unknown names are 502.
        let req = |command, args| SiteRequest { command, args, cwd: "/", client: &c };
        let who = d.site(&alice, req("WHO", "")).await;
        assert_eq!(who.code, 200);
        assert!(who.lines[0].starts_with("1 session"), "{who:?}");
        assert!(who.lines[1].contains("on test-node"), "{who:?}");
        assert_eq!(d.site(&alice, req("FROB", "x")).await.code, 502);
        assert_eq!(d.site(&alice, req("help", "")).await.code, 214);

        // Storage: the home with the reserved `shared` folder, which is read-only.
        let storage = d.storage(&alice).await.unwrap();
        storage.make_dir("/docs").await.unwrap();
        let names: Vec<(String, FileKind)> =
            storage.list("/").await.unwrap().into_iter().map(|e| (e.name, e.meta.kind)).collect();
        assert!(names.contains(&("docs".into(), FileKind::Dir)), "{names:?}");
        assert!(names.contains(&("shared".into(), FileKind::Dir)), "{names:?}");
        assert!(!storage.stat("/shared").await.unwrap().writable());
        let e = storage.make_dir("/shared/x").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        let at = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert!(storage.set_modified("/shared", at).await.is_err());
        assert_eq!(storage.stat("/missing").await.unwrap_err().kind, ErrorKind::NotFound);

        // Logout releases the place and the row.
        d.event(Event::LoggedOut { client: &c, user: "alice" });
        d.flush().await;
        assert_eq!(tracker.live_count(), 0);
        assert!(app.sessions.online().await.unwrap().is_empty());
        d.login("alice", PW, &client(9)).await.unwrap();

        d.begin_drain();
        assert!(matches!(d.login("bob", PW, &client(10)).await, Err(AuthError::Refused(_))));
        tracker.stop().await.unwrap();
    }
}

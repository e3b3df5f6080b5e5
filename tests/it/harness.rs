//! `TestServer`: a temp root and database, the real server on a free loopback port, and helpers
//! to log in with suppaftp and run `ftpadm`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use multiftp::account::{NewAccount, Role};
use multiftp::config::RawConfig;
use multiftp::{App, Settings};
use suppaftp::Status;
use suppaftp::tokio::AsyncFtpStream;
use suppaftp::types::FtpError;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A password every test user gets.
pub const PW: &str = "password123";

/// A running server and its data.
pub struct TestServer {
    /// Kept so the temp folder lives as long as the server.
    _dir: TempDir,
    pub app: App,
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<multiftp::Result<()>>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Each server gets its own passive range so parallel tests never compete for data ports.
fn passive_range() -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 200;
    let base = 30000 + n * 64;
    format!("{}-{}", base, base + 63)
}

impl TestServer {
    /// Starts a server with users `alice` and `bob` (password [`PW`]).
    pub async fn start() -> TestServer {
        Self::start_with(&["alice", "bob"]).await
    }

    /// Starts a server with the given ordinary users.
    pub async fn start_with(users: &[&str]) -> TestServer {
        Self::start_custom(users, RawConfig::default()).await
    }

    /// Starts a server with the given users and extra settings (`extra` wins over the
    /// harness's own choices except bind, port and root).
    pub async fn start_custom(users: &[&str], extra: RawConfig) -> TestServer {
        let dir = TempDir::new().unwrap();
        for _attempt in 0..3 {
            let port = free_port();
            let raw = RawConfig {
                bind: Some("127.0.0.1".into()),
                port: Some(port),
                root: Some(dir.path().join("root")),
                passive_ports: Some(passive_range()),
                shutdown_grace: extra.shutdown_grace.or(Some(1)),
                ..extra.clone()
            };
            let settings = Settings::load(None, raw).unwrap();
            let app = App::open(settings).await.unwrap();
            for u in users {
                if app.accounts.get(u).await.is_err() {
                    add_user(&app, u, Role::User).await;
                }
            }
            let (tx, rx) = oneshot::channel::<()>();
            let run_app = app.clone();
            let task = tokio::spawn(async move {
                multiftp::run(&run_app, async move {
                    let _ = rx.await;
                })
                .await
            });
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                if task.is_finished() {
                    break;
                }
                // In PROXY protocol mode the server says nothing until it gets the PROXY
                // header, so a TCP connect is the readiness signal there.
                let ready = if extra.proxy_protocol_port.is_some() {
                    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
                } else {
                    AsyncFtpStream::connect(("127.0.0.1", port)).await.is_ok()
                };
                if ready {
                    return TestServer { _dir: dir, app, port, stop: Some(tx), task: Some(task) };
                }
                assert!(tokio::time::Instant::now() < deadline, "server did not come up");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The port was taken between our probe and the server's bind: try another.
        }
        panic!("could not start the test server on a free port");
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.app.settings.root
    }

    /// A user's home on disk.
    pub fn home(&self, user: &str) -> PathBuf {
        self.root().join("home").join(user)
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A connected, not logged-in client.
    pub async fn connect(&self) -> AsyncFtpStream {
        AsyncFtpStream::connect(self.addr()).await.unwrap()
    }

    /// A client logged in as `user` with [`PW`].
    pub async fn login(&self, user: &str) -> AsyncFtpStream {
        let mut ftp = self.connect().await;
        ftp.login(user, PW).await.unwrap_or_else(|e| panic!("login as {user}: {e}"));
        // Image type (RFC 959 3.1.1.3): bytes go through unchanged.
        ftp.transfer_type(suppaftp::types::FileType::Binary).await.unwrap();
        ftp
    }

    /// Runs `ftpadm --root <root> args...` with `stdin` as input.
    pub fn ftpadm(&self, args: &[&str], stdin: &str) -> Output {
        ftpadm_at(self.root(), args, stdin)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) -> multiftp::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Adds a user through the service layer (the code `ftpadm user add` runs).
pub async fn add_user(app: &App, name: &str, role: Role) {
    app.accounts
        .add(NewAccount {
            username: name.into(),
            password: PW.into(),
            role,
            enabled: true,
            full_name: format!("{name} full"),
            email: format!("{name}@example.org"),
        })
        .await
        .unwrap();
}

/// Disables an account through the service layer.
pub async fn disable(app: &App, name: &str) {
    let changes = multiftp::account::AccountChanges { enabled: Some(false), ..Default::default() };
    app.accounts.update(name, changes).await.unwrap();
}

/// Runs the real `ftpadm` binary against `root`.
pub fn ftpadm_at(root: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpadm"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("MULTIFTP_CONFIG")
        .env_remove("MULTIFTP_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// stdout as text.
pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sends a raw command and returns the reply code and text, whatever the code.
pub async fn raw(ftp: &mut AsyncFtpStream, command: &str) -> (u32, String) {
    // Not 211: suppaftp treats a `211-` opener as complete (it leaves FEAT's lines to feat()),
    // which would cut every multi-line reply to its first line.
    let all: Vec<Status> = (100..600).filter(|c| *c != 211).map(Status::from).collect();
    match ftp.custom_command(command, &all).await {
        Ok(r) => (r.status.code(), String::from_utf8_lossy(&r.body).into_owned()),
        Err(FtpError::UnexpectedResponse(r)) => {
            (r.status.code(), String::from_utf8_lossy(&r.body).into_owned())
        }
        Err(e) => panic!("{command}: {e}"),
    }
}

/// The reply code of a failed operation.
pub fn code<T: std::fmt::Debug>(r: Result<T, FtpError>) -> u32 {
    match r {
        Err(FtpError::UnexpectedResponse(resp)) => resp.status.code(),
        other => panic!("expected an FTP error reply, got {other:?}"),
    }
}

/// Uploads `data` to `path`.
pub async fn put(ftp: &mut AsyncFtpStream, path: &str, data: &[u8]) {
    let mut cursor = std::io::Cursor::new(data.to_vec());
    ftp.put_file(path, &mut cursor).await.unwrap_or_else(|e| panic!("put {path}: {e}"));
}

/// Downloads `path` (from the offset of a preceding REST, if any).
pub async fn get(ftp: &mut AsyncFtpStream, path: &str) -> Result<Vec<u8>, FtpError> {
    use tokio::io::AsyncReadExt;
    let mut stream = ftp.retr_as_stream(path).await?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.map_err(FtpError::ConnectionError)?;
    stream.finish().await?;
    Ok(buf)
}

/// Asserts two byte strings are equal without printing megabytes when they are not.
#[track_caller]
pub fn same(got: &[u8], want: &[u8], what: &str) {
    let first_diff = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        got == want,
        "{what}: got {} bytes, want {}; first difference at {first_diff:?}",
        got.len(),
        want.len()
    );
}

/// Deterministic test data.
pub fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// A control connection spoken by hand, for what suppaftp cannot do (send a PROXY header, keep
/// a data connection open while reading the control channel).
pub struct RawControl {
    reader: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl RawControl {
    /// Connects to `addr` without reading the greeting.
    pub async fn connect(addr: &str) -> RawControl {
        let (r, w) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();
        RawControl { reader: tokio::io::BufReader::new(r), writer: w }
    }

    /// Sends `text` as is (add the CRLF).
    pub async fn send(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        self.writer.write_all(text.as_bytes()).await.unwrap();
    }

    /// The next whole reply (all lines of a multi-line one), waiting at most `secs`.
    pub async fn reply_within(&mut self, secs: u64) -> String {
        use tokio::io::AsyncBufReadExt;
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n =
                tokio::time::timeout(Duration::from_secs(secs), self.reader.read_line(&mut line))
                    .await
                    .expect("a reply in time")
                    .unwrap();
            assert!(n > 0, "the server closed the control connection after {all:?}");
            all.push_str(&line);
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                return all;
            }
        }
    }

    /// The next whole reply, waiting at most 10 s.
    pub async fn reply(&mut self) -> String {
        self.reply_within(10).await
    }

    /// Sends `command` and returns its reply.
    pub async fn cmd(&mut self, command: &str) -> String {
        self.send(&format!("{command}\r\n")).await;
        self.reply().await
    }

    /// Logs in as `user` with [`PW`] (reading the greeting first) and selects image type.
    pub async fn login(&mut self, user: &str) {
        assert!(self.reply().await.starts_with("220"));
        assert!(self.cmd(&format!("USER {user}")).await.starts_with("331"));
        assert!(self.cmd(&format!("PASS {PW}")).await.starts_with("230"));
        assert!(self.cmd("TYPE I").await.starts_with("200"));
    }

    /// Opens a passive data connection (EPSV, RFC 2428).
    pub async fn data_connection(&mut self) -> tokio::net::TcpStream {
        let r = self.cmd("EPSV").await;
        assert!(r.starts_with("229"), "{r}");
        let port: u16 =
            r.split("|||").nth(1).and_then(|t| t.split('|').next()).unwrap().parse().unwrap();
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap()
    }
}

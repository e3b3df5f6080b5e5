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
    /// The address the server listens on (`127.0.0.1` unless started with [`TestServer::start_bound`]).
    host: String,
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
        Self::start_bound(users, extra, "127.0.0.1").await
    }

    /// Like [`TestServer::start_custom`], listening on `bind` (an IP address such as `::1`).
    pub async fn start_bound(users: &[&str], extra: RawConfig, bind: &str) -> TestServer {
        let dir = TempDir::new().unwrap();
        for _attempt in 0..3 {
            let port = free_port();
            let raw = RawConfig {
                bind: Some(bind.into()),
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
                let host: std::net::IpAddr = bind.parse().unwrap();
                let ready = if extra.proxy_protocol_port.is_some() {
                    tokio::net::TcpStream::connect((host, port)).await.is_ok()
                } else {
                    AsyncFtpStream::connect((host, port)).await.is_ok()
                };
                if ready {
                    return TestServer {
                        _dir: dir,
                        app,
                        port,
                        host: bind.to_string(),
                        stop: Some(tx),
                        task: Some(task),
                    };
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
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
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

/// Creates the data root and an empty database (no users) through the library, for tests that
/// then add users with `ftpadm`, which never creates a database itself (`ftpadm init` does, with
/// an admin account). Runs on a thread of its own, so it works inside and outside a runtime.
pub fn create_database(root: &Path) {
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let raw = RawConfig { root: Some(root), ..Default::default() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = App::open(Settings::load(None, raw).unwrap()).await.unwrap();
            app.pool.close().await;
        });
    })
    .join()
    .unwrap();
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

// ---- Helpers for the protocol, channel, robustness and client tests ----

/// The reply code at the start of `reply` (0 if there is none).
pub fn code_of(reply: &str) -> u32 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Drops Telnet command sequences (RFC 854: IAC + command, IAC + WILL/WONT/DO/DONT + option)
/// from bytes a server sent, keeping an escaped `IAC IAC` as one 0xFF byte.
fn strip_telnet(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xFF && i + 1 < bytes.len() {
            match bytes[i + 1] {
                0xFF => {
                    out.push(0xFF);
                    i += 2;
                }
                0xFB..=0xFE => i += 3,
                _ => i += 2,
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Why [`RawControl::next_reply`] got no reply.
#[derive(Debug, PartialEq, Eq)]
pub enum NoReply {
    /// Nothing (or no complete reply) within the time allowed.
    Timeout,
    /// The server closed the connection (or reset it); the text is what came before.
    Closed(String),
}

impl RawControl {
    /// Sends raw bytes; an error (the server closed or reset) is returned, not a panic.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.writer.write_all(bytes).await
    }

    /// The control socket, for socket options and urgent data.
    pub fn socket(&self) -> &tokio::net::TcpStream {
        self.writer.as_ref()
    }

    /// The next whole reply as (code, all its text), waiting at most `secs` for it. Multi-line
    /// replies end at the line that starts with the opening code and a space (RFC 959 4.2);
    /// Telnet sequences are dropped and bytes that are not UTF-8 replaced, so hostile input
    /// echoed back cannot break the reader.
    pub async fn next_reply(&mut self, secs: u64) -> Result<(u32, String), NoReply> {
        use tokio::io::AsyncBufReadExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut all = String::new();
        let mut opener: Option<u32> = None;
        loop {
            let mut line = Vec::new();
            let n =
                match tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut line))
                    .await
                {
                    Err(_) => return Err(NoReply::Timeout),
                    Ok(Err(_)) => return Err(NoReply::Closed(all)),
                    Ok(Ok(n)) => n,
                };
            if n == 0 || !line.ends_with(b"\n") {
                all.push_str(&String::from_utf8_lossy(&line));
                return Err(NoReply::Closed(all));
            }
            let text = String::from_utf8_lossy(&strip_telnet(&line)).into_owned();
            all.push_str(&text);
            let b = text.as_bytes();
            let code = code_of(&text);
            match opener {
                None if code >= 100 && b.len() >= 4 && b[3] == b'-' => opener = Some(code),
                None if code >= 100 => return Ok((code, all)),
                // A line that is not a reply line outside a multi-line reply: keep reading.
                None => {}
                Some(open) if code == open && b.len() >= 4 && b[3] == b' ' => {
                    return Ok((open, all));
                }
                Some(_) => {}
            }
        }
    }

    /// Sends `command` and returns its reply code and text; panics if none comes in 10 s.
    pub async fn exchange(&mut self, command: &str) -> (u32, String) {
        self.send(&format!("{command}\r\n")).await;
        match self.next_reply(10).await {
            Ok(r) => r,
            Err(e) => panic!("{command}: no reply: {e:?}"),
        }
    }

    /// Reads the greeting, then logs in as `user` with [`PW`] and selects image type.
    pub async fn login_checked(&mut self, user: &str) {
        let (c, t) = self.next_reply(10).await.expect("greeting");
        assert_eq!(c, 220, "{t}");
        self.login_checked_after_greeting(user).await;
    }

    /// Logs in as `user` with [`PW`] and selects image type (the greeting already read).
    pub async fn login_checked_after_greeting(&mut self, user: &str) {
        for (command, want) in
            [(format!("USER {user}"), 331), (format!("PASS {PW}"), 230), ("TYPE I".into(), 200)]
        {
            let (c, t) = self.exchange(&command).await;
            assert_eq!(c, want, "{command}: {t}");
        }
    }

    /// Sends PASV (RFC 959) and returns the announced port (the reply must be 227).
    pub async fn pasv_port(&mut self) -> u16 {
        let (c, t) = self.exchange("PASV").await;
        assert_eq!(c, 227, "{t}");
        pasv_reply_port(&t)
    }
}

/// The port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` reply.
pub fn pasv_reply_port(reply: &str) -> u16 {
    let inner = reply.split('(').nth(1).and_then(|t| t.split(')').next()).expect(reply);
    let n: Vec<u16> = inner.split(',').map(|x| x.trim().parse().expect(reply)).collect();
    assert_eq!(n.len(), 6, "{reply}");
    n[4] * 256 + n[5]
}

/// The port of a `229 Entering Extended Passive Mode (|||port|)` reply.
pub fn epsv_reply_port(reply: &str) -> u16 {
    reply.split("|||").nth(1).and_then(|t| t.split('|').next()).unwrap().parse().expect(reply)
}

/// Reads a data connection to its end, at most `secs` seconds.
pub async fn read_all_within(stream: &mut tokio::net::TcpStream, secs: u64) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(secs), stream.read_to_end(&mut buf))
        .await
        .expect("the data connection ended in time")
        .unwrap();
    buf
}

/// The one string inside an RFC 959 quoted pathname (`257 "/a""b" created` -> `/a"b`): the
/// text between the first `"` and the next lone `"`, with `""` standing for `"`.
pub fn quoted_path(reply: &str) -> Option<String> {
    let start = reply.find('"')? + 1;
    let mut out = String::new();
    let mut chars = reply[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// A new self-signed pair (certificate, key) from the real `ftpadm cert self-signed`, in `dir`.
pub fn self_signed_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let o = Command::new(env!("CARGO_BIN_EXE_ftpadm"))
        .args(["cert", "self-signed", "--host", "localhost", "--out-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Makes a self-signed certificate with the real `ftpadm cert self-signed` in `dir` and starts
/// a server for `users` with FTPS and `tls_required = policy`, plus the `extra` settings.
pub async fn start_tls(dir: &Path, policy: &str, users: &[&str], extra: RawConfig) -> TestServer {
    let (cert, key) = self_signed_pair(dir);
    let raw = RawConfig {
        tls_cert: Some(cert),
        tls_key: Some(key),
        tls_required: Some(policy.parse().unwrap()),
        ..extra
    };
    TestServer::start_custom(users, raw).await
}

/// Runs an external program with a time limit (tokio's Command, so the in-process server on
/// the test's runtime keeps serving). Panics with a clear message if it is not installed.
pub async fn run_tool(program: &str, args: &[&str], secs: u64) -> Output {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} is required for this test (.ci/run installs it): {e}")
        });
    tokio::time::timeout(Duration::from_secs(secs), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish within {secs} s"))
        .unwrap()
}

/// Runs a Python 3 script with arguments, at most 60 s.
pub async fn run_python(script: &str, args: &[&str]) -> Output {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run_tool("python3", &all, 60).await
}

/// Runs curl quietly (errors still shown) with a 20 s limit.
pub async fn run_curl(args: &[&str]) -> Output {
    let mut all = vec!["-sS", "--max-time", "20"];
    all.extend_from_slice(args);
    run_tool("curl", &all, 30).await
}

/// The resident set size of process `pid` in KiB, from /proc/<pid>/status.
pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// A real `multiftpd` process on a free loopback port over a fresh root (stderr to a file).
pub struct DaemonProcess {
    child: std::process::Child,
    /// Its control port.
    pub port: u16,
    /// Kept so the root lives as long as the process.
    _dir: TempDir,
}

impl DaemonProcess {
    /// Starts `multiftpd` with user `alice` ([`PW`]) and waits until it accepts connections.
    pub fn start(extra: &[&str]) -> DaemonProcess {
        let dir = TempDir::new().unwrap();
        let root = dir.path().join("root");
        create_database(&root);
        let o = ftpadm_at(&root, &["user", "add", "alice", "--password-stdin"], &format!("{PW}\n"));
        assert!(o.status.success(), "{}", err(&o));
        let port = free_port();
        let log = dir.path().join("stderr.log");
        let child = Command::new(env!("CARGO_BIN_EXE_multiftpd"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--passive-ports", &passive_range()])
            .arg("--root")
            .arg(&root)
            .args(extra)
            .env_remove("RUST_LOG")
            .env_remove("MULTIFTP_CONFIG")
            .stderr(std::fs::File::create(&log).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "multiftpd did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        DaemonProcess { child, port, _dir: dir }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port that was free on 127.0.0.1 a moment ago (for settings that take a second port).
// Used by settings.rs, which joins main.rs with the engine's new settings.
#[allow(dead_code)]
pub fn unused_port() -> u16 {
    free_port()
}

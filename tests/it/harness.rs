//! Everything the tests share: `TestServer` (the server in process over a temp root and
//! database), `Daemon` (the real `multiftpd` binary), `RawControl` (a control connection spoken
//! by hand), the `ftpadm`/`curl`/tool runners with time limits, ports, and `wait_until`.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// How often [`wait_until`] and [`wait_until_async`] look again.
const POLL: Duration = Duration::from_millis(20);

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

// ---- Waiting ----

/// Polls `condition` until it holds or `timeout` has passed; whether it held. For tests without
/// a runtime (in an async test use [`wait_until_async`], which lets the server run meanwhile).
pub fn wait_until(mut condition: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// [`wait_until`] for async tests: the runtime (and the in-process server on it) goes on
/// between tries.
pub async fn wait_until_async(mut condition: impl AsyncFnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

// ---- Ports ----

/// A TCP port that was free on 127.0.0.1 a moment ago (the kernel's ephemeral range, which
/// [`passive_range`] stays below).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The first port of the passive ranges, and the end of the area they come from: below Linux's
/// ephemeral ports (32768 and up), so no control port from [`unused_port`] lands in one.
const PASSIVE_AREA: std::ops::Range<usize> = 10_000..32_768;
/// Ports in each test server's passive range.
const PASSIVE_PORTS: usize = 64;

/// A passive range (`"first-last"`) no other server of this process has had, every port of it
/// free right now: parallel tests never compete for data ports. A process-wide counter hands
/// out the blocks; it starts at a block chosen by the process id, so test runs in other
/// worktrees on the same machine mostly use other blocks, and a block found busy is skipped.
pub fn passive_range() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(usize::MAX);
    let blocks = PASSIVE_AREA.len() / PASSIVE_PORTS;
    let _ = NEXT.compare_exchange(
        usize::MAX,
        std::process::id() as usize % blocks,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..blocks {
        let block = NEXT.fetch_add(1, Ordering::Relaxed) % blocks;
        let first = PASSIVE_AREA.start + block * PASSIVE_PORTS;
        let ports = first..first + PASSIVE_PORTS;
        let free =
            ports.clone().all(|p| std::net::TcpListener::bind(("127.0.0.1", p as u16)).is_ok());
        if free {
            return format!("{}-{}", first, first + PASSIVE_PORTS - 1);
        }
    }
    panic!("no free block of {PASSIVE_PORTS} ports in {PASSIVE_AREA:?} for a passive range");
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
            let port = unused_port();
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
            // In PROXY protocol mode the server says nothing until it gets the PROXY header,
            // so a TCP connect is the readiness signal there.
            let host: std::net::IpAddr = bind.parse().unwrap();
            let proxy = extra.proxy_protocol_port.is_some();
            let ready = async || {
                if proxy {
                    tokio::net::TcpStream::connect((host, port)).await.is_ok()
                } else {
                    AsyncFtpStream::connect((host, port)).await.is_ok()
                }
            };
            let up = wait_until_async(
                async || task.is_finished() || ready().await,
                Duration::from_secs(10),
            )
            .await;
            if !task.is_finished() {
                assert!(up, "server did not come up");
                return TestServer {
                    _dir: dir,
                    app,
                    port,
                    host: bind.to_string(),
                    stop: Some(tx),
                    task: Some(task),
                };
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

    /// A raw control connection logged in as `user` with [`PW`].
    pub async fn control(&self, user: &str) -> RawControl {
        RawControl::open(&self.addr(), user).await
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

/// Adds `user` (password [`PW`]) to the data root `root` with the real `ftpadm`, creating the
/// database first when there is none (as the daemon's first start would).
pub fn ftpadm_add_user(root: &Path, user: &str) {
    if !root.join("multiftp.db").exists() {
        create_database(root);
    }
    let o = ftpadm_at(root, &["user", "add", user, "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "ftpadm user add {user}: {}", err(&o));
}

/// A temp folder holding a data root `<dir>/root` with a database and `users` ([`PW`]), added
/// by the real `ftpadm`. The folder is free for the test's other files.
pub fn root_with(users: &[&str]) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("root");
    create_database(&root);
    for user in users {
        ftpadm_add_user(&root, user);
    }
    (dir, root)
}

/// Removes what the test runner's environment could bring into a child: `RUST_LOG` and every
/// `MULTIFTP_*` variable (the binaries read settings from them).
fn clean_env(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("RUST_LOG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MULTIFTP_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The real `ftpadm` binary, with a clean environment.
pub fn ftpadm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftpadm"));
    clean_env(&mut cmd);
    cmd
}

/// The real `multiftpd` binary, with a clean environment.
pub fn multiftpd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_multiftpd"));
    clean_env(&mut cmd);
    cmd
}

/// Runs the real `ftpadm` binary against `root` with `stdin` as input, at most 60 s.
pub fn ftpadm_at(root: &Path, args: &[&str], stdin: &str) -> Output {
    run_bounded(ftpadm().arg("--root").arg(root).args(args), stdin, 60)
}

/// Runs `cmd` with `stdin` as its input to its end, at most `secs` seconds (killed, and the
/// test failed, after that). Panics with a hint when the program is not installed.
pub fn run_bounded(cmd: &mut Command, stdin: &str, secs: u64) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}): .ci/run installs what tests need"));
    let pid = child.id();
    let input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut input = input;
        // A program that exits without reading its input closes the pipe: not an error here.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {secs} s");
        }
    }
}

/// Runs curl quietly (errors still shown), at most 20 s, from a test without a runtime.
pub fn curl(args: &[&str]) -> Output {
    run_bounded(Command::new("curl").args(["-sS", "--max-time", "20"]).args(args), "", 30)
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

    /// Connects to `addr`, reads the greeting and logs in as `user` with [`PW`] (image type).
    pub async fn open(addr: &str, user: &str) -> RawControl {
        let mut c = RawControl::connect(addr).await;
        c.login_checked(user).await;
        c
    }

    /// Sends `text` as is (add the CRLF); panics if the server has closed the connection.
    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await.unwrap();
    }

    /// Opens a passive data connection (EPSV, RFC 2428: to the control connection's address).
    pub async fn data_connection(&mut self) -> tokio::net::TcpStream {
        let (code, text) = self.exchange("EPSV").await;
        assert_eq!(code, 229, "{text}");
        let ip = self.socket().peer_addr().unwrap().ip();
        tokio::net::TcpStream::connect((ip, epsv_reply_port(&text))).await.unwrap()
    }

    /// STOR of `body` over a fresh EPSV connection (which must get 150); the final reply.
    pub async fn store(&mut self, path: &str, body: &[u8]) -> (u32, String) {
        use tokio::io::AsyncWriteExt as _;
        let mut d = self.data_connection().await;
        let (code, text) = self.exchange(&format!("STOR {path}")).await;
        assert_eq!(code, 150, "STOR {path}: {text}");
        d.write_all(body).await.unwrap();
        d.shutdown().await.unwrap();
        drop(d);
        self.next_reply(10).await.expect("the transfer's final reply")
    }

    /// RETR over a fresh EPSV connection (which must get 150): the bytes and the final reply
    /// code.
    pub async fn retrieve(&mut self, path: &str) -> (Vec<u8>, u32) {
        let mut d = self.data_connection().await;
        let (code, text) = self.exchange(&format!("RETR {path}")).await;
        assert_eq!(code, 150, "RETR {path}: {text}");
        let body = read_all_within(&mut d, 10).await;
        let (code, _) = self.next_reply(10).await.expect("the transfer's final reply");
        (body, code)
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
        use tokio::io::AsyncWriteExt as _;
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
    let o = run_bounded(
        ftpadm().args(["cert", "self-signed", "--host", "localhost", "--out-dir"]).arg(dir),
        "",
        60,
    );
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

/// Runs an external program with a time limit from an async test: on the blocking pool, so the
/// in-process server on the test's runtime keeps serving. Panics with a clear message if it is
/// not installed.
pub async fn run_tool(program: &str, args: &[&str], secs: u64) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    tokio::task::spawn_blocking(move || run_bounded(&mut cmd, "", secs)).await.unwrap()
}

/// Runs a Python 3 script with arguments, at most 60 s.
pub async fn run_python(script: &str, args: &[&str]) -> Output {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run_tool("python3", &all, 60).await
}

/// [`curl`] from an async test.
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

// ---- The real daemon ----

/// How to start a [`Daemon`]: its data root, extra flags, and how to run it.
pub struct DaemonOptions {
    root: PathBuf,
    args: Vec<OsString>,
    uid: Option<u32>,
    ignore_sigxfsz: bool,
    env: Vec<(OsString, OsString)>,
    bind: String,
    proxy_protocol: bool,
}

impl DaemonOptions {
    /// Adds flags after the harness's own (`--bind`, `--port`, `--passive-ports`, `--root`).
    pub fn args<S: Into<OsString>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for it.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Listens on `ip` (a loopback address such as `127.0.0.11`) instead of `127.0.0.1`.
    pub fn bind(mut self, ip: &str) -> Self {
        self.bind = ip.to_string();
        self
    }

    /// PROXY protocol mode (`--proxy-protocol-port`): every control connection must start with
    /// a PROXY header, so the readiness probe sends one.
    pub fn proxy_protocol(mut self) -> Self {
        self.proxy_protocol = true;
        self.args.extend(["--proxy-protocol-port".into(), "21".into()]);
        self
    }

    /// Runs it as `uid` with the same gid (only root can).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Starts it through `sh` with SIGXFSZ ignored (an ignored signal stays ignored across
    /// exec): a write past a file-size limit then fails with EFBIG, as on a full disk, instead
    /// of killing it.
    pub fn ignore_sigxfsz(mut self) -> Self {
        self.ignore_sigxfsz = true;
        self
    }

    /// Starts `multiftpd` on a free loopback port and its own passive range, and waits (at most
    /// 20 s) until it greets. A port taken between the probe and the daemon's bind is retried.
    pub fn start(self) -> Daemon {
        for _attempt in 0..3 {
            let port = unused_port();
            let passive = passive_range();
            let mut cmd = if self.ignore_sigxfsz {
                let mut sh = Command::new("sh");
                clean_env(&mut sh)
                    .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
                    .arg(env!("CARGO_BIN_EXE_multiftpd"));
                sh
            } else {
                multiftpd()
            };
            cmd.args(["--bind", &self.bind, "--port", &port.to_string()])
                .args(["--passive-ports", &passive])
                .arg("--root")
                .arg(&self.root)
                .args(&self.args)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                // A pipe, not a file: a file-size limit on the daemon must not silence its log.
                .stderr(Stdio::piped());
            if let Some(uid) = self.uid {
                use std::os::unix::process::CommandExt;
                cmd.uid(uid).gid(uid);
            }
            let mut child = cmd.spawn().unwrap();
            let (log, reader) = capture(child.stderr.take().unwrap());
            let mut d = Daemon {
                child,
                port,
                passive,
                host: self.bind.clone(),
                root: self.root.clone(),
                log,
                reader: Some(reader),
            };
            let mut exited = false;
            let up = wait_until(
                || {
                    exited = d.child.try_wait().unwrap().is_some();
                    exited || greets(&self.bind, port, self.proxy_protocol)
                },
                Duration::from_secs(20),
            );
            if exited {
                if d.stderr().contains("already in use") {
                    continue;
                }
                panic!("multiftpd exited: {}", d.stderr());
            }
            assert!(up, "multiftpd did not start: {}", d.stderr());
            return d;
        }
        panic!("could not start multiftpd on a free port");
    }
}

/// Collects what a child writes to `pipe` as it comes, on a thread of its own that ends at the
/// pipe's end: the bytes so far, and the thread.
pub fn capture(
    mut pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<u8>>>, std::thread::JoinHandle<()>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (log, reader)
}

/// A daemon over a fresh root with alice, logging in `format`, after one good login and two
/// failed ones (alice's wrong password, an unknown user) by curl: the temp folder, the daemon
/// and its log once it holds both failures.
pub fn daemon_after_failed_logins(format: &str) -> (TempDir, Daemon, String) {
    let (dir, root) = root_with(&["alice"]);
    let mut d = Daemon::start(&root, &["--log-format", format]);
    assert!(curl(&[&d.url("alice", PW, "/")]).status.success());
    assert!(!curl(&[&d.url("alice", "wrongpass1", "/")]).status.success());
    assert!(!curl(&[&d.url("nosuchuser", "whatever1", "/")]).status.success());
    let log = d.wait_log("login failed", 2);
    (dir, d, log)
}

/// Whether a server on `ip`:`port` answers a connection with a 220 greeting (it binds its port
/// before it registers in the database, and only greets after that); in PROXY protocol mode
/// (`proxy`) after a `PROXY UNKNOWN` header, which a balancer's own connections send.
fn greets(ip: &str, port: u16, proxy: bool) -> bool {
    use std::io::BufRead;
    let Ok(mut conn) = std::net::TcpStream::connect((ip, port)) else { return false };
    if proxy && conn.write_all(b"PROXY UNKNOWN\r\n").is_err() {
        return false;
    }
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(conn).read_line(&mut line).is_ok() && line.starts_with("220")
}

/// A real `multiftpd` process with its stderr captured; killed on drop.
pub struct Daemon {
    child: Child,
    /// Its control port.
    pub port: u16,
    /// Its passive range, `"first-last"`.
    pub passive: String,
    /// The address it listens on.
    host: String,
    root: PathBuf,
    log: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Options for a daemon over the data root `root` (which needs no database: a first start
    /// makes one).
    pub fn on(root: &Path) -> DaemonOptions {
        DaemonOptions {
            root: root.to_path_buf(),
            args: Vec::new(),
            uid: None,
            ignore_sigxfsz: false,
            env: Vec::new(),
            bind: "127.0.0.1".to_string(),
            proxy_protocol: false,
        }
    }

    /// Starts a daemon over `root` with the extra flags `args`.
    pub fn start(root: &Path, args: &[&str]) -> Daemon {
        Daemon::on(root).args(args).start()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port` (`127.0.0.1:port` unless started with [`DaemonOptions::bind`]).
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// An `ftp://` URL of `path` on it, for curl.
    pub fn url(&self, user: &str, pass: &str, path: &str) -> String {
        format!("ftp://{user}:{pass}@{}{path}", self.addr())
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Its stderr once it holds `needle` `n` times (at most 10 s); it must stay up meanwhile.
    pub fn wait_log(&mut self, needle: &str, n: usize) -> String {
        let mut died = false;
        let seen = wait_until(
            || {
                died = self.child.try_wait().unwrap().is_some();
                died || self.stderr().matches(needle).count() >= n
            },
            Duration::from_secs(10),
        );
        assert!(!died, "multiftpd died: {}", self.stderr());
        assert!(seen, "not {n} times {needle:?} in the log: {}", self.stderr());
        self.stderr()
    }

    /// Its stderr so far written to a file next to the root (for tools that read log files).
    pub fn log_file(&self) -> PathBuf {
        let path = self.root.with_extension(format!("{}.log", self.port));
        std::fs::write(&path, self.stderr()).unwrap();
        path
    }

    /// Sends it a signal (`-TERM`, `-HUP`).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill").args([sig, &self.pid().to_string()]).status().unwrap();
        assert!(st.success(), "kill {sig}");
    }

    /// Waits (at most `timeout`) until it exits; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut status = None;
        let done = wait_until(
            || {
                status = self.child.try_wait().unwrap();
                status.is_some()
            },
            timeout,
        );
        assert!(done, "multiftpd still running after {timeout:?}: {}", self.stderr());
        status.unwrap()
    }

    /// Sends SIGTERM and returns the exit code (within 20 s).
    pub fn stop(mut self) -> Option<i32> {
        self.signal("-TERM");
        self.wait_exit(Duration::from_secs(20)).code()
    }

    /// Kills it (SIGKILL), waits for it, and returns all it logged.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.stderr()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

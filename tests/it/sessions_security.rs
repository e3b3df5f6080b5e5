//! Sessions and logins under attack or admin action (issue 11, items 1, 4, 5, 16): disabled,
//! deleted and kicked accounts lose their open sessions in every daemon, SITE PASSWD guesses
//! are throttled, and a login does not depend on writing its time.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use multiftp::account::ACCESS_RECHECK as RECHECK;
use multiftp::account::Role;

use crate::harness::*;

/// Longer than the daemons' recheck interval: after this, every daemon sees a change.
const SETTLE: Duration = Duration::from_millis(1300);

/// A real `multiftpd` process on `root` (which must hold users), killed on drop. Started
/// through `sh` so it ignores SIGXFSZ (see `a_login_succeeds_when_its_time_cannot_be_written`).
struct Multiftpd {
    child: Child,
    port: u16,
}

impl Multiftpd {
    fn start(root: &Path) -> Multiftpd {
        let port = unused_port();
        let child = Command::new("sh")
            // An ignored signal stays ignored across exec: with SIGXFSZ ignored, a write over
            // the file-size limit fails with EFBIG (as on a full disk) instead of killing it.
            .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_multiftpd"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--passive-ports", "43000-43063"])
            .arg("--root")
            .arg(root)
            .env_remove("RUST_LOG")
            .env_remove("MULTIFTP_CONFIG")
            .env_remove("MULTIFTP_DB")
            .stdout(Stdio::null())
            // A pipe, not a file: the file-size limit must not silence the log.
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Ready when it greets: it binds its port before it registers in the database, and
        // only serves after that.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !greets(port) {
            assert!(Instant::now() < deadline, "multiftpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Multiftpd { child, port }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops it and returns what it logged.
    fn stop(mut self) -> String {
        use std::io::Read;
        let _ = self.child.kill();
        let mut log = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut log);
        }
        let _ = self.child.wait();
        log
    }
}

/// Whether a server on `port` answers a connection with a 220 greeting.
fn greets(port: u16) -> bool {
    use std::io::BufRead;
    let Ok(conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    std::io::BufReader::new(conn).read_line(&mut line).is_ok() && line.starts_with("220")
}

impl Drop for Multiftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw session logged in as `user` at `addr`.
async fn session(addr: &str, user: &str) -> RawControl {
    let mut c = RawControl::connect(addr).await;
    c.login_checked(user).await;
    c
}

/// Uploads `data` to `path` over a passive data connection.
async fn stor(c: &mut RawControl, path: &str, data: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let mut conn = c.data_connection().await;
    let (code, text) = c.exchange(&format!("STOR {path}")).await;
    assert_eq!(code, 150, "STOR {path}: {text}");
    conn.write_all(data).await.unwrap();
    conn.shutdown().await.unwrap();
    drop(conn);
    let (code, text) = c.next_reply(10).await.unwrap();
    assert_eq!(code, 226, "STOR {path}: {text}");
}

/// Downloads `path` over a passive data connection.
async fn retr(c: &mut RawControl, path: &str) -> Vec<u8> {
    let mut conn = c.data_connection().await;
    let (code, text) = c.exchange(&format!("RETR {path}")).await;
    assert_eq!(code, 150, "RETR {path}: {text}");
    let got = read_all_within(&mut conn, 10).await;
    let (code, text) = c.next_reply(10).await.unwrap();
    assert_eq!(code, 226, "RETR {path}: {text}");
    got
}

/// Asserts the session's next command gets 530 and the server then closes the connection.
async fn ends_with_530(c: &mut RawControl, command: &str) {
    let (code, text) = c.exchange(command).await;
    assert_eq!(code, 530, "{command}: {text}");
    match c.next_reply(5).await {
        Err(NoReply::Closed(_)) => {}
        other => panic!("the connection stays open after the 530: {other:?}"),
    }
}

/// Sends NOOP every 100 ms until one gets 530 (then checks the connection closes); returns
/// how long that took. Panics after 5 s.
async fn time_to_530(c: &mut RawControl) -> Duration {
    let start = Instant::now();
    loop {
        let (code, text) = c.exchange("NOOP").await;
        if code == 530 {
            assert!(matches!(c.next_reply(5).await, Err(NoReply::Closed(_))), "closed after 530");
            return start.elapsed();
        }
        assert_eq!(code, 200, "{text}");
        assert!(start.elapsed() < Duration::from_secs(5), "still allowed after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// alice with a file at home and bob's shared file, in two sessions: one working at home,
/// one reading `/shared`.
async fn alice_at_work(s: &TestServer) -> (RawControl, RawControl) {
    let mut bob = session(&s.addr(), "bob").await;
    stor(&mut bob, "/pub.txt", b"from bob").await;
    let (code, text) = bob.exchange("SITE SHARE alice /pub.txt").await;
    assert_eq!(code, 200, "{text}");

    let mut home = session(&s.addr(), "alice").await;
    stor(&mut home, "/mine.txt", b"alice's").await;
    assert_eq!(retr(&mut home, "/mine.txt").await, b"alice's");
    assert_eq!(home.exchange("MKD /made").await.0, 257);
    let mut shared = session(&s.addr(), "alice").await;
    assert_eq!(retr(&mut shared, "/shared/bob/pub.txt").await, b"from bob");
    (home, shared)
}

#[tokio::test]
async fn disabling_an_account_ends_its_open_sessions_at_the_next_command() {
    let s = TestServer::start().await;
    let (mut home, mut shared) = alice_at_work(&s).await;
    let mut bob = session(&s.addr(), "bob").await;

    let o = s.ftpadm(&["user", "update", "alice", "--disable"], "");
    assert!(o.status.success(), "{}", err(&o));
    tokio::time::sleep(SETTLE).await;
    ends_with_530(&mut home, "MKD /made-after").await;
    ends_with_530(&mut shared, "SIZE /shared/bob/pub.txt").await;
    assert!(!s.home("alice").join("made-after").exists(), "the refused MKD did nothing");
    // Others go on.
    assert_eq!(bob.exchange("NOOP").await.0, 200);
    assert_eq!(code(s.connect().await.login("alice", PW).await), 530);
}

#[tokio::test]
async fn deleting_an_account_ends_its_open_sessions_at_the_next_command() {
    let s = TestServer::start().await;
    let (mut home, mut shared) = alice_at_work(&s).await;

    let o = s.ftpadm(&["user", "delete", "alice", "--purge-files"], "");
    assert!(o.status.success(), "{}", err(&o));
    // Added again under the same name before the old sessions speak: another account, which
    // the old sessions must not become.
    let o = s.ftpadm(&["user", "add", "alice", "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "{}", err(&o));
    tokio::time::sleep(SETTLE).await;
    ends_with_530(&mut home, "STOR /after.txt").await;
    ends_with_530(&mut shared, "LIST /shared").await;
    // A fresh login is the new account's.
    assert_eq!(session(&s.addr(), "alice").await.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn ftpadm_kick_ends_the_users_sessions_on_every_daemon_within_two_seconds() {
    let s = TestServer::start().await;
    // A second daemon, the real binary, on the same database.
    let other = Multiftpd::start(s.root());
    let mut here = session(&s.addr(), "alice").await;
    let mut there = session(&other.addr(), "alice").await;
    let mut bob = session(&other.addr(), "bob").await;

    let o = s.ftpadm(&["kick", "alice"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("2 online"), "{}", out(&o));
    let limit = RECHECK + Duration::from_secs(1);
    for c in [&mut here, &mut there] {
        let took = time_to_530(c).await;
        assert!(took <= limit, "ended after {took:?}");
    }
    assert_eq!(bob.exchange("NOOP").await.0, 200, "other users go on");
    // Not a ban: alice logs in again, on both daemons.
    assert_eq!(session(&s.addr(), "alice").await.exchange("NOOP").await.0, 200);
    assert_eq!(session(&other.addr(), "alice").await.exchange("NOOP").await.0, 200);

    let o = s.ftpadm(&["kick", "ghost"], "");
    assert!(!o.status.success());
    assert!(err(&o).contains("does not exist"), "{}", err(&o));
    drop(other);
}

#[tokio::test]
async fn site_kick_is_for_admins_and_listed_in_their_help() {
    let s = TestServer::start().await;
    add_user(&s.app, "boss", Role::Admin).await;
    let mut alice = session(&s.addr(), "alice").await;
    let mut bob = session(&s.addr(), "bob").await;

    let (code, text) = bob.exchange("SITE KICK alice").await;
    assert_eq!(code, 550, "{text}");
    assert!(!bob.exchange("SITE HELP").await.1.contains("KICK"));

    let mut boss = session(&s.addr(), "boss").await;
    let (code, help) = boss.exchange("SITE HELP").await;
    assert_eq!(code, 214);
    assert!(help.contains("SITE KICK <user>"), "{help}");
    assert_eq!(boss.exchange("SITE KICK").await.0, 501);
    assert_eq!(boss.exchange("SITE KICK a b").await.0, 501);
    let (code, text) = boss.exchange("SITE KICK ghost").await;
    assert_eq!(code, 550, "{text}");
    let (code, text) = boss.exchange("SITE KICK alice").await;
    assert_eq!(code, 200, "{text}");
    let took = time_to_530(&mut alice).await;
    assert!(took <= RECHECK + Duration::from_secs(1), "ended after {took:?}");
    assert_eq!(bob.exchange("NOOP").await.0, 200);
    assert_eq!(boss.exchange("NOOP").await.0, 200);
    assert_eq!(session(&s.addr(), "alice").await.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn thirty_wrong_current_passwords_in_site_passwd_are_throttled() {
    let s = TestServer::start().await;
    let mut alice = session(&s.addr(), "alice").await;
    let mut replies = Vec::new();
    for i in 0..30 {
        replies.push(alice.exchange(&format!("SITE PASSWD guess{i:02}xx newpass123")).await);
    }
    assert!(replies.iter().all(|(c, _)| *c == 550), "{replies:?}");
    let wrong = replies.iter().filter(|(_, t)| t.contains("current password is wrong")).count();
    let blocked = replies.iter().filter(|(_, t)| t.contains("Too many")).count();
    assert_eq!((wrong, blocked), (3, 27), "{replies:?}");
    // During the block even the right password is refused, unchecked: guessing gains nothing.
    let (code, text) = alice.exchange(&format!("SITE PASSWD {PW} newpass123")).await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("Too many"), "{text}");
    s.connect().await.login("alice", PW).await.expect("the password did not change");
    // Per user: bob's first wrong guess is just wrong.
    let mut bob = session(&s.addr(), "bob").await;
    let (_, text) = bob.exchange("SITE PASSWD guess00xx newpass123").await;
    assert!(text.contains("current password is wrong"), "{text}");
}

#[tokio::test]
async fn site_passwd_blocks_last_failed_logins_block_seconds() {
    let extra = multiftp::config::RawConfig {
        failed_logins_max: Some(2),
        failed_logins_block: Some(2),
        ..Default::default()
    };
    let s = TestServer::start_custom(&["alice"], extra).await;
    let mut alice = session(&s.addr(), "alice").await;
    for _ in 0..2 {
        assert_eq!(alice.exchange("SITE PASSWD wrongpass1 newpass123").await.0, 550);
    }
    let (_, text) = alice.exchange(&format!("SITE PASSWD {PW} newpass123")).await;
    assert!(text.contains("Too many"), "{text}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (code, text) = alice.exchange(&format!("SITE PASSWD {PW} newpass123")).await;
    assert_eq!(code, 200, "{text}");
}

#[tokio::test]
async fn a_login_succeeds_when_its_time_cannot_be_written() {
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("root");
    create_database(&root);
    let o = ftpadm_at(&root, &["user", "add", "alice", "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "{}", err(&o));
    let daemon = Multiftpd::start(&root);
    // From now on no file of the daemon can grow or be written past byte 0: every database
    // write fails, as on a full disk (RLIMIT_FSIZE; the daemon ignores SIGXFSZ, so the write
    // returns EFBIG).
    let pid = daemon.child.id().to_string();
    let o = Command::new("prlimit").args(["--pid", &pid, "--fsize=0"]).output().unwrap();
    assert!(o.status.success(), "prlimit: {}", err(&o));

    for round in 0..2 {
        let mut c = RawControl::connect(&daemon.addr()).await;
        assert_eq!(c.next_reply(10).await.unwrap().0, 220);
        assert_eq!(c.exchange("USER alice").await.0, 331);
        let (code, text) = c.exchange(&format!("PASS {PW}")).await;
        assert_eq!(code, 230, "login {round}: {text}");
        assert_eq!(c.exchange("PWD").await.0, 257);
        assert_eq!(c.exchange("QUIT").await.0, 221);
    }
    let log = daemon.stop();
    assert!(log.contains("could not record the login time"), "{log}");
    assert!(!log.contains("login failed"), "not counted as a failed login: {log}");
    let acc = ftpadm_at(&root, &["--json", "user", "show", "alice"], "");
    let v: serde_json::Value = serde_json::from_slice(&acc.stdout).unwrap();
    assert!(v["last_login_at"].is_null(), "the write really failed: {v}");
}

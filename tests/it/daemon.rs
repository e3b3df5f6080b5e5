//! The real `multiftpd` binary: logs, the fail2ban filter, the transfer log, signals.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

/// The failregex lines of our fail2ban filter, as Rust regexes with a `host` group.
fn fail2ban_regexes() -> Vec<regex::Regex> {
    let filter = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/fail2ban/multiftp.conf"
    ))
    .unwrap();
    let mut lines = Vec::new();
    // The filter's own `name = value` definitions, which fail2ban puts in for `%(name)s`.
    let mut defs = Vec::new();
    let mut in_fail = false;
    for line in filter.lines() {
        if let Some(rest) = line.strip_prefix("failregex =") {
            in_fail = true;
            lines.push(rest.trim().to_string());
        } else if in_fail && line.starts_with(char::is_whitespace) && !line.trim().is_empty() {
            lines.push(line.trim().to_string());
        } else {
            in_fail = false;
            if let Some((name, value)) = line.split_once(" = ")
                && !name.starts_with('#')
            {
                defs.push((format!("%({})s", name.trim()), value.trim().to_string()));
            }
        }
    }
    assert_eq!(lines.len(), 2, "{filter}");
    let expand = |mut l: String| {
        while let Some((name, value)) = defs.iter().find(|(name, _)| l.contains(name.as_str())) {
            l = l.replace(name.as_str(), value);
        }
        l
    };
    lines
        .into_iter()
        .map(|l| expand(l).replace("<HOST>", r"(?P<host>[0-9a-fA-F.:]+)"))
        .map(|l| regex::Regex::new(&l).unwrap())
        .collect()
}

#[test]
fn the_fail2ban_filter_matches_the_failures_the_daemon_logs_in_both_formats() {
    for format in ["text", "json"] {
        let (_dir, _d, log) = daemon_after_failed_logins(format);
        assert!(!log.contains(PW) && !log.contains("wrongpass1"), "passwords never logged: {log}");
        let res = fail2ban_regexes();
        let hits: Vec<String> = log
            .lines()
            .filter_map(|l| res.iter().find_map(|r| r.captures(l)).map(|c| c["host"].to_string()))
            .collect();
        assert_eq!(hits, ["127.0.0.1", "127.0.0.1"], "{format}: {log}");
        assert!(log.contains("multiftpd starting"), "{log}");
    }
}

#[test]
fn the_transfer_log_records_uploads_downloads_and_deletes() {
    let (dir, root) = root_with(&["alice"]);
    let xfer = dir.path().join("xferlog");
    let d = Daemon::start(&root, &["--transfer-log", xfer.to_str().unwrap()]);
    let src = dir.path().join("a file.bin");
    std::fs::write(&src, data(12345)).unwrap();
    assert!(
        curl(&["-T", src.to_str().unwrap(), &d.url("alice", PW, "/a%20file.bin")]).status.success()
    );
    assert!(curl(&[&d.url("alice", PW, "/a%20file.bin")]).status.success());
    assert!(curl(&["-Q", "DELE a file.bin", &d.url("alice", PW, "/")]).status.success());
    let read = || std::fs::read_to_string(&xfer).unwrap_or_default();
    assert!(wait_until(|| read().lines().count() >= 3, Duration::from_secs(10)), "{}", read());
    let text = read();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let re = regex::Regex::new(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} 0 127\.0\.0\.1 (\d+) (\S+) b _ ([iod]) r alice ftp 0 \* c$").unwrap();
    let parsed: Vec<(String, String, String)> = lines
        .iter()
        .map(|l| {
            let c = re.captures(l).unwrap_or_else(|| panic!("not xferlog: {l}"));
            (c[1].to_string(), c[2].to_string(), c[3].to_string())
        })
        .collect();
    assert_eq!(parsed[0], ("12345".into(), "/a_file.bin".into(), "i".into()));
    assert_eq!(parsed[1], ("12345".into(), "/a_file.bin".into(), "o".into()));
    assert_eq!(parsed[2].2, "d");
}

#[test]
fn sigterm_lets_an_upload_in_flight_finish_then_exits_0() {
    let (dir, root) = root_with(&["alice"]);
    let mut d = Daemon::start(&root, &["--shutdown-grace", "20"]);
    let src = dir.path().join("big.bin");
    let body = data(3 << 20);
    std::fs::write(&src, &body).unwrap();
    // About 3 s at 1 MiB/s; the signal comes in the middle, once a third has arrived.
    let upload = Command::new("curl")
        .args(["-sS", "--max-time", "60", "--limit-rate", "1M", "-T", src.to_str().unwrap()])
        .arg(d.url("alice", PW, "/big.bin"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let target = root.join("home/alice/big.bin");
    let arrived = || std::fs::metadata(&target).map_or(0, |m| m.len());
    assert!(wait_until(|| arrived() >= 1 << 20, Duration::from_secs(20)), "upload did not start");
    assert!(arrived() < body.len() as u64, "the upload was over before the signal");
    d.signal("-TERM");
    let out = upload.wait_with_output().unwrap();
    assert!(out.status.success(), "upload failed: {}", String::from_utf8_lossy(&out.stderr));
    same(&std::fs::read(&target).unwrap(), &body, "upload in flight");
    let status = d.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    assert!(d.stderr().contains("SIGTERM received"), "{}", d.stderr());
    // New connections are refused once it is down.
    assert!(std::net::TcpStream::connect(("127.0.0.1", d.port)).is_err());
}

#[test]
fn session_limits_refuse_extra_logins_with_530() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    let mut d = Daemon::start(&root, &["--max-sessions-per-user", "1", "--max-sessions", "2"]);
    let login = |user: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = std::io::BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        use std::io::{BufRead, Write};
        r.read_line(&mut line).unwrap();
        write!(s, "USER {user}\r\nPASS {PW}\r\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        (s, r, line)
    };
    let (_a1, _r1, reply) = login("alice");
    assert!(reply.starts_with("230"), "{reply}");
    let (_a2, _r2, reply) = login("alice");
    assert!(reply.starts_with("530 too many sessions for alice"), "second alice session: {reply}");
    let (_b1, _r3, reply) = login("bob");
    assert!(reply.starts_with("230"), "{reply}");
    ftpadm_add_user(&root, "carol");
    let (_c1, _r4, reply) = login("carol");
    assert!(reply.starts_with("530 server full"), "server full: {reply}");
    // The refusal is logged after the reply is sent: wait for the line.
    let log = d.wait_log("max_sessions)", 1);
    assert!(log.contains("max_sessions_per_user") && log.contains("max_sessions)"), "{log}");
}

#[test]
fn metrics_and_health_are_served_over_http() {
    let (dir, root) = root_with(&["alice"]);
    let http = format!("127.0.0.1:{}", unused_port());
    let d = Daemon::start(&root, &["--http-bind", &http]);
    let src = dir.path().join("f.bin");
    std::fs::write(&src, data(1000)).unwrap();
    assert!(curl(&["-T", src.to_str().unwrap(), &d.url("alice", PW, "/f.bin")]).status.success());
    assert!(!curl(&[&d.url("alice", "wrongpass1", "/")]).status.success());
    let health = curl(&["-i", &format!("http://{http}/health")]);
    assert!(out(&health).starts_with("HTTP/1.1 200"), "{}", out(&health));
    let metrics = out(&curl(&[&format!("http://{http}/metrics")]));
    for needle in [
        "multiftp_users 1",
        "multiftp_logins_total{result=\"ok\"} 1",
        "multiftp_logins_total{result=\"failed\"} 1",
        "multiftp_sessions ",
        "multiftp_transfer_bytes_total{direction=\"upload\"} 1000",
    ] {
        assert!(metrics.contains(needle), "{needle}:\n{metrics}");
    }
    let missing = curl(&["-i", &format!("http://{http}/nope")]);
    assert!(out(&missing).starts_with("HTTP/1.1 404"));
}

/// The variables of a running process, from /proc.
fn environ(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

#[tokio::test]
async fn the_daemon_serves_with_its_allocator_settings_unless_the_environment_chooses() {
    let (_dir, root) = root_with(&["alice"]);
    // Restarted in place (same pid) with GLIBC_TUNABLES, and serving.
    let d = Daemon::start(&root, &[]);
    // glibc (2.36) ends each value it reads from GLIBC_TUNABLES with a NUL written over the
    // ':' after it, in the process's original environment block: /proc shows the variable cut
    // into one entry per setting, so the entries are joined back with ':' to compare.
    let ours = format!("GLIBC_TUNABLES={}", multiftp::cli::GLIBC_TUNABLES);
    let env = environ(d.pid());
    let found = env.iter().enumerate().any(|(i, v)| {
        v.starts_with("GLIBC_TUNABLES=") && (i..env.len()).any(|end| env[i..=end].join(":") == ours)
    });
    assert!(found, "{ours} in {env:?}");
    login(&d).await;
    drop(d);
    // An admin's own choice stands, whether GLIBC_TUNABLES or a MALLOC_* variable.
    for (name, value) in [("GLIBC_TUNABLES", "glibc.malloc.arena_max=4"), ("MALLOC_ARENA_MAX", "4")]
    {
        let d = Daemon::on(&root).env(name, value).start();
        let env = environ(d.pid());
        assert!(env.contains(&format!("{name}={value}")), "{env:?}");
        let theirs = format!("{name}={value}");
        let added = |v: &String| {
            (v.starts_with("GLIBC_TUNABLES=") && *v != theirs) || v.contains("trim_threshold")
        };
        assert!(!env.iter().any(added), "{env:?}");
        login(&d).await;
    }
}

async fn login(d: &Daemon) {
    let mut ftp = suppaftp::tokio::AsyncFtpStream::connect(d.addr()).await.unwrap();
    ftp.login("alice", PW).await.unwrap();
    ftp.quit().await.unwrap();
}

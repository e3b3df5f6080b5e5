//! Operating the real `multiftpd` and `ftpadm`: the shipped fail2ban filter under the real
//! `fail2ban-regex` (log file and journal), SIGHUP reloads (renewed certificate, rotated
//! transfer log, changed configuration file) and file ownership when `ftpadm` runs as root.
//!
//! External tools (`.ci/run` installs them): fail2ban-regex, systemd-journal-remote and
//! journalctl, python3, curl. Every one runs under `timeout`, so no test can hang.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::harness::*;

/// The uid tests hand data roots to (`nobody` on Debian).
const NOBODY: u32 = 65534;

/// Runs `program args` with a 60 s limit; panics with a hint when it is missing.
fn tool(program: &str, args: &[&str]) -> Output {
    run_bounded(Command::new(program).args(args), "", 60)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

// ---- 14: the fail2ban filter under the real fail2ban-regex ----

const FILTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/fail2ban/multiftp.conf");

/// The addresses `fail2ban-regex` finds with our filter in `log` (a file, or
/// `systemd-journal[...]`).
fn fail2ban_hits(log: &str) -> Vec<String> {
    let o = tool("fail2ban-regex", &["--out", "ip", log, FILTER]);
    assert!(o.status.success(), "fail2ban-regex {log}: {}{}", out(&o), err(&o));
    out(&o).lines().map(str::to_string).collect()
}

/// `systemd-journal-remote`, which writes journal files (Debian puts it in /lib/systemd).
fn journal_remote() -> &'static str {
    ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("systemd-journal-remote is required (.ci/run installs it)")
}

/// Puts `lines` in a journal file as journald stores a service's stderr: one entry per line
/// with the unit, identifier, pid and host it adds (journal export format, converted by
/// systemd-journal-remote). One line of another unit with a failure for 198.51.100.7 goes
/// with them: the filter's journalmatch must leave it out.
fn write_journal(lines: &str, pid: u32, file: &Path) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let us = now.as_micros();
    let mut export = String::new();
    let mut entry = |i: usize, unit: &str, message: &str| {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=ftphost\n_TRANSPORT=stdout\n\
             _SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER=multiftpd\n_COMM=multiftpd\n_PID={pid}\n\
             PRIORITY=6\nMESSAGE={message}\n\n",
            us + i as u128,
            1_000_000 + i,
        ));
    };
    let lines: Vec<&str> = lines.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        entry(i, "multiftpd.service", line);
    }
    let foreign = "2026-11-25T15:17:09.737745Z  WARN login failed user=x ip=198.51.100.7";
    entry(lines.len(), "other.service", foreign);
    let o = run_bounded(Command::new(journal_remote()).arg("-o").arg(file).arg("-"), &export, 60);
    assert!(o.status.success(), "systemd-journal-remote: {}", err(&o));
}

#[test]
fn fail2ban_regex_finds_the_failures_in_log_files_and_in_the_journal() {
    for format in ["text", "json"] {
        let (dir, d, log) = daemon_after_failed_logins(format);
        assert_eq!(log.matches("login failed").count(), 2, "{format}: {log}");
        let two = ["127.0.0.1", "127.0.0.1"];

        // The log as a file (stderr redirected, or a syslog file).
        let hits = fail2ban_hits(d.log_file().to_str().unwrap());
        assert_eq!(hits, two, "{format}, log file: {log}");

        // The jail's backend: the journal, read by fail2ban's systemd backend with the
        // filter's journalmatch.
        let journal = dir.path().join("multiftpd.journal");
        write_journal(&log, d.pid(), &journal);
        let hits = fail2ban_hits(&format!("systemd-journal[journalfiles={}]", journal.display()));
        assert_eq!(hits, two, "{format}, journal: {log}");

        // The service's journal as `journalctl -u multiftpd -o short` prints it, in a file.
        let file = journal.to_str().unwrap();
        let unit = "_SYSTEMD_UNIT=multiftpd.service";
        let o = tool("journalctl", &["--file", file, "-o", "short", unit]);
        assert!(o.status.success(), "journalctl: {}", err(&o));
        let short = dir.path().join("short.log");
        std::fs::write(&short, out(&o)).unwrap();
        assert!(out(&o).contains("ftphost multiftpd["), "{}", out(&o));
        let hits = fail2ban_hits(short.to_str().unwrap());
        assert_eq!(hits, two, "{format}, journalctl -o short: {}", out(&o));
    }
}

#[test]
fn a_user_name_cannot_choose_the_banned_address() {
    let (_dir, root) = root_with(&["alice"]);
    for format in ["text", "json"] {
        let mut d = Daemon::start(&root, &["--log-format", format]);
        let mut c = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(c.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        write!(c, "USER x ip=192.0.2.1 \"ip\":\"192.0.2.2\"\r\nPASS wrongpass1\r\n").unwrap();
        for _ in 0..2 {
            line.clear();
            r.read_line(&mut line).unwrap();
        }
        assert!(line.starts_with("530"), "{line}");
        d.wait_log("login failed", 1);
        let hits = fail2ban_hits(d.log_file().to_str().unwrap());
        assert_eq!(hits, ["127.0.0.1"], "{format}: {}", d.stderr());
    }
}

// ---- 15: SIGHUP reloads ----

/// The SHA-256 of the certificate a new explicit-FTPS connection to `port` is shown.
fn served_fingerprint(port: u16) -> String {
    let script = r#"
import hashlib, socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
assert f.readline().startswith(b"220")
s.sendall(b"AUTH TLS\r\n")
assert f.readline().startswith(b"234")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
print(hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())
"#;
    let o = tool("python3", &["-c", script, &port.to_string()]);
    assert!(o.status.success(), "{}", err(&o));
    out(&o).trim().to_string()
}

/// The SHA-256 of the (first) certificate in the PEM file `cert`.
fn file_fingerprint(cert: &Path) -> String {
    let script = "import hashlib, ssl, sys\n\
                  print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read())).hexdigest())";
    let o = tool("python3", &["-c", script, cert.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    out(&o).trim().to_string()
}

/// Waits (at most 10 s) until new connections are shown the certificate in `cert`.
fn wait_served(port: u16, cert: &Path) {
    let want = file_fingerprint(cert);
    let mut got = String::new();
    let served = wait_until(
        || {
            got = served_fingerprint(port);
            got == want
        },
        Duration::from_secs(10),
    );
    assert!(served, "still served {got}, want {want}");
}

/// An FTPS session (Python's ftplib) opened now that goes on after reloads: it logs in with
/// PROT P, waits for a line on stdin, then uploads and downloads and prints `ok`.
fn old_session(port: u16) -> (Child, BufReader<std::process::ChildStdout>) {
    let script = r#"
import ftplib, io, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=ctx, timeout=20)
ftp.connect("127.0.0.1", int(sys.argv[1]))
ftp.auth()
ftp.login("alice", sys.argv[2])
ftp.prot_p()
print("ready", flush=True)
sys.stdin.readline()
ftp.voidcmd("NOOP")
body = b"x" * 100000
ftp.storbinary("STOR old.bin", io.BytesIO(body))
got = io.BytesIO()
ftp.retrbinary("RETR old.bin", got.write)
assert got.getvalue() == body
ftp.quit()
print("ok", flush=True)
"#;
    let mut child = Command::new("timeout")
        // The session waits for the test between its steps, so it cannot run through
        // `run_bounded`: timeout(1) bounds it.
        .args(["60", "python3", "-c", script, &port.to_string(), PW])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n", "the FTPS session did not start");
    (child, lines)
}

#[test]
fn sighup_reloads_a_renewed_certificate_and_sessions_go_on() {
    let (dir, root) = root_with(&["alice"]);
    // certbot's layout: the daemon reads fixed paths whose contents are renewed.
    let live = dir.path().join("live");
    let (cert, key) = self_signed_pair(&live);
    let config = dir.path().join("multiftpd.toml");
    let settings = |cert: &Path, key: &Path, greeting: &str| {
        format!(
            "tls_cert = {:?}\ntls_key = {:?}\ngreeting = {greeting:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        )
    };
    std::fs::write(&config, settings(&cert, &key, "Welcome to multiftp")).unwrap();
    let mut d = Daemon::start(&root, &["--config", config.to_str().unwrap()]);
    wait_served(d.port, &cert);
    let (mut session, mut session_out) = old_session(d.port);

    // Renewed in place, then `systemctl reload` (ExecReload sends HUP).
    let (renewed_cert, renewed_key) = self_signed_pair(&dir.path().join("renewed"));
    std::fs::rename(&renewed_key, &key).unwrap();
    std::fs::rename(&renewed_cert, &cert).unwrap();
    d.signal("-HUP");
    wait_served(d.port, &cert);
    d.wait_log("reload done", 1);
    assert!(d.stderr().contains("SIGHUP received"), "{}", d.stderr());

    // The configuration file names other files, and changes a setting that needs a restart.
    let (other_cert, other_key) = self_signed_pair(&dir.path().join("other"));
    std::fs::write(&config, settings(&other_cert, &other_key, "changed")).unwrap();
    d.signal("-HUP");
    wait_served(d.port, &other_cert);
    d.wait_log("reload done", 2);
    d.wait_log("take effect only after a restart", 1);
    assert!(d.stderr().contains("settings=greeting"), "{}", d.stderr());

    // A broken certificate changes nothing and does not stop the daemon.
    let in_force = file_fingerprint(&other_cert);
    std::fs::write(&other_cert, "not a certificate").unwrap();
    d.signal("-HUP");
    d.wait_log("FTPS certificate not reloaded", 1);
    assert_eq!(served_fingerprint(d.port), in_force);

    // The session opened before all this still works, data connections included.
    session.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut line = String::new();
    session_out.read_line(&mut line).unwrap();
    let status = session.wait().unwrap();
    assert_eq!(line, "ok\n", "old session: {status}");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn sighup_reopens_a_rotated_transfer_log() {
    let (dir, root) = root_with(&["alice"]);
    let xfer = dir.path().join("xferlog");
    let mut d = Daemon::start(&root, &["--transfer-log", xfer.to_str().unwrap()]);
    let src = dir.path().join("f.bin");
    std::fs::write(&src, data(1000)).unwrap();
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap_or_default().lines().count();
    let upload = |url: String| {
        let o = curl(&["-T", src.to_str().unwrap(), &url]);
        assert!(o.status.success(), "{}", err(&o));
    };
    let wait_lines = |p: &Path, n: usize| {
        let done = wait_until(|| lines(p) >= n, Duration::from_secs(10));
        assert!(done, "{} has {} lines", p.display(), lines(p));
    };
    upload(d.url("alice", PW, "/one.bin"));
    wait_lines(&xfer, 1);
    // logrotate: rename, then `postrotate systemctl reload multiftpd`.
    let rotated = dir.path().join("xferlog.1");
    std::fs::rename(&xfer, &rotated).unwrap();
    d.signal("-HUP");
    d.wait_log("transfer log reopened", 1);
    upload(d.url("alice", PW, "/two.bin"));
    wait_lines(&xfer, 1);
    assert_eq!(lines(&rotated), 1);
    assert!(std::fs::read_to_string(&xfer).unwrap().contains("/two.bin"));
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn the_unit_reloads_with_sighup() {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/multiftpd.service"))
            .unwrap();
    let reload: Vec<&str> = unit.lines().filter(|l| l.starts_with("ExecReload=")).collect();
    assert_eq!(reload, ["ExecReload=/bin/kill -HUP $MAINPID"]);
}

// ---- 12: ownership when ftpadm runs as root ----

/// A data root owned by [`NOBODY`] in a folder everyone may enter; `None` when the tests do
/// not run as root (only root can make one).
fn nobody_root() -> Option<(tempfile::TempDir, PathBuf)> {
    if !is_root() {
        eprintln!("not running as root: skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::chown(&root, Some(NOBODY), Some(NOBODY)).unwrap();
    Some((dir, root))
}

#[test]
fn homes_made_by_root_belong_to_the_service_user_who_can_write_them() {
    let Some((dir, root)) = nobody_root() else { return };
    // The service user's side: its key (given to it with --owner) and its first start,
    // which makes the database.
    let tls = dir.path().join("tls");
    let o = run_bounded(
        ftpadm()
            .args(["cert", "self-signed", "--host", "localhost", "--owner", "nobody", "--out-dir"])
            .arg(&tls),
        "",
        60,
    );
    assert!(o.status.success(), "{}", err(&o));
    for f in ["cert.pem", "key.pem"] {
        let m = std::fs::metadata(tls.join(f)).unwrap();
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{f}");
    }
    assert_eq!(std::fs::metadata(tls.join("key.pem")).unwrap().mode() & 0o777, 0o600);
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    // Only where nobody may run the binary (not when the tree is in a private home).
    let runnable = {
        use std::os::unix::process::CommandExt;
        multiftpd()
            .arg("--version")
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    };
    let d = runnable.then(|| {
        let tls = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
        Daemon::on(&root).args(tls).uid(NOBODY).start()
    });

    // The admin's side: `sudo ftpadm user add`, as root.
    if d.is_none() {
        create_database(&root);
    }
    let o = ftpadm_at(&root, &["user", "add", "alice", "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "{}", err(&o));
    let warning = err(&o);
    assert!(
        warning.contains("warning") && warning.contains("'nobody' (uid 65534)"),
        "ftpadm as root on nobody's root must warn: {warning}"
    );
    for folder in [root.join("home"), root.join("home/alice")] {
        let m = std::fs::metadata(&folder).unwrap();
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", folder.display());
    }

    // The daemon, running as nobody, can write alice's home (550 before).
    let Some(d) = d else {
        eprintln!("nobody cannot run multiftpd here: the upload is skipped");
        return;
    };
    let src = dir.path().join("up.bin");
    std::fs::write(&src, data(5000)).unwrap();
    let o =
        curl(&["--ssl-reqd", "-k", "-T", src.to_str().unwrap(), &d.url("alice", PW, "/up.bin")]);
    assert!(o.status.success(), "upload as the service user: {}{}", err(&o), d.stderr());
    same(&std::fs::read(root.join("home/alice/up.bin")).unwrap(), &data(5000), "upload");
}

#[test]
fn a_database_made_by_root_belongs_to_the_service_user() {
    let Some((_dir, root)) = nobody_root() else { return };
    // What `sudo ftpadm` does on a new root (the library opens, and so creates, it).
    create_database(&root);
    for path in [root.join("multiftp.db"), root.join("home")] {
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", path.display());
    }
}

#[test]
fn ftpadm_as_the_roots_owner_does_not_warn() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    create_database(&root);
    let o = ftpadm_at(&root, &["user", "add", "alice", "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "{}", err(&o));
    assert!(!err(&o).contains("warning"), "{}", err(&o));
    let me = rustix::process::geteuid().as_raw();
    assert_eq!(std::fs::metadata(root.join("home/alice")).unwrap().uid(), me);
}

#[test]
fn cert_owner_must_be_a_known_user_and_nothing_is_written_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("tls");
    let o = run_bounded(
        ftpadm()
            .args(["cert", "self-signed", "--host", "localhost", "--owner", "no-such-user-x"])
            .arg("--out-dir")
            .arg(&out_dir),
        "",
        60,
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("no user 'no-such-user-x'"), "{}", err(&o));
    assert!(!out_dir.join("key.pem").exists() && !out_dir.join("cert.pem").exists());
}

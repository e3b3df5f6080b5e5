//! PostgreSQL as the database (issue 14): `ftpadm` and the daemon on one `postgres://` URL,
//! shares and messages there, a database outage (421, `/health` 503, recovery without a
//! restart), one-line errors for bad URLs, wrong passwords and unreachable servers, and
//! several processes migrating one database at once. Each test starts its own server
//! ([`PgServer`]).

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::harness::{
    Daemon, PW, code_of, curl, data, err, ftpadm, get, multiftpd, out, put, run_bounded, same,
    unused_port, wait_until,
};
use crate::pgserver::{PG_PASSWORD, PgServer};
use multiftp::account::Role;
use multiftp::account::store::{UserChanges, UserStore};
use multiftp::config::RawConfig;
use multiftp::{App, Settings};

/// `ftpadm --root root --db db args`, the password in `PGPASSWORD`, at most a minute.
pub(crate) fn ftpadm_pg(root: &Path, db: &str, args: &[&str], stdin: &str) -> Output {
    let mut cmd = ftpadm();
    cmd.arg("--root").arg(root).args(["--db", db]).args(args).env("PGPASSWORD", PG_PASSWORD);
    run_bounded(&mut cmd, stdin, 60)
}

/// Adds `users` (password [`PW`]) with `ftpadm` against the server's URL.
pub(crate) fn add_users(pg: &PgServer, root: &Path, users: &[&str]) {
    for user in users {
        let o = ftpadm_pg(
            root,
            &pg.url(),
            &["user", "add", user, "--password-stdin"],
            &format!("{PW}\n"),
        );
        assert!(o.status.success(), "ftpadm user add {user}: {}", err(&o));
    }
}

/// The server's URL with `?passfile=` naming a pgpass file written beside `root`: what a
/// daemon over `root` is given, so no password is on its command line.
pub(crate) fn db_with_passfile(pg: &PgServer, root: &Path) -> String {
    let passfile = pg.passfile(root.parent().unwrap());
    format!("{}?passfile={}", pg.url(), passfile.display())
}

/// The daemon over `root` on the server, its password from a passfile named in the URL.
pub(crate) fn daemon_on(pg: &PgServer, root: &Path, extra: &[&str]) -> Daemon {
    Daemon::on(root).args(["--db", db_with_passfile(pg, root).as_str()]).args(extra).start()
}

async fn login(d: &Daemon, user: &str) -> suppaftp::tokio::AsyncFtpStream {
    let mut ftp = suppaftp::tokio::AsyncFtpStream::connect(d.addr()).await.unwrap();
    ftp.login(user, PW).await.unwrap_or_else(|e| panic!("login as {user}: {e}"));
    ftp.transfer_type(suppaftp::types::FileType::Binary).await.unwrap();
    ftp
}

/// The reply code and text to `USER user` / `PASS password` on a fresh connection.
fn try_login(addr: &str, user: &str) -> (u32, String) {
    use std::io::{BufRead, BufReader, Write};
    let conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("220"), "{line}");
    writer.write_all(format!("USER {user}\r\n").as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    writer.write_all(format!("PASS {PW}\r\n").as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    (code_of(&line), line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftpadm_and_the_daemon_share_a_postgres_database() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    add_users(&pg, &root, &["alice", "bob"]);
    let o =
        ftpadm_pg(&root, &pg.url(), &["user", "add", "alice", "--password-stdin"], "x1234567\n");
    assert_eq!(o.status.code(), Some(1), "a second alice: {}", err(&o));
    assert!(err(&o).contains("already exists"), "{}", err(&o));
    // No SQLite file appears: the URL is the database.
    assert!(!root.join("multiftp.db").exists());

    let d = daemon_on(&pg, &root, &[]);
    assert!(d.stderr().contains(&pg.url()), "the start names the database: {}", d.stderr());
    assert!(!d.stderr().contains(PG_PASSWORD), "{}", d.stderr());
    let mut alice = login(&d, "alice").await;
    let body = data(300_000);
    alice.mkdir("docs").await.unwrap();
    put(&mut alice, "docs/plan.bin", &body).await;
    assert_eq!(alice.size("docs/plan.bin").await.unwrap(), body.len());
    let got = get(&mut alice, "docs/plan.bin").await.unwrap();
    same(&got, &body, "round trip through the daemon on PostgreSQL");

    // Shares: made over FTP, seen by the recipient and by ftpadm; they follow a rename.
    let r = alice.site("SHARE bob /docs").await.unwrap();
    assert_eq!(r.status.code(), 200);
    let mut bob = login(&d, "bob").await;
    assert_eq!(bob.nlst(Some("/shared/alice/docs")).await.unwrap(), ["plan.bin"]);
    alice.rename("docs", "papers").await.unwrap();
    assert_eq!(bob.nlst(Some("/shared/alice/papers")).await.unwrap(), ["plan.bin"]);
    let o = ftpadm_pg(&root, &pg.url(), &["share", "list"], "");
    assert!(out(&o).contains("/papers"), "{}{}", out(&o), err(&o));

    // Messages: one to bob, one to all, read once.
    let r = alice.site("MSG bob lunch at 12?").await.unwrap();
    assert_eq!(r.status.code(), 200);
    let o = ftpadm_pg(&root, &pg.url(), &["msg", "send", "--all", "maintenance at 18:00"], "");
    assert!(o.status.success(), "{}", err(&o));
    let inbox = bob.site("INBOX").await.unwrap().body;
    let inbox = String::from_utf8_lossy(&inbox).into_owned();
    assert!(inbox.contains("alice (new): lunch at 12?"), "{inbox}");
    assert!(inbox.contains("maintenance at 18:00"), "{inbox}");
    let again = String::from_utf8_lossy(&bob.site("INBOX").await.unwrap().body).into_owned();
    assert!(!again.contains("(new)"), "read now: {again}");

    // Who is online, from outside the daemon.
    let o = ftpadm_pg(&root, &pg.url(), &["who"], "");
    assert!(out(&o).contains("alice") && out(&o).contains("bob"), "{}{}", out(&o), err(&o));
    let _ = alice.quit().await;
    let _ = bob.quit().await;
}

#[test]
fn ftpadm_init_on_postgres_makes_the_admin_once() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let o = ftpadm_pg(&root, &pg.url(), &["init"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains(&pg.url()) && !out(&o).contains(PG_PASSWORD), "{}", out(&o));
    let o = ftpadm_pg(&root, &pg.url(), &["init"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already has users"), "{}", err(&o));
    for args in [&["user", "update", "admin", "--no-admin"][..], &["user", "delete", "admin"]] {
        let o = ftpadm_pg(&root, &pg.url(), args, "");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", out(&o));
        assert!(err(&o).contains("last enabled admin"), "{}", err(&o));
    }
}

/// Two admins demoted at the same moment on two connections, straight through the store (no
/// service check before): PostgreSQL runs both transactions at once, and only the trigger's
/// advisory lock keeps one of them from also passing its count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_on_postgres_always_leave_an_admin() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let raw = RawConfig {
        root: Some(dir.path().join("root")),
        db: Some(pg.url_with_password()),
        ..Default::default()
    };
    let app = App::open(Settings::load(None, raw).unwrap()).await.unwrap();
    let store = UserStore::new(app.pool.clone());
    for name in ["a1", "a2"] {
        store.insert(name, "x", Role::Admin, true, "", "").await.unwrap();
    }
    let demote = UserChanges { role: Some(Role::User), ..Default::default() };
    let promote = UserChanges { role: Some(Role::Admin), ..Default::default() };
    for round in 0..20 {
        let (one, two) = tokio::join!(store.update("a1", &demote), store.update("a2", &demote));
        assert_eq!(store.count_enabled_admins().await.unwrap(), 1, "round {round}");
        let refused = match (one, two) {
            (Ok(Some(_)), Err(e)) => ("a2", e),
            (Err(e), Ok(Some(_))) => ("a1", e),
            other => panic!("round {round}: not exactly one demotion: {other:?}"),
        };
        assert!(matches!(refused.1, multiftp::Error::Forbidden(_)), "{:?}", refused.1);
        let demoted = if refused.0 == "a1" { "a2" } else { "a1" };
        store.update(demoted, &promote).await.unwrap().unwrap();
    }
    // Deleting goes through the same trigger.
    store.update("a2", &demote).await.unwrap().unwrap();
    assert!(matches!(store.delete("a1").await, Err(multiftp::Error::Forbidden(_))));
    app.pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_421_and_health_503_and_the_node_recovers() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    add_users(&pg, &root, &["alice"]);
    let http = format!("127.0.0.1:{}", unused_port());
    let d = daemon_on(&pg, &root, &["--db-acquire-timeout", "2s", "--http-bind", &http]);
    let health = || out(&curl(&["-i", &format!("http://{http}/health")]));
    assert!(health().starts_with("HTTP/1.1 200"), "{}", health());
    let addr = d.addr();
    let (c, text) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || try_login(&addr, "alice")
    })
    .await
    .unwrap();
    assert_eq!(c, 230, "{text}");

    pg.stop();
    let (c, text) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || try_login(&addr, "alice")
    })
    .await
    .unwrap();
    assert_eq!(c, 421, "a login while the database is down: {text}");
    assert!(health().starts_with("HTTP/1.1 503"), "{}", health());

    pg.start_again();
    // Back without a restart of the daemon: the pool opens new connections by itself.
    let back = wait_until(|| try_login(&addr, "alice").0 == 230, Duration::from_secs(30));
    assert!(back, "no login after the database came back: {}", d.stderr());
    assert!(health().starts_with("HTTP/1.1 200"), "{}", health());
}

/// `multiftpd` with `db` (and `PGPASSWORD` when given) over a fresh root: it must exit at
/// once with one line on stderr.
fn daemon_refuses(db: &str, password: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = multiftpd();
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--root"]).arg(dir.path().join("root")).args([
        "--db",
        db,
        "--db-acquire-timeout",
        "5s",
    ]);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    let o = run_bounded(&mut cmd, "", 30);
    assert_eq!(o.status.code(), Some(1), "{db}: {}", err(&o));
    let text = err(&o);
    let lines: Vec<_> = text.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "one error line: {text}");
    lines[0].to_string()
}

#[test]
fn bad_urls_wrong_passwords_and_unreachable_servers_are_one_line_errors() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let nobody_there = format!("postgres://postgres@127.0.0.1:{}/multiftp", unused_port());
    let wrong_in_url = format!("postgres://postgres:not-the-one@127.0.0.1:{}/multiftp", pg.port);
    let no_such_db = format!("postgres://postgres@127.0.0.1:{}/nosuchdb", pg.port);
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("mysql://u:pw@h/db", None, "unsupported scheme 'mysql'"),
        ("postgres://u:pw@h:5432/", None, "no database"),
        (&nobody_there, Some(PG_PASSWORD), "cannot reach the PostgreSQL server"),
        (&wrong_in_url, None, "refused the user or password"),
        (&no_such_db, Some(PG_PASSWORD), "no such database"),
    ];
    for (db, password, expect) in cases {
        let mut cmd = ftpadm();
        cmd.arg("--root").arg(&root).args(["--db", db, "user", "list"]).env_remove("PGPASSWORD");
        if let Some(password) = password {
            cmd.env("PGPASSWORD", password);
        }
        let o = run_bounded(&mut cmd, "", 60);
        assert_eq!(o.status.code(), Some(1), "{db}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "{db}: {}", err(&o));
        assert!(err(&o).contains(expect), "{db}: {}", err(&o));
        assert!(!err(&o).contains("not-the-one") && !err(&o).contains(":pw@"), "{}", err(&o));

        let line = daemon_refuses(db, password);
        assert!(line.contains(expect), "{db}: {line}");
        assert!(!line.contains("not-the-one") && !line.contains(":pw@"), "{line}");
    }
    // PGPASSWORD wrong: the same refusal.
    let line = daemon_refuses(&pg.url(), Some("also-wrong"));
    assert!(line.contains("refused the user or password"), "{line}");
}

#[test]
fn several_processes_migrate_one_database_at_once() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    // Each ftpadm applies the migrations at start: all at once, as nodes starting together.
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut cmd = ftpadm();
            cmd.arg("--root")
                .arg(&root)
                .args(["--db", &pg.url(), "user", "add", &format!("user{i}"), "--password-stdin"])
                .env("PGPASSWORD", PG_PASSWORD);
            std::thread::spawn(move || run_bounded(&mut cmd, &format!("{PW}\n"), 60))
        })
        .collect();
    for child in children {
        let o = child.join().unwrap();
        assert!(o.status.success(), "{}", err(&o));
    }
    let o = ftpadm_pg(&root, &pg.url(), &["user", "list"], "");
    for i in 0..6 {
        assert!(out(&o).contains(&format!("user{i}")), "{}", out(&o));
    }
    // The check-config output names the database without any password.
    let mut cmd = multiftpd();
    cmd.arg("--root").arg(&root).args(["--db", &pg.url_with_password(), "check-config"]);
    let o = run_bounded(&mut cmd, "", 30);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains(&format!("db = \"{}\"", pg.url())), "{}", out(&o));
    assert!(!out(&o).contains(PG_PASSWORD), "{}", out(&o));
}

/// TLS to PostgreSQL (`?sslmode=`): with a server that takes TCP connections only over TLS,
/// `ftpadm` and the daemon connect with `verify-full` and the CA in `sslrootcert`, and the
/// server shows their connections encrypted; without TLS, or with a CA that did not sign the
/// server's certificate, the connection is refused with a one-line error that says what to
/// check.
#[tokio::test]
async fn tls_to_postgres_with_the_ca_works_and_without_tls_or_with_another_ca_is_refused() {
    let pg = PgServer::start();
    let ca = pg.require_tls();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let tls = format!("{}?sslmode=verify-full&sslrootcert={}", pg.url(), ca.display());
    let o =
        ftpadm_pg(&root, &tls, &["user", "add", "alice", "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "ftpadm over TLS: {}", err(&o));

    // The daemon, its password from a passfile beside the TLS parameters.
    let passfile = pg.passfile(dir.path());
    let db = format!("{tls}&passfile={}", passfile.display());
    let d = Daemon::on(&root).args(["--db", db.as_str()]).start();
    let mut alice = login(&d, "alice").await;
    put(&mut alice, "over-tls.txt", b"hello").await;
    let encrypted = pg.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.datname = 'multiftp' AND s.ssl AND s.version LIKE 'TLS%'",
    );
    assert_ne!(encrypted, "0", "the server sees the daemon's connections encrypted");
    let plain = pg.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.datname = 'multiftp' AND a.client_addr IS NOT NULL AND NOT s.ssl",
    );
    assert_eq!(plain, "0", "no connection over TCP without TLS");
    let _ = alice.quit().await;

    // Without TLS: pg_hba.conf has no line for it, and the message says where to look.
    let plain_url = format!("{}?sslmode=disable", pg.url());
    let o = ftpadm_pg(&root, &plain_url, &["user", "list"], "");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("pg_hba.conf"), "{}", err(&o));
    assert_eq!(err(&o).trim().lines().count(), 1, "one line: {}", err(&o));

    // With a CA that did not sign the server's certificate: refused, naming TLS and sslrootcert.
    let other = PgServer::start();
    let other_ca = other.require_tls();
    let wrong = format!("{}?sslmode=verify-ca&sslrootcert={}", pg.url(), other_ca.display());
    let o = ftpadm_pg(&root, &wrong, &["user", "list"], "");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("TLS connection to PostgreSQL failed"), "{}", err(&o));
    assert!(err(&o).contains("sslrootcert"), "{}", err(&o));
    assert!(!err(&o).contains(PG_PASSWORD), "{}", err(&o));
}

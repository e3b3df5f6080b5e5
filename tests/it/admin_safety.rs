//! Admin safety (issue 11, items 3, 9, 10, 11 and 13), with the real `ftpadm` and `multiftpd`
//! binaries: the last enabled admin survives concurrent changes, `ftpadm` never creates a
//! database (`ftpadm init` does), the first admin's password survives a failed first start,
//! old homes are not handed to new accounts, and clear messages for empty stdin, wrong config
//! types, mismatched TLS keys and `MULTIFTP_VERBOSE`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};

use multiftp::account::{AccountChanges, Role};

use crate::harness::*;

/// `ftpadm` started, not waited for (for races).
fn spawn_ftpadm(root: &Path, args: &[&str]) -> Child {
    let mut cmd = ftpadm();
    cmd.arg("--root").arg(root).args(args).stdin(Stdio::null());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// The number of enabled admins, as `ftpadm --json user list` reports them.
fn enabled_admins(root: &Path) -> usize {
    let o = ftpadm_at(root, &["--json", "user", "list"], "");
    assert!(o.status.success(), "{}", err(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    list.as_array().unwrap().iter().filter(|u| u["role"] == "admin" && u["enabled"] == true).count()
}

/// The contents of `<root>/initial-admin-password`, checking it is private (0600).
fn password_file(root: &Path) -> String {
    let path = root.join("initial-admin-password");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} is readable by its owner only", path.display());
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

/// Whether curl lists `url`.
fn curl_lists(url: &str) -> bool {
    curl(&[url]).status.success()
}

// ---- item 3: the last enabled admin ----

#[test]
fn concurrent_ftpadm_demotions_always_leave_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    create_database(r);
    for a in ["a1", "a2"] {
        let o = ftpadm_at(r, &["user", "add", a, "--admin", "--password-stdin"], "adminpass1\n");
        assert!(o.status.success(), "{}", err(&o));
    }
    for round in 0..15 {
        let one = spawn_ftpadm(r, &["user", "update", "a1", "--no-admin"]);
        let two = spawn_ftpadm(r, &["user", "update", "a2", "--no-admin"]);
        let outputs = [one.wait_with_output().unwrap(), two.wait_with_output().unwrap()];
        assert!(enabled_admins(r) >= 1, "round {round}: no admin left");
        let ok: Vec<bool> = outputs.iter().map(|o| o.status.success()).collect();
        assert_eq!(ok.iter().filter(|s| **s).count(), 1, "round {round}: exactly one demotion");
        let (demoted, refused) = if ok[0] { ("a1", &outputs[1]) } else { ("a2", &outputs[0]) };
        assert!(err(refused).contains("last enabled admin"), "round {round}: {}", err(refused));
        let o = ftpadm_at(r, &["user", "update", demoted, "--admin"], "");
        assert!(o.status.success(), "{}", err(&o));
    }
}

#[tokio::test]
async fn site_user_set_racing_site_user_del_always_leaves_an_admin() {
    let s = TestServer::start().await;
    for round in 0..15 {
        let (p, q) = (format!("p{round}"), format!("q{round}"));
        add_user(&s.app, &p, Role::Admin).await;
        add_user(&s.app, &q, Role::Admin).await;
        // Only p and q are admins during the race: earlier rounds' survivors step down.
        for a in s.app.accounts.list().await.unwrap() {
            if a.role == Role::Admin && a.username != p && a.username != q {
                let changes = AccountChanges { role: Some(Role::User), ..Default::default() };
                s.app.accounts.update(&a.username, changes).await.unwrap();
            }
        }
        let mut sp = s.login(&p).await;
        let mut sq = s.login(&q).await;
        let set = format!("SITE USER SET {q} role user");
        let del = format!("SITE USER DEL {p}");
        let (a, b) = tokio::join!(raw(&mut sp, &set), raw(&mut sq, &del));
        let admins = s
            .app
            .accounts
            .list()
            .await
            .unwrap()
            .iter()
            .filter(|u| u.role == Role::Admin && u.enabled)
            .count();
        assert!(admins >= 1, "round {round}: no admin left after {a:?} and {b:?}");
    }
}

// ---- item 9: ftpadm never creates a database; ftpadm init ----

#[test]
fn ftpadm_never_creates_a_database_and_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong/path");
    for args in [vec!["user", "list"], vec!["user", "add", "dave", "--password-stdin"]] {
        let o = ftpadm_at(&wrong, &args, "");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = err(&o);
        assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
        let db = wrong.join("multiftp.db");
        assert!(e.contains(&db.display().to_string()), "names where it looked: {e}");
        assert!(e.contains("ftpadm --root") && e.contains("init"), "how to create one: {e}");
        assert!(e.contains("multiftpd"), "{e}");
        assert!(!wrong.exists(), "nothing created at {}", wrong.display());
    }
}

#[test]
fn ftpadm_init_creates_root_homes_database_and_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("new-root");
    let o = ftpadm_at(&r, &["init"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert!(r.join("multiftp.db").is_file() && r.join("home").is_dir());
    let password = password_file(&r);
    assert!(out(&o).contains(&format!("password: {password}")), "{}", out(&o));
    let o = ftpadm_at(&r, &["--json", "user", "show", "admin"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["role"].as_str(), v["enabled"].as_bool()), (Some("admin"), Some(true)));

    // A second init changes nothing.
    let o = ftpadm_at(&r, &["init"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already exists"), "{}", err(&o));
    assert_eq!(password_file(&r), password);

    // The generated password logs in, and the first `ftpadm passwd admin` removes its file.
    let d = Daemon::start(&r, &[]);
    assert!(curl_lists(&d.url("admin", &password, "/")));
    let o = ftpadm_at(&r, &["passwd", "admin", "--password-stdin"], "brand-new-pass1\n");
    assert!(o.status.success(), "{}", err(&o));
    assert!(!r.join("initial-admin-password").exists());
    assert!(out(&o).contains("initial-admin-password"), "{}", out(&o));
    assert!(!curl_lists(&d.url("admin", &password, "/")));
    assert!(curl_lists(&d.url("admin", "brand-new-pass1", "/")));
}

// ---- item 10: the first admin's password ----

#[test]
fn a_first_start_on_a_busy_port_keeps_the_password_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let o = run_bounded(
        multiftpd().args(["--bind", "127.0.0.1", "--port", &port, "--root"]).arg(&root),
        "",
        30,
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("already in use"), "{}", err(&o));
    let password = password_file(&root);
    assert_eq!(password.len(), 20, "{password}");
    assert!(!err(&o).contains(&password), "not shown by a start that failed: {}", err(&o));
    assert!(!err(&o).contains("First start"), "{}", err(&o));
    drop(busy);

    // The next start has users: it shows nothing new but points at the file, and the
    // password from the file works.
    let mut d = Daemon::start(&root, &[]);
    let log = d.wait_log("multiftpd starting", 1);
    assert!(!log.contains("First start") && !log.contains(&password), "{log}");
    assert!(log.contains("initial-admin-password"), "{log}");
    assert!(curl_lists(&d.url("admin", &password, "/")));
    let o = ftpadm_at(&root, &["passwd", "admin", "--password-stdin"], "brand-new-pass1\n");
    assert!(o.status.success(), "{}", err(&o));
    assert!(!root.join("initial-admin-password").exists(), "removed by ftpadm passwd admin");
}

#[test]
fn a_first_start_prints_the_password_once_serving_and_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let mut d = Daemon::start(&root, &[]);
    let log = d.wait_log("password:", 1);
    let password = password_file(&root);
    assert!(log.contains(&format!("password: {password}")), "{log}");
    assert!(log.contains("initial-admin-password"), "the block names the file: {log}");
    // Shown after the start-up line, i.e. once everything before serving went through.
    let starting = log.find("multiftpd starting").expect("start-up line");
    assert!(log.find("First start").unwrap() > starting, "{log}");
    assert!(curl_lists(&d.url("admin", &password, "/")));
}

#[test]
fn a_first_start_in_json_mode_emits_the_password_as_one_json_event() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let mut d = Daemon::start(&root, &["--log-format", "json"]);
    let password = password_file(&root);
    let log = d.wait_log(&password, 1);
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let with_password: Vec<_> =
        events.iter().filter(|e| e["fields"]["password"] == password.as_str()).collect();
    assert_eq!(with_password.len(), 1, "{log}");
    assert_eq!(with_password[0]["fields"]["username"], "admin");
    assert!(
        with_password[0]["fields"]["password_file"]
            .as_str()
            .is_some_and(|f| f.ends_with("initial-admin-password")),
        "{log}"
    );
}

#[test]
fn a_start_with_users_but_no_admin_says_how_to_make_one() {
    let (_dir, root) = root_with(&["alice"]);
    let mut d = Daemon::start(&root, &[]);
    let log = d.wait_log("multiftpd starting", 1);
    assert!(log.contains("no enabled admin"), "{log}");
    assert!(log.contains("ftpadm user update NAME --admin"), "{log}");
    assert!(!log.contains("First start") && !root.join("initial-admin-password").exists());
}

// ---- item 11: old homes, deleting yourself ----

#[test]
fn user_add_refuses_an_old_home_unless_reuse_home() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    create_database(r);
    let add = |extra: &[&str]| {
        let mut args = vec!["user", "add", "carol", "--password-stdin"];
        args.extend_from_slice(extra);
        ftpadm_at(r, &args, "carolpass1\n")
    };
    assert!(add(&[]).status.success());
    std::fs::write(r.join("home/carol/diary.txt"), b"old carol's").unwrap();
    let o = ftpadm_at(r, &["user", "delete", "carol"], "");
    assert!(o.status.success(), "{}", err(&o));

    let o = add(&[]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(e.contains("still exists") && e.contains("--reuse-home"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert_eq!(ftpadm_at(r, &["user", "show", "carol"], "").status.code(), Some(1), "not added");

    let o = add(&["--reuse-home"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(std::fs::read(r.join("home/carol/diary.txt")).unwrap(), b"old carol's");
}

#[tokio::test]
async fn site_user_add_refuses_an_old_home_and_del_refuses_yourself() {
    let s = TestServer::start().await;
    add_user(&s.app, "root1", Role::Admin).await;
    add_user(&s.app, "root2", Role::Admin).await;
    std::fs::create_dir_all(s.home("ghost")).unwrap();
    std::fs::write(s.home("ghost").join("left.txt"), b"x").unwrap();
    let mut admin = s.login("root1").await;

    let (c, t) = raw(&mut admin, "SITE USER ADD ghost ghostpass1").await;
    assert_eq!(c, 550, "{t}");
    assert!(t.contains("still exists"), "{t}");
    assert!(s.app.accounts.get("ghost").await.is_err());

    // Not the last admin (root2 is one too): refused because it is the caller.
    let (c, t) = raw(&mut admin, "SITE USER DEL root1").await;
    assert_eq!(c, 550, "{t}");
    assert!(t.contains("your own account"), "{t}");
    assert!(s.app.accounts.get("root1").await.is_ok());
    assert_eq!(raw(&mut admin, "SITE USER DEL root2").await.0, 200);
}

// ---- item 13: messages ----

#[test]
fn an_empty_stdin_is_reported_as_no_password() {
    let dir = tempfile::tempdir().unwrap();
    create_database(dir.path());
    let dev_null = ftpadm()
        .arg("--root")
        .arg(dir.path())
        .args(["user", "add", "dave", "--password-stdin"])
        .stdin(std::fs::File::open("/dev/null").unwrap())
        .output()
        .unwrap();
    let empty_line = ftpadm_at(dir.path(), &["user", "add", "dave", "--password-stdin"], "\n");
    for o in [dev_null, empty_line] {
        assert_eq!(o.status.code(), Some(1));
        let e = err(&o);
        assert!(e.contains("standard input had no password"), "{e}");
        assert!(!e.contains("at least 8"), "{e}");
    }
    assert_eq!(ftpadm_at(dir.path(), &["user", "show", "dave"], "").status.code(), Some(1));
}

#[test]
fn a_wrong_type_in_the_config_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("multiftpd.toml");
    std::fs::write(&file, "greeting = \"hi\"\nport = \"2121\"\n").unwrap();
    let o = run_bounded(multiftpd().arg("--config").arg(&file).arg("check-config"), "", 30);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("key 'port' (line 2)"), "{}", err(&o));
    let o = run_bounded(ftpadm().arg("--config").arg(&file).args(["user", "list"]), "", 60);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("key 'port'"), "{}", err(&o));
}

#[test]
fn check_config_loads_the_certificate_and_reports_a_key_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    for pair in ["a", "b"] {
        self_signed_pair(&dir.path().join(pair));
    }
    let check = |cert: &str, key: &str| {
        run_bounded(
            multiftpd()
                .arg("--root")
                .arg(dir.path().join("root"))
                .arg("--tls-cert")
                .arg(dir.path().join(cert))
                .arg("--tls-key")
                .arg(dir.path().join(key))
                .arg("check-config"),
            "",
            30,
        )
    };
    let o = check("a/cert.pem", "a/key.pem");
    assert!(o.status.success(), "{}", err(&o));
    let o = check("a/cert.pem", "b/key.pem");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("tls_key is the private key"), "{}", err(&o));
    let o = check("a/cert.pem", "a/cert.pem");
    assert_eq!(o.status.code(), Some(1), "a certificate is no key");
}

#[test]
fn multiftp_verbose_takes_boolean_words() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["1", "0", "true", "false", "yes", "no", "YES", "on", "off"] {
        let o = run_bounded(
            multiftpd()
                .env("MULTIFTP_VERBOSE", value)
                .arg("--root")
                .arg(dir.path())
                .arg("check-config"),
            "",
            30,
        );
        assert!(o.status.success(), "MULTIFTP_VERBOSE={value}: {}", err(&o));
    }
    let o = run_bounded(
        multiftpd()
            .env("MULTIFTP_VERBOSE", "maybe")
            .arg("--root")
            .arg(dir.path())
            .arg("check-config"),
        "",
        30,
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

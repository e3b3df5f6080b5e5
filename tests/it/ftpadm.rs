use std::process::{Command, Output};

use crate::harness::*;

/// A temp data root with an empty database (ftpadm never creates one).
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    create_database(dir.path());
    dir
}

#[test]
fn user_lifecycle_with_json_output() {
    let dir = root();
    let r = dir.path();
    let o = ftpadm_at(
        r,
        &[
            "user",
            "add",
            "erin",
            "--full-name",
            "Erin E",
            "--email",
            "erin@example.org",
            "--password-stdin",
        ],
        "erinpass1\n",
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(r.join("home/erin").is_dir(), "home created");

    let o = ftpadm_at(r, &["--json", "user", "list"], "");
    assert!(o.status.success());
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let erin = list.as_array().unwrap().iter().find(|u| u["username"] == "erin").unwrap();
    assert_eq!(erin["role"], "user");
    assert_eq!(erin["enabled"], true);
    assert_eq!(erin["full_name"], "Erin E");
    assert_eq!(erin["email"], "erin@example.org");

    let o =
        ftpadm_at(r, &["user", "update", "erin", "--admin", "--disable", "--email", "e@x.org"], "");
    assert!(o.status.success(), "{}", err(&o));
    let o = ftpadm_at(r, &["--json", "user", "show", "erin"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["role"].as_str(), v["enabled"].as_bool()), (Some("admin"), Some(false)));
    assert_eq!(v["email"], "e@x.org");
    assert!(v.get("password_hash").is_none(), "hash never printed");

    let o = ftpadm_at(r, &["user", "delete", "erin", "--purge-files"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert!(!r.join("home/erin").exists());
    let o = ftpadm_at(r, &["user", "show", "erin"], "");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bad_input_gets_exit_1_and_one_line_reasons() {
    let dir = root();
    let r = dir.path();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["user", "add", "Bad", "--password-stdin"], "goodpass1\n", "lowercase"),
        (vec!["user", "add", "9lives", "--password-stdin"], "goodpass1\n", "start with"),
        (vec!["user", "add", "shorty", "--password-stdin"], "short\n", "at least 8"),
        (
            vec!["user", "add", "nomail", "--email", "nope", "--password-stdin"],
            "goodpass1\n",
            "email",
        ),
        (vec!["user", "add", "notty"], "", "--password-stdin"),
        (vec!["user", "show", "ghost"], "", "does not exist"),
        (vec!["user", "delete", "ghost"], "", "does not exist"),
        (vec!["passwd", "ghost", "--password-stdin"], "goodpass1\n", "does not exist"),
    ];
    for (args, stdin, needle) in cases {
        let o = ftpadm_at(r, &args, stdin);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", err(&o));
        let e = err(&o);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: one line: {e}");
    }
    let o = ftpadm_at(r, &["user", "add", "twice", "--password-stdin"], "goodpass1\n");
    assert!(o.status.success());
    let o = ftpadm_at(r, &["user", "add", "twice", "--password-stdin"], "goodpass1\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already exists"));
}

#[test]
fn the_last_admin_cannot_be_deleted_or_demoted() {
    let dir = root();
    let r = dir.path();
    let o = ftpadm_at(r, &["user", "add", "boss", "--admin", "--password-stdin"], "bosspass1\n");
    assert!(o.status.success());
    for args in [
        vec!["user", "delete", "boss"],
        vec!["user", "update", "boss", "--no-admin"],
        vec!["user", "update", "boss", "--disable"],
    ] {
        let o = ftpadm_at(r, &args, "");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(err(&o).contains("last enabled admin"), "{}", err(&o));
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = root();
    for args in
        [vec!["user"], vec!["user", "add"], vec!["user", "list", "--bogus"], vec!["frobnicate"]]
    {
        let o = ftpadm_at(dir.path(), &args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_corrupt_database_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("multiftp.db");
    let junk =
        b"this is not a sqlite database, just some bytes that must stay as they are".repeat(100);
    std::fs::write(&db, &junk).unwrap();
    let o = ftpadm_at(dir.path(), &["user", "list"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not a valid SQLite database"), "{}", err(&o));
    assert_eq!(std::fs::read(&db).unwrap(), junk, "nothing damaged");
}

#[test]
fn an_unwritable_root_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = ftpadm_at(&file.join("sub"), &["init"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("cannot create the data root"), "{}", err(&o));
}

#[test]
fn multiftpd_reports_a_busy_port_and_a_bad_passive_range() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_multiftpd"))
            .args(["--bind", "127.0.0.1", "--port", &port, "--root"])
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already in use"), "{}", err(&o));
    let o = run(&["--passive-ports", "9000-100"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("passive port range"), "{}", err(&o));
    let o = run(&["--port", "notaport"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn environment_twins_configure_ftpadm_and_the_daemon_alike() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ftpadm"))
        .env("MULTIFTP_ROOT", dir.path())
        .args(["init"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    assert!(dir.path().join("multiftp.db").exists());
    let o = Command::new(env!("CARGO_BIN_EXE_multiftpd"))
        .env("MULTIFTP_ROOT", dir.path())
        .env("MULTIFTP_PORT", "2999")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("port = 2999"), "{}", out(&o));
}

/// Runs `ftpadm --root <root> args...` with its standard output going to `stdout`.
fn ftpadm_to(root: &std::path::Path, args: &[&str], stdout: std::process::Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftpadm"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("MULTIFTP_CONFIG")
        .env_remove("MULTIFTP_DB")
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

/// Parses the JSON that a successful `ftpadm --json ...` printed.
fn json_of(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", err(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

#[test]
fn a_reader_that_closed_the_pipe_ends_the_output_quietly() {
    let dir = root();
    let r = dir.path();
    let o = ftpadm_at(r, &["user", "add", "alice", "--admin", "--password-stdin"], "alicepass1\n");
    assert!(o.status.success(), "{}", err(&o));
    // The reader is gone before ftpadm writes anything (as after `| head -1` on a long list),
    // so every write fails with EPIPE, whatever the timing.
    for args in [
        &["user", "list"][..],
        &["--json", "user", "list"],
        &["user", "show", "alice"],
        &["share", "list"],
        &["who"],
        &["msg", "send", "--to", "alice", "hello"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = ftpadm_to(r, args, writer.into());
        let e = err(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {e}");
        assert!(!e.contains("panicked") && !e.contains("Broken pipe"), "{args:?}: {e}");
        assert_eq!(e, "", "{args:?}: nothing on stderr");
    }
}

#[test]
fn a_failed_write_to_stdout_is_an_error() {
    let dir = root();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let o = ftpadm_to(dir.path(), &["user", "list"], full.into());
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("cannot write to standard output") && !e.contains("panicked"), "{e}");
}

#[test]
fn msg_send_needs_exactly_one_of_to_and_all() {
    let dir = root();
    let o = ftpadm_at(dir.path(), &["msg", "send", "hello"], "");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("required") && e.contains("--to") && e.contains("--all"), "{e}");
    let o = ftpadm_at(dir.path(), &["msg", "send", "--to", "x", "--all", "hello"], "");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("cannot be used with"), "{}", err(&o));
}

#[test]
fn every_change_prints_a_json_result_with_json() {
    let dir = root();
    let r = dir.path();
    for name in ["alice", "bob"] {
        let o = ftpadm_at(r, &["user", "add", name, "--password-stdin"], "goodpass1\n");
        assert!(o.status.success(), "{}", err(&o));
    }
    std::fs::write(r.join("home/alice/plan.txt"), b"plan").unwrap();

    let v = json_of(&ftpadm_at(r, &["--json", "share", "add", "alice", "/plan.txt", "bob"], ""));
    assert_eq!(
        v,
        serde_json::json!({"shared": "/plan.txt", "owner": "alice", "recipient": "bob",
            "created": true, "recipient_path": "/shared/alice/plan.txt"})
    );
    let v = json_of(&ftpadm_at(r, &["--json", "share", "add", "alice", "/plan.txt", "bob"], ""));
    assert_eq!(v["created"], false, "{v}");
    let v = json_of(&ftpadm_at(r, &["--json", "share", "revoke", "alice", "/plan.txt", "bob"], ""));
    assert_eq!(
        v,
        serde_json::json!({"revoked": "/plan.txt", "owner": "alice", "recipient": "bob"})
    );

    let v = json_of(&ftpadm_at(r, &["--json", "msg", "send", "--to", "bob", "hi"], ""));
    assert_eq!(v, serde_json::json!({"sent": 1, "to": "bob", "all": false}));
    let v = json_of(&ftpadm_at(r, &["--json", "msg", "send", "--all", "maintenance"], ""));
    assert_eq!(v, serde_json::json!({"sent": 2, "to": null, "all": true}));

    let v = json_of(&ftpadm_at(r, &["--json", "passwd", "bob", "--password-stdin"], "newpass12\n"));
    assert_eq!(v, serde_json::json!({"password_changed": "bob", "removed_file": null}));
    let v = json_of(&ftpadm_at(r, &["--json", "kick", "bob"], ""));
    assert_eq!(v, serde_json::json!({"kicked": "bob", "online": 0, "within_seconds": 1}));

    let v = json_of(&ftpadm_at(r, &["--json", "user", "delete", "bob"], ""));
    let home = r.join("home/bob");
    assert_eq!(v, serde_json::json!({"deleted": "bob", "purged_files": false, "home": home}));
    let v = json_of(&ftpadm_at(r, &["--json", "user", "delete", "alice", "--purge-files"], ""));
    assert_eq!((&v["deleted"], &v["purged_files"]), (&"alice".into(), &true.into()), "{v}");

    let certs = r.join("certs");
    let dir_arg = certs.to_str().unwrap();
    let v = json_of(&ftpadm_at(
        r,
        &["--json", "cert", "self-signed", "--host", "h", "--out-dir", dir_arg],
        "",
    ));
    assert_eq!(
        v,
        serde_json::json!({"cert": certs.join("cert.pem"), "key": certs.join("key.pem")})
    );
    assert!(certs.join("cert.pem").is_file() && certs.join("key.pem").is_file());
}

#[test]
fn passwd_with_json_names_the_first_password_file_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    assert!(ftpadm_at(r, &["init"], "").status.success());
    let file = r.join("initial-admin-password");
    assert!(file.exists());
    let v =
        json_of(&ftpadm_at(r, &["--json", "passwd", "admin", "--password-stdin"], "newpass12\n"));
    assert_eq!(v, serde_json::json!({"password_changed": "admin", "removed_file": file}));
    assert!(!file.exists());
}

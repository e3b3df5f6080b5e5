//! Logins: the home and /shared after login, one 530 for every failure, users added,
//! disabled and deleted while the server runs, lock-outs, and a clean stop.

use std::time::{Duration, Instant};

use crate::harness::*;

#[tokio::test]
async fn good_login_lands_in_an_empty_home_with_the_shared_folder() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    assert_eq!(ftp.pwd().await.unwrap(), "/");
    let names = ftp.nlst(None).await.unwrap();
    assert_eq!(names, vec!["shared".to_string()]);
    assert!(s.home("alice").is_dir());
    let acc = s.app.accounts.get("alice").await.unwrap();
    assert!(acc.last_login_at.is_some(), "last login is recorded");
}

#[tokio::test]
async fn unknown_user_wrong_password_and_disabled_account_get_the_same_530() {
    let s = TestServer::start_with(&["alice", "carol"]).await;
    disable(&s.app, "carol").await;
    let mut replies = Vec::new();
    for (user, pass) in [("alice", "wrongpass1"), ("nobody", PW), ("carol", PW), ("Bad/Name", PW)] {
        let mut ftp = s.connect().await;
        let (c, _) = raw(&mut ftp, &format!("USER {user}")).await;
        assert_eq!(c, 331);
        let (c, text) = raw(&mut ftp, &format!("PASS {pass}")).await;
        replies.push((c, text));
    }
    assert_eq!(replies[0].0, 530, "{replies:?}");
    for r in &replies[1..] {
        assert_eq!(r, &replies[0], "all failures look alike");
    }
}

#[tokio::test]
async fn unknown_users_take_about_as_long_as_wrong_passwords() {
    // No blocking after the third failure: a blocked attempt is answered without argon2, and
    // the fastest of five tries would then compare two refusals instead of two verifications.
    let extra = multiftp::config::RawConfig {
        failed_logins_max: Some(100),
        ..multiftp::config::RawConfig::default()
    };
    let s = TestServer::start_custom(&["alice", "bob"], extra).await;
    async fn attempt(s: &TestServer, user: &str) -> Duration {
        let mut ftp = s.connect().await;
        raw(&mut ftp, &format!("USER {user}")).await;
        let t = Instant::now();
        let (c, _) = raw(&mut ftp, "PASS wrongpass1").await;
        assert_eq!(c, 530);
        t.elapsed()
    }
    // The same argon2 work runs in both cases. Compare the fastest of several tries: the
    // minimum filters out scheduling noise from whatever else the machine is running.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        known.push(attempt(&s, "alice").await);
        unknown.push(attempt(&s, "ghost").await);
    }
    let k = known.iter().min().unwrap().as_secs_f64();
    let u = unknown.iter().min().unwrap().as_secs_f64();
    assert!(u > k * 0.5 && u < k * 2.0, "known {k:.4}s vs unknown {u:.4}s");
}

#[tokio::test]
async fn users_added_disabled_or_deleted_with_ftpadm_take_effect_while_the_server_runs() {
    let s = TestServer::start().await;
    let o = s.ftpadm(&["user", "add", "dave", "--password-stdin"], &format!("{PW}\n"));
    assert!(o.status.success(), "{}", err(&o));
    let mut ftp = s.login("dave").await;
    put(&mut ftp, "x.txt", b"hello").await;
    ftp.quit().await.unwrap();

    let o = s.ftpadm(&["user", "update", "dave", "--disable"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(code(s.connect().await.login("dave", PW).await), 530);

    let o = s.ftpadm(&["user", "update", "dave", "--enable"], "");
    assert!(o.status.success());
    s.login("dave").await.quit().await.unwrap();

    let o = s.ftpadm(&["user", "delete", "dave"], "");
    assert!(o.status.success());
    assert!(out(&o).contains(&s.home("dave").display().to_string()), "says where files are");
    assert_eq!(code(s.connect().await.login("dave", PW).await), 530);
    assert_eq!(std::fs::read(s.home("dave").join("x.txt")).unwrap(), b"hello", "files kept");
}

#[tokio::test]
async fn password_change_with_ftpadm_stops_the_old_password_at_once() {
    let s = TestServer::start().await;
    // Log in twice first, so the daemon's verified-credential cache holds the old password.
    s.login("alice").await.quit().await.unwrap();
    s.login("alice").await.quit().await.unwrap();
    let o = s.ftpadm(&["passwd", "alice", "--password-stdin"], "brand-new-pass\n");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(code(s.connect().await.login("alice", PW).await), 530);
    s.connect().await.login("alice", "brand-new-pass").await.unwrap();
}

#[tokio::test]
async fn repeated_failures_lock_the_user_from_that_address() {
    let s = TestServer::start().await;
    for _ in 0..3 {
        assert_eq!(code(s.connect().await.login("alice", "wrongpass1").await), 530);
    }
    // Locked now: even the right password is refused for this IP + user.
    assert_eq!(code(s.connect().await.login("alice", PW).await), 530);
    // Other users are not affected.
    s.login("bob").await;
}

#[tokio::test]
async fn logins_in_parallel_with_a_burst_of_ftpadm_writes_never_hit_a_locked_database() {
    let s = TestServer::start().await;
    let root = s.root().to_path_buf();
    let writer = tokio::task::spawn_blocking(move || {
        let mut failures = Vec::new();
        for i in 0..12 {
            let name = format!("burst{i}");
            for args in [
                vec!["user", "add", name.as_str(), "--password-stdin"],
                vec!["user", "update", name.as_str(), "--full-name", "Burst User"],
                vec!["user", "delete", name.as_str()],
            ] {
                let o = ftpadm_at(&root, &args, &format!("{PW}\n"));
                if !o.status.success() {
                    failures.push(err(&o));
                }
            }
        }
        failures
    });
    let mut logins = Vec::new();
    for _ in 0..4 {
        let addr = s.addr();
        logins.push(tokio::spawn(async move {
            for _ in 0..8 {
                let mut ftp = suppaftp::tokio::AsyncFtpStream::connect(&addr).await.unwrap();
                ftp.login("bob", PW).await.unwrap();
                ftp.list(None).await.unwrap();
                ftp.quit().await.unwrap();
            }
        }));
    }
    for l in logins {
        l.await.unwrap();
    }
    let failures = writer.await.unwrap();
    assert!(failures.is_empty(), "ftpadm failed: {failures:?}");
}

#[tokio::test]
async fn the_server_stops_cleanly_when_asked() {
    let s = TestServer::start().await;
    let addr = s.addr();
    let mut ftp = s.login("alice").await;
    ftp.quit().await.unwrap();
    s.stop().await.expect("clean shutdown");
    assert!(suppaftp::tokio::AsyncFtpStream::connect(addr).await.is_err(), "no longer listening");
}

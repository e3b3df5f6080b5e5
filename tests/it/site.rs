//! SITE commands for everyone and for admins: profiles, passwords, WHO, messages, user
//! management over FTP, and the 502 for an unknown one.

use multiftp::account::Role;

use crate::harness::*;

#[tokio::test]
async fn profiles_can_be_viewed_and_updated() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let (c, text) = raw(&mut alice, "SITE SETPROFILE bio Likes  jazz and FTP").await;
    assert_eq!(c, 200, "{text}");
    let (c, text) = raw(&mut alice, "SITE SETPROFILE email alice@new.example.org").await;
    assert_eq!(c, 200, "{text}");
    let (c, text) = raw(&mut alice, "SITE PROFILE").await;
    assert_eq!(c, 200);
    for needle in [
        "username:     alice",
        "Likes  jazz and FTP",
        "alice@new.example.org",
        "role:         user",
        "member since:",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let mut bob = s.login("bob").await;
    let (c, text) = raw(&mut bob, "SITE PROFILE alice").await;
    assert_eq!(c, 200);
    assert!(text.contains("Likes  jazz and FTP") && text.contains("last login:"), "{text}");
    for (cmd, want) in [
        ("SITE SETPROFILE email not-an-email", 550),
        ("SITE SETPROFILE role admin", 550),
        ("SITE SETPROFILE bio", 501),
        ("SITE PROFILE ghost", 550),
        ("SITE PROFILE a b", 501),
    ] {
        assert_eq!(raw(&mut bob, cmd).await.0, want, "{cmd}");
    }
    let long_bio = format!("SITE SETPROFILE bio {}", "x".repeat(1001));
    assert_eq!(raw(&mut bob, &long_bio).await.0, 550);

    let o = s.ftpadm(&["profile", "set", "bob", "--bio", "from ftpadm"], "");
    assert!(o.status.success(), "{}", err(&o));
    let o = s.ftpadm(&["--json", "profile", "show", "bob"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bio"], "from ftpadm");
}

#[tokio::test]
async fn site_passwd_checks_the_current_password_and_the_policy() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    assert_eq!(raw(&mut alice, "SITE PASSWD wrongpass1 newpass123").await.0, 550);
    assert_eq!(raw(&mut alice, &format!("SITE PASSWD {PW} short")).await.0, 550);
    assert_eq!(raw(&mut alice, "SITE PASSWD onlyone").await.0, 501);
    let (c, text) = raw(&mut alice, &format!("SITE PASSWD {PW} newpass123")).await;
    assert_eq!(c, 200, "{text}");
    assert!(!text.contains("newpass123"), "never echoed");
    assert_eq!(code(s.connect().await.login("alice", PW).await), 530);
    s.connect().await.login("alice", "newpass123").await.unwrap();
}

#[tokio::test]
async fn who_lists_online_users_with_addresses_for_admins_only() {
    let s = TestServer::start().await;
    add_user(&s.app, "root1", Role::Admin).await;
    let mut alice = s.login("alice").await;
    let _bob = s.login("bob").await;
    let (c, text) = raw(&mut alice, "SITE WHO").await;
    assert_eq!(c, 200);
    assert!(text.contains("alice") && text.contains("bob"), "{text}");
    assert!(!text.contains("127.0.0.1"), "no addresses for users: {text}");
    let mut admin = s.login("root1").await;
    let (_, text) = raw(&mut admin, "SITE WHO").await;
    assert!(text.contains("from 127.0.0.1"), "{text}");

    // ftpadm, another process, sees the same sessions.
    let o = s.ftpadm(&["--json", "who"], "");
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> =
        v.as_array().unwrap().iter().map(|r| r["username"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"alice") && names.contains(&"bob") && names.contains(&"root1"),
        "{names:?}"
    );

    // A logout shows at once.
    alice.quit().await.unwrap();
    let gone = wait_until_async(
        async || !raw(&mut admin, "SITE WHO").await.1.contains("alice"),
        std::time::Duration::from_secs(2),
    )
    .await;
    assert!(gone, "alice still listed: {}", raw(&mut admin, "SITE WHO").await.1);
}

#[tokio::test]
async fn stale_sessions_of_a_crashed_daemon_are_not_shown() {
    let s = TestServer::start().await;
    let _alice = s.login("alice").await;
    // Simulate a daemon that died 5 minutes ago without cleaning up.
    sqlx::query("INSERT INTO daemons (id, pid, started_at, heartbeat_at) VALUES ('dead', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
        .execute(&s.app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO sessions (trace_id, daemon_id, user_id, client_addr, started_at) SELECT 'ghost', 'dead', id, '10.0.0.9', '2026-01-01T00:00:00Z' FROM users WHERE username = 'bob'")
        .execute(&s.app.pool)
        .await
        .unwrap();
    let online = s.app.sessions.online().await.unwrap();
    let names: Vec<_> = online.iter().map(|r| r.username.as_str()).collect();
    assert_eq!(names, ["alice"]);
}

#[tokio::test]
async fn messages_are_delivered_read_and_rate_limited() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    assert_eq!(raw(&mut alice, "SITE MSG bob hello bob, lunch at 12?").await.0, 200);
    assert_eq!(raw(&mut alice, "SITE MSG ghost hi").await.0, 550);
    assert_eq!(raw(&mut alice, "SITE MSG bob").await.0, 501);
    assert_eq!(raw(&mut alice, &format!("SITE MSG bob {}", "x".repeat(501))).await.0, 550);
    let o = s.ftpadm(&["msg", "send", "--all", "maintenance at 18:00"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("2 user(s)"), "{}", out(&o));

    let (c, text) = raw(&mut bob, "SITE INBOX").await;
    assert_eq!(c, 200);
    let hello = text.find("alice (new): hello bob, lunch at 12?").expect(&text);
    let maint = text.find("(admin) (new): maintenance at 18:00").expect(&text);
    assert!(hello < maint, "newest last: {text}");
    let (_, text) = raw(&mut bob, "SITE INBOX").await;
    assert!(text.contains("2 message(s), 0 new"), "marked read: {text}");

    // Rate limit: 10 per minute per sender (one used above).
    let mut codes = Vec::new();
    for i in 0..10 {
        codes.push(raw(&mut alice, &format!("SITE MSG bob spam {i}")).await.0);
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 9, "{codes:?}");
    assert_eq!(codes.last(), Some(&550));
}

#[tokio::test]
async fn a_new_share_sends_the_recipient_a_message() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    put(&mut alice, "report.pdf", b"pdf").await;
    assert_eq!(raw(&mut alice, "SITE SHARE bob report.pdf").await.0, 200);
    let mut bob = s.login("bob").await;
    let (_, text) = raw(&mut bob, "SITE INBOX").await;
    assert!(
        text.contains("alice (new): shared /report.pdf with you: see /shared/alice/report.pdf"),
        "{text}"
    );
}

#[tokio::test]
async fn admins_manage_users_over_ftp_and_others_are_refused() {
    let s = TestServer::start().await;
    add_user(&s.app, "root1", Role::Admin).await;
    let mut alice = s.login("alice").await;
    assert_eq!(raw(&mut alice, "SITE USER LIST").await.0, 550);
    assert_eq!(raw(&mut alice, "SITE USER ADD eve evepass123").await.0, 550);
    let (_, help) = raw(&mut alice, "SITE HELP").await;
    assert!(!help.contains("USER"), "{help}");

    let mut admin = s.login("root1").await;
    let (_, help) = raw(&mut admin, "SITE HELP").await;
    assert!(help.contains("USER ADD <name> <password> [admin]"), "{help}");
    let (c, text) = raw(&mut admin, "SITE USER ADD eve evepass123").await;
    assert_eq!(c, 200, "{text}");
    s.connect().await.login("eve", "evepass123").await.unwrap();
    for (cmd, want) in [
        ("SITE USER ADD eve evepass123", 550),
        ("SITE USER ADD Eve2 evepass123", 550),
        ("SITE USER ADD frank short", 550),
        ("SITE USER ADD", 501),
        ("SITE USER SET eve full_name Eve  Example", 200),
        ("SITE USER SET eve email eve@example.org", 200),
        ("SITE USER SET eve email nope", 550),
        ("SITE USER SET eve role admin", 200),
        ("SITE USER SET eve role root", 550),
        ("SITE USER SET eve enabled no", 200),
        ("SITE USER SET eve colour blue", 550),
        ("SITE USER SET eve password evepass456", 200),
        ("SITE USER SET ghost email a@b.org", 550),
        ("SITE USER FROB", 501),
    ] {
        let (c, text) = raw(&mut admin, cmd).await;
        assert_eq!(c, want, "{cmd}: {text}");
    }
    let eve = s.app.accounts.get("eve").await.unwrap();
    assert_eq!(
        (eve.full_name.as_str(), eve.role, eve.enabled),
        ("Eve  Example", Role::Admin, false)
    );
    assert_eq!(code(s.connect().await.login("eve", "evepass456").await), 530, "disabled");
    let (_, list) = raw(&mut admin, "SITE USER LIST").await;
    assert!(list.contains("eve") && list.contains("disabled"), "{list}");

    // The last enabled admin cannot be demoted or deleted, over FTP as with ftpadm.
    assert_eq!(raw(&mut admin, "SITE USER SET root1 role user").await.0, 550);
    assert_eq!(raw(&mut admin, "SITE USER DEL root1").await.0, 550);
    assert_eq!(raw(&mut admin, "SITE USER DEL eve").await.0, 200);
    assert!(s.app.accounts.get("eve").await.is_err());
    assert!(s.home("eve").exists(), "files kept");
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_commands_at_once() {
    let s = TestServer::start().await;
    add_user(&s.app, "root1", Role::Admin).await;
    add_user(&s.app, "root2", Role::Admin).await;
    let mut admin = s.login("root1").await;
    assert_eq!(raw(&mut admin, "SITE USER LIST").await.0, 200);
    let o = s.ftpadm(&["user", "update", "root1", "--no-admin"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(raw(&mut admin, "SITE USER LIST").await.0, 550);
}

#[tokio::test]
async fn unknown_site_commands_get_502_and_site_needs_a_login() {
    let s = TestServer::start().await;
    let mut anon = s.connect().await;
    let (c, _) = raw(&mut anon, "SITE WHO").await;
    assert_eq!(c, 530);
    let mut alice = s.login("alice").await;
    let (c, text) = raw(&mut alice, "SITE FROBNICATE").await;
    assert_eq!(c, 502, "RFC 959 4.2, command not implemented: {text}");
    assert!(text.contains("SITE HELP"), "{text}");
}

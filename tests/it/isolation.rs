//! Isolation: users never see each other's files, traversal and links never leave a home,
//! the reserved `/shared` name, and garbage commands.

use crate::harness::*;

#[tokio::test]
async fn two_users_cannot_see_each_other() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    put(&mut alice, "secret.txt", b"alice only").await;
    let mut bob = s.login("bob").await;
    assert_eq!(bob.nlst(None).await.unwrap(), ["shared"]);
    assert_eq!(code(get(&mut bob, "secret.txt").await), 550);
    assert_eq!(code(get(&mut bob, "/alice/secret.txt").await), 550);
    assert_eq!(code(bob.cwd("/shared/alice").await), 550);
}

#[tokio::test]
async fn traversal_attempts_never_leave_the_home() {
    let s = TestServer::start().await;
    let mut alice = s.login("alice").await;
    put(&mut alice, "secret.txt", b"alice only").await;
    std::fs::write(s.root().join("outside.txt"), b"root file").unwrap();
    let mut bob = s.login("bob").await;
    for path in [
        "../alice/secret.txt",
        "/../alice/secret.txt",
        "../../outside.txt",
        "/../../../etc/passwd",
        "%2e%2e/alice/secret.txt",
        "..\\alice\\secret.txt",
        "/shared/../../alice/secret.txt",
        "/shared/alice/../../alice/secret.txt",
    ] {
        assert_eq!(code(get(&mut bob, path).await), 550, "{path}");
    }
    // Writing through `..` lands inside bob's own home, never in alice's.
    assert_eq!(code(bob.mkdir("../../alice/sub").await), 550, "no such folder in bob's home");
    bob.mkdir("alice").await.unwrap();
    put(&mut bob, "../alice/planted.txt", b"x").await;
    assert!(!s.home("alice").join("planted.txt").exists());
    assert!(s.home("bob").join("alice/planted.txt").exists());
    assert_eq!(bob.pwd().await.unwrap(), "/");
    bob.cdup().await.unwrap();
    assert_eq!(bob.nlst(None).await.unwrap().len(), 2, "still bob's home");
}

#[tokio::test]
async fn symlinks_pointing_outside_the_home_are_not_followed() {
    let s = TestServer::start().await;
    std::fs::write(s.root().join("outside.txt"), b"root file").unwrap();
    std::os::unix::fs::symlink(s.root().join("outside.txt"), s.home("bob").join("link.txt"))
        .unwrap();
    std::os::unix::fs::symlink("/etc", s.home("bob").join("etc")).unwrap();
    let mut bob = s.login("bob").await;
    assert_eq!(code(get(&mut bob, "link.txt").await), 550);
    assert_eq!(code(get(&mut bob, "etc/passwd").await), 550);
    assert_eq!(code(bob.cwd("etc").await), 550);
}

#[tokio::test]
async fn the_reserved_shared_name_cannot_be_created_or_replaced() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    assert_eq!(code(ftp.mkdir("/shared").await), 550);
    assert_eq!(code(ftp.mkdir("/shared/x").await), 550);
    let mut c = std::io::Cursor::new(b"x".to_vec());
    assert_eq!(code(ftp.put_file("/shared", &mut c).await), 550);
    put(&mut ftp, "f.txt", b"f").await;
    assert_eq!(code(ftp.rename("f.txt", "shared").await), 550);
    assert_eq!(code(ftp.rmdir("/shared").await), 550);
    assert!(!s.home("alice").join("shared").exists());
}

#[tokio::test]
async fn overlong_and_garbage_commands_get_errors_and_the_session_goes_on() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    let (c, text) = raw(&mut ftp, "FROBNICATE x").await;
    assert_eq!(c, 500, "RFC 959 4.2, syntax error, command unrecognized: {text}");
    let long = format!("CWD {}", "a".repeat(5000));
    let (c, _) = raw(&mut ftp, &long).await;
    assert_eq!(c / 100, 5);
    // The daemon still serves others.
    s.login("bob").await.noop().await.unwrap();
}

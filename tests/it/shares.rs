//! The /shared folder: browsing and downloading what others share, writes refused, unshared
//! files invisible, shares following renames and removed with their files or users, SITE
//! SHARE / UNSHARE / SHARES and `ftpadm share`.

use crate::harness::*;

/// alice shares `/projects/2026/plan.pdf` and the folder `/music` with bob.
async fn shared_setup() -> (TestServer, suppaftp::tokio::AsyncFtpStream) {
    let s = TestServer::start_with(&["alice", "bob", "carol"]).await;
    let mut alice = s.login("alice").await;
    alice.mkdir("projects").await.unwrap();
    alice.mkdir("projects/2026").await.unwrap();
    put(&mut alice, "projects/2026/plan.pdf", &data(200_000)).await;
    put(&mut alice, "projects/2026/private.txt", b"not shared").await;
    put(&mut alice, "diary.txt", b"not shared").await;
    alice.mkdir("music").await.unwrap();
    alice.mkdir("music/jazz").await.unwrap();
    put(&mut alice, "music/jazz/take five.mp3", &data(5000)).await;
    let r = alice.site("SHARE bob /projects/2026/plan.pdf").await.unwrap();
    assert_eq!(r.status.code(), 200);
    alice.cwd("/music").await.unwrap();
    let (c, text) = raw(&mut alice, "SITE SHARE bob .").await;
    assert_eq!(c, 200, "{text}");
    alice.cwd("/").await.unwrap();
    (s, alice)
}

#[tokio::test]
async fn the_recipient_browses_and_downloads_shared_items_byte_exact() {
    let (s, _alice) = shared_setup().await;
    let mut bob = s.login("bob").await;
    assert_eq!(bob.nlst(Some("/shared")).await.unwrap(), ["alice"]);
    let mut top = bob.nlst(Some("/shared/alice")).await.unwrap();
    top.sort();
    assert_eq!(top, ["music", "projects"]);
    assert_eq!(bob.nlst(Some("/shared/alice/projects/2026")).await.unwrap(), ["plan.pdf"]);
    same(
        &get(&mut bob, "/shared/alice/projects/2026/plan.pdf").await.unwrap(),
        &data(200_000),
        "plan",
    );
    assert_eq!(bob.size("/shared/alice/projects/2026/plan.pdf").await.unwrap(), 200_000);
    bob.mdtm("/shared/alice/projects/2026/plan.pdf").await.unwrap();

    // The shared folder's whole subtree, live: a file added later appears.
    bob.cwd("/shared/alice/music/jazz").await.unwrap();
    same(&get(&mut bob, "take five.mp3").await.unwrap(), &data(5000), "mp3");
    let mut alice = s.login("alice").await;
    put(&mut alice, "music/new.mp3", b"fresh").await;
    assert_eq!(get(&mut bob, "/shared/alice/music/new.mp3").await.unwrap(), b"fresh");

    let entries = bob.mlsd(Some("/shared/alice/music")).await.unwrap();
    assert!(entries.iter().any(|e| e.contains("type=dir") && e.ends_with(" jazz")), "{entries:?}");
    let list = bob.list(Some("/shared/alice/projects/2026")).await.unwrap();
    assert!(list[0].starts_with("-r--"), "shown read-only: {list:?}");
}

#[tokio::test]
async fn resume_works_under_shared() {
    let (s, _alice) = shared_setup().await;
    let mut bob = s.login("bob").await;
    bob.resume_transfer(150_000).await.unwrap();
    let tail = get(&mut bob, "/shared/alice/projects/2026/plan.pdf").await.unwrap();
    same(&tail, &data(200_000)[150_000..], "tail");
}

#[tokio::test]
async fn every_write_under_shared_is_refused_with_550() {
    let (s, _alice) = shared_setup().await;
    let mut bob = s.login("bob").await;
    put(&mut bob, "mine.txt", b"bob's").await;
    let plan = "/shared/alice/projects/2026/plan.pdf";
    let mut c = std::io::Cursor::new(b"x".to_vec());
    assert_eq!(code(bob.put_file(plan, &mut c).await), 550);
    let mut c = std::io::Cursor::new(b"x".to_vec());
    assert_eq!(code(bob.put_file("/shared/alice/music/new.txt", &mut c).await), 550);
    let mut c = std::io::Cursor::new(b"x".to_vec());
    assert_eq!(code(bob.append_file(plan, &mut c).await), 550);
    assert_eq!(code(bob.rm(plan).await), 550);
    assert_eq!(code(bob.mkdir("/shared/alice/music/x").await), 550);
    assert_eq!(code(bob.rmdir("/shared/alice/music/jazz").await), 550);
    assert_eq!(code(bob.rename(plan, "/stolen.pdf").await), 550);
    assert_eq!(code(bob.rename("mine.txt", "/shared/alice/music/mine.txt").await), 550);
    same(
        &std::fs::read(s.home("alice").join("projects/2026/plan.pdf")).unwrap(),
        &data(200_000),
        "untouched",
    );
    assert!(s.home("bob").join("mine.txt").exists());
}

#[tokio::test]
async fn unshared_files_of_the_owner_stay_invisible() {
    let (s, _alice) = shared_setup().await;
    let mut bob = s.login("bob").await;
    for path in [
        "/shared/alice/diary.txt",
        "/shared/alice/projects/2026/private.txt",
        "/shared/alice/projects/2026/plan.pdf/../private.txt",
        "/shared/alice/music/../diary.txt",
        "/shared/alice/music/../../alice/diary.txt",
    ] {
        assert_eq!(code(get(&mut bob, path).await), 550, "{path}");
    }
    assert_eq!(code(bob.cwd("/shared/alice/projects/2026/private.txt").await), 550);
    // A third user sees nothing.
    let mut carol = s.login("carol").await;
    assert!(carol.nlst(Some("/shared")).await.unwrap().is_empty());
    assert_eq!(code(get(&mut carol, "/shared/alice/projects/2026/plan.pdf").await), 550);
}

#[tokio::test]
async fn renaming_keeps_the_share_and_deleting_or_revoking_removes_it() {
    let (s, mut alice) = shared_setup().await;
    let mut bob = s.login("bob").await;
    alice.rename("/projects", "/work").await.unwrap();
    same(
        &get(&mut bob, "/shared/alice/work/2026/plan.pdf").await.unwrap(),
        &data(200_000),
        "moved",
    );
    assert_eq!(code(get(&mut bob, "/shared/alice/projects/2026/plan.pdf").await), 550);
    alice.rename("/work/2026/plan.pdf", "/plan-final.pdf").await.unwrap();
    assert_eq!(bob.nlst(Some("/shared/alice")).await.unwrap().len(), 2);
    assert_eq!(get(&mut bob, "/shared/alice/plan-final.pdf").await.unwrap().len(), 200_000);

    // Delete: gone for the live session at the next command.
    alice.rm("/plan-final.pdf").await.unwrap();
    assert_eq!(code(get(&mut bob, "/shared/alice/plan-final.pdf").await), 550);
    put(&mut alice, "/plan-final.pdf", b"new file, not shared").await;
    assert_eq!(code(get(&mut bob, "/shared/alice/plan-final.pdf").await), 550);

    // Revoke over FTP, and through ftpadm.
    let (c, _) = raw(&mut alice, "SITE UNSHARE bob /music").await;
    assert_eq!(c, 200);
    assert_eq!(code(get(&mut bob, "/shared/alice/music/jazz/take five.mp3").await), 550);
    assert!(bob.nlst(Some("/shared")).await.unwrap().is_empty());
    let (c, _) = raw(&mut alice, "SITE UNSHARE bob /music").await;
    assert_eq!(c, 550, "revoking twice says there is no such share");
}

#[tokio::test]
async fn deleting_either_user_removes_their_shares() {
    let (s, _alice) = shared_setup().await;
    let o = s.ftpadm(&["share", "add", "carol", "/", "bob"], "");
    assert_eq!(o.status.code(), Some(1), "cannot share a whole home");
    // The recipient: alice's two shares with bob go with bob.
    assert_eq!(s.app.shares.list(Some("alice")).await.unwrap().len(), 2);
    s.app.accounts.delete("bob", false).await.unwrap();
    assert!(s.app.shares.list(Some("alice")).await.unwrap().is_empty());
    // The owner: alice's share with carol goes with alice.
    let o = s.ftpadm(&["share", "add", "alice", "/diary.txt", "carol"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(s.app.shares.list(Some("carol")).await.unwrap().len(), 1);
    s.app.accounts.delete("alice", false).await.unwrap();
    assert!(s.app.shares.list(Some("carol")).await.unwrap().is_empty());
    assert!(s.app.shares.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_share_requests_are_refused_with_reasons() {
    let (s, mut alice) = shared_setup().await;
    disable(&s.app, "carol").await;
    for (cmd, want, needle) in [
        ("SITE SHARE alice /diary.txt", 550, "yourself"),
        ("SITE SHARE ghost /diary.txt", 550, "does not exist"),
        ("SITE SHARE carol /diary.txt", 550, "disabled"),
        ("SITE SHARE bob /nope.txt", 550, "does not exist"),
        ("SITE SHARE bob /shared/alice", 550, "/shared"),
        ("SITE SHARE bob ../../etc/passwd", 550, "does not exist"),
        ("SITE SHARE bob", 501, "Usage"),
        ("SITE SHARE", 501, "Usage"),
    ] {
        let (c, text) = raw(&mut alice, cmd).await;
        assert_eq!(c, want, "{cmd}: {text}");
        assert!(text.contains(needle), "{cmd}: {text}");
    }
    let (c, text) = raw(&mut alice, "SITE SHARE bob /diary.txt").await;
    assert_eq!(c, 200, "{text}");
    let (c, text) = raw(&mut alice, "SITE SHARE bob /diary.txt").await;
    assert_eq!(c, 200, "sharing twice is harmless: {text}");
    assert!(text.contains("already"));
}

#[tokio::test]
async fn site_shares_lists_both_directions_and_site_help_lists_commands() {
    let (s, mut alice) = shared_setup().await;
    let o = s.ftpadm(&["share", "add", "bob", "/", "alice"], "");
    assert_eq!(o.status.code(), Some(1));
    let mut bob = s.login("bob").await;
    put(&mut bob, "notes with space.txt", b"n").await;
    let (c, _) = raw(&mut bob, "SITE SHARE alice notes with space.txt").await;
    assert_eq!(c, 200);
    let (c, text) = raw(&mut alice, "SITE SHARES").await;
    assert_eq!(c, 200);
    assert!(text.contains("/projects/2026/plan.pdf  with bob"), "{text}");
    assert!(text.contains("/music  with bob"), "{text}");
    assert!(text.contains("/notes with space.txt  from bob"), "{text}");
    let (c, text) = raw(&mut alice, "SITE HELP").await;
    assert_eq!(c, 214);
    for cmd in ["SHARE <user> <path>", "UNSHARE <user> <path>", "SHARES"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[tokio::test]
async fn ftpadm_share_commands_work_end_to_end() {
    let (s, _alice) = shared_setup().await;
    let o = s.ftpadm(&["share", "add", "alice", "/diary.txt", "carol"], "");
    assert!(o.status.success(), "{}", err(&o));
    let mut carol = s.login("carol").await;
    assert_eq!(get(&mut carol, "/shared/alice/diary.txt").await.unwrap(), b"not shared");

    let o = s.ftpadm(&["--json", "share", "list", "--user", "carol"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["owner"], "alice");
    assert_eq!(v[0]["path"], "/diary.txt");
    assert_eq!(v[0]["recipient"], "carol");
    let o = s.ftpadm(&["share", "list"], "");
    assert_eq!(out(&o).lines().count(), 4, "header + 3 shares: {}", out(&o));

    let o = s.ftpadm(&["share", "revoke", "alice", "/diary.txt", "carol"], "");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(code(get(&mut carol, "/shared/alice/diary.txt").await), 550);
    let o = s.ftpadm(&["share", "revoke", "alice", "/diary.txt", "carol"], "");
    assert_eq!(o.status.code(), Some(1));
}

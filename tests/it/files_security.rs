//! Files and sharing under attack (issue 11, items 2, 6, 7 and 8): symbolic links inside a
//! shared folder, SITE SHARE as a probe of the file system, interrupted overwrites, share
//! notices flooding an inbox, and e-mail addresses in profiles.

use std::path::Path;
use std::time::Duration;

use multiftp::account::Role;
use tokio::io::AsyncWriteExt;

use crate::harness::*;

/// alice's home: `/pub` (shared with bob) holds `readme.txt`, a link `same -> readme.txt`
/// that stays inside it and a link `up -> ../private` that leads out of it into
/// `/private/secret.txt`, which is not shared. `/notes.txt` is shared too.
async fn linked_setup() -> TestServer {
    let s = TestServer::start().await;
    let home = s.home("alice");
    std::fs::create_dir_all(home.join("pub")).unwrap();
    std::fs::create_dir_all(home.join("private/deeper")).unwrap();
    std::fs::write(home.join("pub/readme.txt"), b"public").unwrap();
    std::fs::write(home.join("private/secret.txt"), b"secret").unwrap();
    std::fs::write(home.join("private/deeper/more.txt"), b"secret too").unwrap();
    std::fs::write(home.join("notes.txt"), b"notes").unwrap();
    std::os::unix::fs::symlink("../private", home.join("pub/up")).unwrap();
    std::os::unix::fs::symlink("readme.txt", home.join("pub/same")).unwrap();
    let mut alice = s.login("alice").await;
    for cmd in ["SITE SHARE bob /pub", "SITE SHARE bob /notes.txt"] {
        let (c, text) = raw(&mut alice, cmd).await;
        assert_eq!(c, 200, "{cmd}: {text}");
    }
    s
}

#[tokio::test]
async fn a_link_in_a_shared_folder_does_not_reach_the_owners_unshared_files() {
    let s = linked_setup().await;
    let mut bob = s.login("bob").await;
    // What is shared is served, links inside the shared folder included.
    assert_eq!(get(&mut bob, "/shared/alice/pub/readme.txt").await.unwrap(), b"public");
    assert_eq!(get(&mut bob, "/shared/alice/pub/same").await.unwrap(), b"public");
    assert_eq!(get(&mut bob, "/shared/alice/notes.txt").await.unwrap(), b"notes");
    // The link out of it leads nowhere, whatever the command.
    for path in [
        "/shared/alice/pub/up/secret.txt",
        "/shared/alice/pub/up/deeper/more.txt",
        "/shared/alice/pub/up/../up/secret.txt",
    ] {
        assert_eq!(code(get(&mut bob, path).await), 550, "RETR {path}");
        assert_eq!(code(bob.size(path).await), 550, "SIZE {path}");
        assert_eq!(code(bob.mdtm(path).await), 550, "MDTM {path}");
    }
    assert_eq!(code(bob.list(Some("/shared/alice/pub/up")).await), 550);
    assert_eq!(code(bob.nlst(Some("/shared/alice/pub/up/deeper")).await), 550);
    assert_eq!(code(bob.mlsd(Some("/shared/alice/pub/up")).await), 550);
    assert_eq!(code(bob.cwd("/shared/alice/pub/up").await), 550);
    let (c, text) = raw(&mut bob, "MLST /shared/alice/pub/up/secret.txt").await;
    assert_eq!(c, 550, "{text}");
    // bob still sees the link itself in the listing, as a link, and nothing it points at.
    let mut names = bob.nlst(Some("/shared/alice/pub")).await.unwrap();
    names.sort();
    assert_eq!(names, ["readme.txt", "same", "up"]);
}

#[tokio::test]
async fn a_shared_item_replaced_by_a_link_is_no_longer_served() {
    let s = linked_setup().await;
    let home = s.home("alice");
    // Behind the daemon's back: the shared file and the shared folder become links into
    // /private.
    std::fs::remove_file(home.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink("private/secret.txt", home.join("notes.txt")).unwrap();
    std::fs::rename(home.join("pub"), home.join("old-pub")).unwrap();
    std::os::unix::fs::symlink("private", home.join("pub")).unwrap();
    let mut bob = s.login("bob").await;
    assert_eq!(code(get(&mut bob, "/shared/alice/notes.txt").await), 550);
    assert_eq!(code(bob.size("/shared/alice/notes.txt").await), 550);
    assert_eq!(code(get(&mut bob, "/shared/alice/pub/secret.txt").await), 550);
    assert_eq!(code(bob.list(Some("/shared/alice/pub")).await), 550);
    assert_eq!(code(bob.cwd("/shared/alice/pub").await), 550);
    // The virtual folder lists neither.
    assert!(bob.nlst(Some("/shared/alice")).await.unwrap().is_empty());
}

#[tokio::test]
async fn site_share_through_a_link_answers_the_same_whether_the_target_exists_or_not() {
    let s = linked_setup().await;
    let home = s.home("alice");
    // A link out of the home, to the data root, where one file exists.
    std::fs::write(s.root().join("outside.txt"), b"root file").unwrap();
    std::os::unix::fs::symlink(s.root(), home.join("out")).unwrap();
    // A link inside the home, on the way to an unshared file.
    std::os::unix::fs::symlink("private", home.join("docs")).unwrap();
    let mut alice = s.login("alice").await;
    let mut answers = Vec::new();
    for path in [
        "/out/outside.txt",
        "/out/missing.txt",
        "/out/home/bob",
        "/docs/secret.txt",
        "/pub/up/secret.txt",
        "/out",
    ] {
        let (c, text) = raw(&mut alice, &format!("SITE SHARE bob {path}")).await;
        assert_eq!(c, 550, "{path}: {text}");
        assert!(text.contains("does not exist"), "{path}: {text}");
        answers.push(text.replace(path, "PATH"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one answer for all: {answers:?}");
    // ftpadm goes through the same check.
    let o = s.ftpadm(&["share", "add", "alice", "/out/outside.txt", "bob"], "");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("does not exist"), "{}", err(&o));
    // Nothing was shared.
    let shared: Vec<String> =
        s.app.shares.list(Some("alice")).await.unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(shared, ["/notes.txt", "/pub"]);
}

/// The temporary files of overwrites left in `dir`.
fn part_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.contains(".multiftp-") && n.ends_with(".part"))
        .collect()
}

/// Waits (at most 10 s) until `dir` holds no temporary file of an overwrite.
async fn wait_no_parts(dir: &Path) {
    let gone = wait_until_async(async || part_files(dir).is_empty(), Duration::from_secs(10)).await;
    assert!(gone, "left behind: {:?}", part_files(dir));
}

/// Starts `STOR name` on a raw session and sends the first `len` bytes of `body`; returns
/// the data connection, still open.
async fn start_upload(
    c: &mut RawControl,
    name: &str,
    body: &[u8],
    len: usize,
) -> tokio::net::TcpStream {
    let mut data = c.data_connection().await;
    let (code, text) = c.exchange(&format!("STOR {name}")).await;
    assert_eq!(code, 150, "{text}");
    tokio::time::timeout(Duration::from_secs(20), data.write_all(&body[..len]))
        .await
        .expect("the server takes the data")
        .unwrap();
    data
}

/// Starts `STOR name` as alice, sends the first `len` bytes of `body`, then resets the data
/// connection: the transfer must fail with 426 or 451.
async fn cut_upload(s: &TestServer, name: &str, body: &[u8], len: usize) {
    let mut c = s.control("alice").await;
    let data_conn = start_upload(&mut c, name, body, len).await;
    socket2::SockRef::from(&data_conn).set_linger(Some(Duration::ZERO)).unwrap();
    drop(data_conn);
    let (code, text) = c.next_reply(20).await.expect("a reply for the cut transfer");
    assert!(code == 426 || code == 451, "{code} {text}");
}

const BIG: usize = 30 << 20;

/// The new content uploaded over the old 30 MB file (different from [`data`]).
fn new_body() -> Vec<u8> {
    (0..BIG).map(|i| (i * 7 % 253) as u8).collect()
}

#[tokio::test]
async fn an_interrupted_overwrite_keeps_the_old_file_and_a_complete_one_replaces_it() {
    let s = TestServer::start().await;
    let home = s.home("alice");
    let old = data(BIG);
    std::fs::write(home.join("big.bin"), &old).unwrap();
    let new = new_body();

    // 1. The data connection is reset a third of the way.
    cut_upload(&s, "big.bin", &new, 10 << 20).await;
    same(&std::fs::read(home.join("big.bin")).unwrap(), &old, "after a reset data connection");
    wait_no_parts(&home).await;

    // 2. The client vanishes: control connection closed mid-way, then the data connection
    // ends as if the file were complete.
    let mut c = s.control("alice").await;
    let mut data_conn = start_upload(&mut c, "big.bin", &new, 10 << 20).await;
    drop(c);
    // Deliberately a sleep: a gap between the two closes is this case's scenario (2b below has
    // none), and there is nothing to poll that shows the server has seen the first one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    data_conn.shutdown().await.unwrap();
    drop(data_conn);
    wait_no_parts(&home).await;
    same(&std::fs::read(home.join("big.bin")).unwrap(), &old, "after the client vanished");

    // 2b. The same as a killed client does it: the control connection closes, the data
    // connection right after (its end looks like the end of the file).
    for _ in 0..3 {
        let mut c = s.control("alice").await;
        let data_conn = start_upload(&mut c, "big.bin", &new, 10 << 20).await;
        drop(c);
        drop(data_conn);
        wait_no_parts(&home).await;
        same(&std::fs::read(home.join("big.bin")).unwrap(), &old, "after a vanished client");
    }

    // 3. ABOR mid-way (RFC 959 4.1.3: the transfer is aborted).
    let mut c = s.control("alice").await;
    let data_conn = start_upload(&mut c, "big.bin", &new, 10 << 20).await;
    let (code, text) = c.exchange("ABOR").await;
    assert!(code == 426 || code == 226, "{code} {text}");
    drop(data_conn);
    wait_no_parts(&home).await;
    same(&std::fs::read(home.join("big.bin")).unwrap(), &old, "after ABOR");

    // 4. A complete upload replaces the file.
    let mut ftp = s.login("alice").await;
    put(&mut ftp, "big.bin", &new).await;
    same(&std::fs::read(home.join("big.bin")).unwrap(), &new, "after a complete upload");
    assert!(part_files(&home).is_empty(), "{:?}", part_files(&home));

    // 5. A new file that is cut stays, partial, under its own name (clients resume it), and
    // REST + STOR resumes it in place.
    cut_upload(&s, "fresh.bin", &new, 4 << 20).await;
    let partial = std::fs::read(home.join("fresh.bin")).unwrap();
    assert!(partial.len() <= 4 << 20 && new.starts_with(&partial), "{}", partial.len());
    let mut ftp = s.login("alice").await;
    ftp.resume_transfer(partial.len()).await.unwrap();
    put(&mut ftp, "fresh.bin", &new[partial.len()..]).await;
    same(&std::fs::read(home.join("fresh.bin")).unwrap(), &new, "resumed");
}

#[tokio::test]
async fn a_stalled_overwrite_in_ascii_mode_keeps_the_old_file() {
    // The stream path (taken by TLS and TYPE A data connections) with an upload that stalls
    // until data_timeout ends it: the old file stays.
    let raw_cfg = multiftp::config::RawConfig { data_timeout: Some(1), ..Default::default() };
    let s = TestServer::start_custom(&["alice"], raw_cfg).await;
    let home = s.home("alice");
    std::fs::write(home.join("notes.txt"), b"old line\r\n".repeat(1000)).unwrap();
    let mut c = s.control("alice").await;
    let (code, text) = c.exchange("TYPE A").await;
    assert_eq!(code, 200, "{text}");
    let data_conn = start_upload(&mut c, "notes.txt", &b"new line\r\n".repeat(10), 50).await;
    // Nothing more, and the connection stays open: data_timeout ends the transfer.
    let (code, text) = c.next_reply(20).await.expect("a reply for the stalled transfer");
    assert!(code == 426 || code == 451, "{code} {text}");
    drop(data_conn);
    assert_eq!(std::fs::read(home.join("notes.txt")).unwrap(), b"old line\r\n".repeat(1000));
    wait_no_parts(&home).await;
    // A complete ASCII upload replaces it.
    let mut ftp = s.login("alice").await;
    ftp.transfer_type(suppaftp::types::FileType::Ascii(suppaftp::types::FormatControl::Default))
        .await
        .unwrap();
    put(&mut ftp, "notes.txt", b"new line\r\n").await;
    assert_eq!(std::fs::read(home.join("notes.txt")).unwrap(), b"new line\n");
    assert!(part_files(&home).is_empty(), "{:?}", part_files(&home));
}

#[tokio::test]
async fn killing_the_daemon_during_an_overwrite_keeps_the_old_file() {
    let (_dir, root) = root_with(&["alice"]);
    let home = root.join("home/alice");
    let old = data(BIG);
    std::fs::write(home.join("big.bin"), &old).unwrap();
    let daemon = Daemon::start(&root, &[]);
    let mut c = RawControl::open(&daemon.addr(), "alice").await;
    let new = new_body();
    let _data = start_upload(&mut c, "big.bin", &new, 10 << 20).await;
    // kill -9 while the upload is running.
    daemon.kill();
    same(&std::fs::read(home.join("big.bin")).unwrap(), &old, "after kill -9 of the daemon");
    // What a crash can leave: the daemon's spare folder, with the part of the upload it got,
    // never anything in the home or at the target.
    assert!(part_files(&home).is_empty(), "{:?}", part_files(&home));
    let spares = root.join("home/.multiftp-spare");
    let left: Vec<_> = std::fs::read_dir(&spares).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let upload_part = std::fs::read_dir(&left[0])
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.file_name() != "lock")
        .expect("the spare the upload was written to");
    assert!(upload_part.metadata().unwrap().len() <= BIG as u64);
    // The next start removes what the dead process left, and serves on.
    let daemon = Daemon::start(&root, &[]);
    let now: Vec<_> = std::fs::read_dir(&spares).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0], left[0], "the dead process's folder is gone");
    let mut ftp = suppaftp::tokio::AsyncFtpStream::connect(daemon.addr()).await.unwrap();
    ftp.login("alice", PW).await.unwrap();
    ftp.transfer_type(suppaftp::types::FileType::Binary).await.unwrap();
    put(&mut ftp, "big.bin", &new).await;
    same(&std::fs::read(home.join("big.bin")).unwrap(), &new, "after the restart");
}

#[tokio::test]
async fn share_notices_count_against_the_message_rate_limit() {
    let s = TestServer::start().await;
    for i in 0..60 {
        std::fs::write(s.home("alice").join(format!("f{i}.txt")), b"x").unwrap();
    }
    let mut alice = s.login("alice").await;
    let (c, text) = raw(&mut alice, "SITE MSG bob hello before the shares").await;
    assert_eq!(c, 200, "{text}");
    for i in 0..60 {
        let (c, text) = raw(&mut alice, &format!("SITE SHARE bob /f{i}.txt")).await;
        assert_eq!(c, 200, "the share itself stands: {text}");
    }
    let mut bob = s.login("bob").await;
    let (c, inbox) = raw(&mut bob, "SITE INBOX").await;
    assert_eq!(c, 200);
    assert!(inbox.contains("hello before the shares"), "{inbox}");
    let notices = inbox.lines().filter(|l| l.contains("shared /f")).count();
    assert_eq!(notices, 9, "10 per minute, one used by SITE MSG: {inbox}");
    // The same limit: alice cannot send a message now either.
    let (c, text) = raw(&mut alice, "SITE MSG bob one more").await;
    assert_eq!(c, 550, "{text}");
    assert!(text.contains("too many messages"), "{text}");
    let (_, shares) = raw(&mut bob, "SITE SHARES").await;
    assert!(shares.contains("Shared with you, 60 item(s)"), "{shares}");
}

#[tokio::test]
async fn email_is_shown_to_others_only_when_made_public() {
    let s = TestServer::start().await;
    add_user(&s.app, "root1", Role::Admin).await;
    let mut alice = s.login("alice").await;
    let mut bob = s.login("bob").await;
    let mut admin = s.login("root1").await;

    // Private by default: bob sees no address, alice and the admin do.
    let (c, text) = raw(&mut bob, "SITE PROFILE alice").await;
    assert_eq!(c, 200, "{text}");
    assert!(!text.contains("alice@example.org") && text.contains("(private)"), "{text}");
    assert!(!text.contains("email public"), "{text}");
    let (_, text) = raw(&mut alice, "SITE PROFILE").await;
    assert!(text.contains("alice@example.org") && text.contains("email public: no"), "{text}");
    let (_, text) = raw(&mut alice, "SITE PROFILE alice").await;
    assert!(text.contains("alice@example.org"), "{text}");
    let (_, text) = raw(&mut admin, "SITE PROFILE alice").await;
    assert!(text.contains("alice@example.org"), "{text}");

    // alice makes it public.
    let (c, text) = raw(&mut alice, "SITE SETPROFILE email_public yes").await;
    assert_eq!(c, 200, "{text}");
    let (_, text) = raw(&mut bob, "SITE PROFILE alice").await;
    assert!(text.contains("alice@example.org"), "{text}");
    assert_eq!(raw(&mut alice, "SITE SETPROFILE email_public maybe").await.0, 550);

    // ftpadm makes it private again.
    let o = s.ftpadm(&["profile", "set", "alice", "--email-public", "no"], "");
    assert!(o.status.success(), "{}", err(&o));
    let (_, text) = raw(&mut bob, "SITE PROFILE alice").await;
    assert!(!text.contains("alice@example.org"), "{text}");
    let o = s.ftpadm(&["--json", "profile", "show", "alice"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["email_public"], false);
    assert_eq!(v["email"], "alice@example.org");
    let o = s.ftpadm(&["profile", "set", "alice", "--email-public", "perhaps"], "");
    assert_eq!(o.status.code(), Some(1));
}

//! RFC behaviour of the control channel: pathnames (RFC 959), FEAT/OPTS/MLST (RFC 2389, 3659),
//! TYPE A conversion, MFMT, HASH, REST, ABOR, STAT, and session-end bookkeeping.

use std::time::Duration;

use multiftp::config::RawConfig;
use tokio::io::AsyncWriteExt;

use crate::harness::*;

#[tokio::test]
async fn mkd_replies_with_the_quoted_path_and_doubles_embedded_quotes() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    let (code, text) = c.exchange("MKD docs").await;
    assert_eq!(code, 257, "{text}");
    assert!(text.starts_with("257 \"/docs\""), "RFC 959 Appendix II quoted pathname: {text}");
    let (code, text) = c.exchange("MKD say \"hi\"").await;
    assert_eq!(code, 257, "{text}");
    assert!(text.starts_with("257 \"/say \"\"hi\"\"\""), "embedded quotes are doubled: {text}");
    assert_eq!(quoted_path(&text).as_deref(), Some("/say \"hi\""));
    assert!(s.home("alice").join("say \"hi\"").is_dir());
}

#[tokio::test]
async fn pwd_is_normalised_after_cwd() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.exchange("MKD a").await.0, 257);
    let (code, text) = c.exchange("CWD ..").await;
    assert_eq!(code, 250, "CWD .. at / stays at / (RFC 959): {text}");
    let (_, text) = c.exchange("PWD").await;
    assert_eq!(quoted_path(&text).as_deref(), Some("/"), "{text}");
    assert_eq!(c.exchange("CWD /a/../a").await.0, 250);
    let (_, text) = c.exchange("PWD").await;
    assert_eq!(quoted_path(&text).as_deref(), Some("/a"), "{text}");
    assert_eq!(c.exchange("CWD ./../a/.").await.0, 250);
    let (_, text) = c.exchange("PWD").await;
    assert_eq!(quoted_path(&text).as_deref(), Some("/a"), "{text}");
    assert_eq!(c.exchange("CDUP").await.0, 250);
    let (_, text) = c.exchange("XPWD").await;
    assert_eq!(quoted_path(&text).as_deref(), Some("/"), "{text}");
}

#[tokio::test]
async fn list_of_a_file_gives_that_files_line() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    put(&mut ftp, "one.txt", b"12345").await;
    put(&mut ftp, "two.txt", b"1").await;
    let lines = ftp.list(Some("one.txt")).await.expect("LIST <file> lists the file (226)");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with('-') && lines[0].ends_with(" one.txt"), "{lines:?}");
    assert!(lines[0].contains(" 5 "), "{lines:?}");
}

#[tokio::test]
async fn mlst_of_a_relative_path_resolves_against_the_working_directory() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    ftp.mkdir("d").await.unwrap();
    put(&mut ftp, "d/x.txt", b"12345").await;
    put(&mut ftp, "x.txt", b"1").await;
    ftp.cwd("d").await.unwrap();
    let st = ftp.mlst(Some("x.txt")).await.unwrap();
    assert!(st.contains("size=5"), "x.txt in /d, not in /: {st}");
}

#[tokio::test]
async fn feat_lists_the_extensions_with_mlst_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_tls(tmp.path(), "none", &["alice"], RawConfig::default()).await;
    let mut c = RawControl::connect(&s.addr()).await;
    assert_eq!(c.next_reply(10).await.unwrap().0, 220);
    let (code, text) = c.exchange("FEAT").await;
    assert_eq!(code, 211, "{text}");
    let features: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(' '))
        .map(|l| l.trim().to_ascii_uppercase())
        .collect();
    let has = |f: &str| features.iter().any(|l| l == f || l.starts_with(&format!("{f} ")));
    for f in [
        "UTF8",
        "EPSV",
        "EPRT",
        "REST STREAM",
        "SIZE",
        "MDTM",
        "MFMT",
        "HASH",
        "AUTH TLS",
        "PBSZ",
        "PROT",
        "TVFS",
        "MLST",
    ] {
        assert!(has(f), "FEAT lacks {f}: {text}");
    }
    let mlst = features.iter().find(|l| l.starts_with("MLST ")).unwrap().to_ascii_lowercase();
    for fact in ["type*;", "size*;", "modify*;"] {
        assert!(mlst.contains(fact), "RFC 3659 7.8: the MLST line lists facts: {mlst}");
    }
}

#[tokio::test]
async fn opts_mlst_selects_the_facts_mlst_shows() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.store("f.txt", b"12345").await.0, 226);
    let (code, text) = c.exchange("OPTS MLST type;size;").await;
    assert_eq!(code, 200, "{text}");
    let (code, text) = c.exchange("MLST f.txt").await;
    assert_eq!(code, 250, "{text}");
    let facts = text.lines().find(|l| l.starts_with(' ')).expect(&text).to_ascii_lowercase();
    assert!(facts.contains("type=file;") && facts.contains("size=5;"), "{facts}");
    assert!(!facts.contains("modify=") && !facts.contains("perm="), "only the selected: {facts}");
    let (code, text) = c.exchange("FEAT").await;
    assert_eq!(code, 211);
    let mlst = text.lines().find(|l| l.trim().starts_with("MLST ")).unwrap().to_ascii_lowercase();
    assert!(mlst.contains("type*;") && mlst.contains("size*;"), "{mlst}");
    assert!(mlst.contains("modify;"), "modify is offered, not selected: {mlst}");
}

#[tokio::test]
async fn size_of_a_folder_is_550() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.exchange("MKD d").await.0, 257);
    let (code, text) = c.exchange("SIZE d").await;
    assert_eq!(code, 550, "RFC 3659 4: SIZE is for files: {text}");
    assert_eq!(c.exchange("SIZE shared").await.0, 550);
}

#[tokio::test]
async fn stat_shows_the_session_without_internals_and_lists_a_path() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.store("f.txt", b"12345").await.0, 226);
    let (code, text) = c.exchange("STAT").await;
    assert_eq!(code, 211, "{text}");
    assert!(text.starts_with("211-") && text.lines().count() >= 2, "multi-line: {text}");
    assert!(!text.contains("sbe") && !text.contains("multiftp::"), "no internals: {text}");
    let (code, text) = c.exchange("STAT f.txt").await;
    assert_eq!(code, 213, "{text}");
    assert!(text.lines().any(|l| l.trim_end().ends_with(" f.txt")), "{text}");
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn type_a_converts_line_ends_and_type_i_does_not() {
    let s = TestServer::start().await;
    std::fs::write(s.home("alice").join("lf.txt"), b"one\ntwo\n\nthree").unwrap();
    let mut c = s.control("alice").await;
    assert_eq!(c.exchange("TYPE A").await.0, 200);
    let (body, code) = c.retrieve("lf.txt").await;
    assert_eq!(code, 226);
    assert_eq!(body, b"one\r\ntwo\r\n\r\nthree", "RFC 959 3.1.1.1: NVT-ASCII uses CRLF");
    assert_eq!(c.store("up.txt", b"a\r\nb\r\n").await.0, 226);
    assert_eq!(std::fs::read(s.home("alice").join("up.txt")).unwrap(), b"a\nb\n");
    assert_eq!(c.exchange("TYPE I").await.0, 200);
    let (body, _) = c.retrieve("lf.txt").await;
    assert_eq!(body, b"one\ntwo\n\nthree");
    assert_eq!(c.store("bin.txt", b"a\r\nb\r\n").await.0, 226);
    assert_eq!(std::fs::read(s.home("alice").join("bin.txt")).unwrap(), b"a\r\nb\r\n");
}

#[tokio::test]
async fn mfmt_sets_the_modification_time_that_mdtm_reads() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.store("f.txt", b"x").await.0, 226);
    let (code, text) = c.exchange("MFMT 20200102030405 f.txt").await;
    assert_eq!(code, 213, "draft-somers-ftp-mfxx: {text}");
    let (code, text) = c.exchange("MDTM f.txt").await;
    assert_eq!(code, 213);
    assert!(text.starts_with("213 20200102030405"), "{text}");
    let mtime = std::fs::metadata(s.home("alice").join("f.txt")).unwrap().modified().unwrap();
    let secs = mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs, 1_577_934_245, "2020-01-02T03:04:05Z on disk");
}

#[tokio::test]
async fn hash_gives_the_sha256_of_a_file() {
    let s = TestServer::start().await;
    std::fs::write(s.home("alice").join("abc.txt"), b"abc").unwrap();
    let mut c = s.control("alice").await;
    let (code, text) = c.exchange("HASH abc.txt").await;
    assert_eq!(code, 213, "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("sha-256"), "{text}");
    assert!(
        lower.contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        "{text}"
    );
    assert_eq!(c.exchange("HASH missing.txt").await.0, 550);
}

#[tokio::test]
async fn rest_is_cleared_by_a_failed_transfer() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    ftp.resume_transfer(3).await.unwrap();
    assert_eq!(code(get(&mut ftp, "missing.bin").await), 550);
    put(&mut ftp, "other.bin", b"payload").await;
    assert_eq!(
        std::fs::read(s.home("alice").join("other.bin")).unwrap(),
        b"payload",
        "REST is cleared after every transfer command, whatever its outcome"
    );
}

#[tokio::test]
async fn abor_when_idle_is_226() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    let (code, text) = c.exchange("ABOR").await;
    assert_eq!(code, 226, "RFC 959 4.1.3: {text}");
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

/// alice's session in the middle of a 64 MiB download that the client does not read: the
/// session and the data connection, once its first bytes have arrived (so the transfer is
/// running, and stays so: the socket buffers fill up).
async fn unread_download(s: &TestServer) -> (RawControl, tokio::net::TcpStream) {
    std::fs::write(s.home("alice").join("big.bin"), data(64 << 20)).unwrap();
    let mut c = s.control("alice").await;
    let unread = c.data_connection().await;
    assert_eq!(c.exchange("RETR big.bin").await.0, 150);
    tokio::time::timeout(Duration::from_secs(10), unread.readable())
        .await
        .expect("the download's first bytes")
        .unwrap();
    (c, unread)
}

#[tokio::test]
async fn abor_during_a_download_answers_426_then_226() {
    let s = TestServer::start().await;
    let (mut c, unread) = unread_download(&s).await;
    c.send("ABOR\r\n").await;
    let (first, t1) = c.next_reply(10).await.expect("the transfer's reply");
    let (second, t2) = c.next_reply(10).await.expect("ABOR's reply");
    assert_eq!((first, second), (426, 226), "RFC 959 4.1.3 order: {t1}{t2}");
    drop(unread);
    assert_eq!(c.exchange("NOOP").await.0, 200);
    // The session can transfer again.
    assert_eq!(c.store("small.bin", b"after").await.0, 226);
    assert_eq!(c.retrieve("small.bin").await, (b"after".to_vec(), 226));
}

#[tokio::test]
async fn abor_behind_other_commands_still_ends_the_transfer_at_once() {
    let s = TestServer::start().await;
    let (mut c, unread) = unread_download(&s).await;
    // Commands sent during the transfer wait for its end; ABOR behind them ends it now.
    c.send("NOOP\r\nPWD\r\nABOR\r\n").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(c.next_reply(10).await.expect("a reply").0);
    }
    assert_eq!(codes, [426, 226, 200, 257], "abort first, then the waiting commands in order");
    drop(unread);
}

/// Waits until `user` has no session in the `sessions` table (what WHO shows), at most 5 s.
async fn wait_offline(s: &TestServer, user: &str, what: &str) {
    let gone = wait_until_async(async || !is_online(s, user).await, Duration::from_secs(5)).await;
    let online = s.app.sessions.online().await.unwrap();
    assert!(gone, "{what}: {user} still online: {online:?}");
}

async fn is_online(s: &TestServer, user: &str) -> bool {
    s.app.sessions.online().await.unwrap().iter().any(|r| r.username == user)
}

#[tokio::test]
async fn sessions_that_reset_or_time_out_leave_who() {
    let raw = RawConfig { idle_timeout: Some(1), ..RawConfig::default() };
    let s = TestServer::start_custom(&["alice", "bob"], raw).await;
    // A client that vanishes with a TCP reset, no QUIT.
    let c = s.control("alice").await;
    assert!(is_online(&s, "alice").await);
    socket2::SockRef::from(c.socket()).set_linger(Some(Duration::ZERO)).unwrap();
    drop(c);
    wait_offline(&s, "alice", "after a reset").await;
    // A client that closes without QUIT.
    let c = s.control("alice").await;
    drop(c);
    wait_offline(&s, "alice", "after a close without QUIT").await;
    // A client that idles past idle_timeout is told (RFC 959: 421 closing the control
    // connection) and is gone.
    let mut c = s.control("bob").await;
    assert!(is_online(&s, "bob").await);
    match c.next_reply(5).await {
        Ok((421 | 221, _)) | Err(NoReply::Closed(_)) => {}
        other => panic!("an idle session is closed: {other:?}"),
    }
    wait_offline(&s, "bob", "after the idle timeout").await;
}

#[tokio::test]
async fn rename_delete_and_rmd_behave() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.store("a.txt", b"aaa").await.0, 226);
    assert_eq!(c.exchange("MKD d").await.0, 257);
    assert_eq!(c.exchange("RNFR a.txt").await.0, 350);
    assert_eq!(c.exchange("RNTO d/b.txt").await.0, 250);
    assert_eq!(std::fs::read(s.home("alice").join("d/b.txt")).unwrap(), b"aaa");
    assert_eq!(c.exchange("RNTO c.txt").await.0, 503, "RNTO without RNFR (RFC 959)");
    assert_eq!(c.exchange("RNFR missing.txt").await.0, 550);
    assert_eq!(c.exchange("RMD d").await.0, 550, "not empty");
    assert_eq!(c.exchange("DELE d/b.txt").await.0, 250);
    assert!(!s.home("alice").join("d/b.txt").exists());
    assert_eq!(c.exchange("DELE d/b.txt").await.0, 550);
    assert_eq!(c.exchange("RMD d").await.0, 250);
    assert!(!s.home("alice").join("d").exists());
}

#[tokio::test]
async fn unknown_commands_are_500_and_commands_before_login_are_530() {
    let s = TestServer::start().await;
    let mut c = RawControl::connect(&s.addr()).await;
    assert_eq!(c.next_reply(10).await.unwrap().0, 220);
    for command in ["PWD", "CWD /", "LIST", "RETR x", "MKD x", "SIZE x"] {
        let (code, text) = c.exchange(command).await;
        assert_eq!(code, 530, "{command} before login: {text}");
    }
    let (code, text) = c.exchange("XYZZY plugh").await;
    assert_eq!(code, 500, "an unknown command is 500 before login too: {text}");
    c.login_checked_after_greeting("alice").await;
    let (code, text) = c.exchange("XYZZY plugh").await;
    assert_eq!(code, 500, "{text}");
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn site_commands_resolve_relative_paths_against_the_real_working_directory() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    assert_eq!(c.exchange("MKD pub").await.0, 257);
    assert_eq!(c.exchange("CWD pub").await.0, 250);
    assert_eq!(c.store("notes.txt", b"n").await.0, 226);
    let (code, text) = c.exchange("SITE SHARE bob notes.txt").await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("/pub/notes.txt"), "relative to /pub: {text}");
    // After CDUP the working directory is / again: `pub` is the folder, not /pub/pub.
    assert_eq!(c.exchange("CDUP").await.0, 250);
    let (code, text) = c.exchange("SITE SHARE bob pub").await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("Shared /pub with bob"), "{text}");
}

#[tokio::test]
async fn names_with_a_carriage_return_cannot_inject_reply_or_listing_lines() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    // A bare CR inside a path is refused (no file name can then carry one into a reply).
    c.send_bytes(b"MKD evil\r226 fake\r\n").await.unwrap();
    let (code, text) = c.next_reply(10).await.expect("a reply to MKD");
    assert_eq!(code, 501, "{text}");
    assert!(!text.contains("\r226") && !text.contains("\n226"), "{text:?}");
    assert!(!s.home("alice").join("evil\r226 fake").exists());
    // The next command gets its own reply, not a forged one.
    assert_eq!(c.exchange("NOOP").await.0, 200);
    // Listings show the name on one line.
    std::fs::write(s.home("alice").join("two\nlines"), b"x").unwrap();
    let mut ftp = s.login("alice").await;
    let names = ftp.nlst(None).await.unwrap();
    assert!(names.iter().all(|n| !n.starts_with("226") && !n.starts_with("lines")), "{names:?}");
    assert!(names.iter().any(|n| n == "two?lines"), "{names:?}");
}

#[tokio::test]
async fn stou_stores_under_a_new_name_each_time() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    let mut names = Vec::new();
    for body in [&b"first"[..], b"second"] {
        let mut d = c.data_connection().await;
        let (code, text) = c.exchange("STOU report.txt").await;
        assert_eq!(code, 150, "{text}");
        // RFC 1123 4.1.2.9: the reply names the file.
        let name = text.split("FILE: ").nth(1).expect("150 FILE: <name>").trim().to_string();
        d.write_all(body).await.unwrap();
        d.shutdown().await.unwrap();
        drop(d);
        assert_eq!(c.next_reply(10).await.unwrap().0, 226);
        assert_eq!(std::fs::read(s.home("alice").join(&name)).unwrap(), body);
        names.push(name);
    }
    assert_ne!(names[0], names[1]);
}

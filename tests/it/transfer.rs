//! Transfers and directories: byte-exact uploads and downloads, resume, APPE, listings,
//! UTF-8 names, passive modes, curl, PROXY protocol and stalled data connections.

use crate::harness::*;

#[tokio::test]
async fn uploads_and_downloads_are_byte_exact_at_0_1_and_10_mib() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    for (name, len) in [("empty.bin", 0), ("one.bin", 1), ("big.bin", 10 << 20)] {
        let body = data(len);
        put(&mut ftp, name, &body).await;
        same(&std::fs::read(s.home("alice").join(name)).unwrap(), &body, "on disk");
        same(&get(&mut ftp, name).await.unwrap(), &body, "downloaded");
        assert_eq!(ftp.size(name).await.unwrap(), len);
    }
}

#[tokio::test]
async fn directory_operations_work() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    ftp.mkdir("docs").await.unwrap();
    ftp.cwd("docs").await.unwrap();
    assert_eq!(ftp.pwd().await.unwrap(), "/docs");
    put(&mut ftp, "a.txt", b"aaa").await;
    ftp.mkdir("sub").await.unwrap();
    let mut names = ftp.nlst(None).await.unwrap();
    names.sort();
    assert_eq!(names, ["a.txt", "sub"]);
    let list = ftp.list(None).await.unwrap();
    assert!(list.iter().any(|l| l.starts_with('d') && l.ends_with(" sub")), "{list:?}");
    assert!(list.iter().any(|l| l.starts_with('-') && l.ends_with(" a.txt")), "{list:?}");

    ftp.rename("a.txt", "sub/b.txt").await.unwrap();
    assert_eq!(get(&mut ftp, "sub/b.txt").await.unwrap(), b"aaa");
    assert_eq!(code(get(&mut ftp, "a.txt").await), 550);
    ftp.mdtm("sub/b.txt").await.unwrap();

    assert_eq!(code(ftp.rmdir("sub").await), 550, "non-empty folder is not removed");
    ftp.rm("sub/b.txt").await.unwrap();
    ftp.rmdir("sub").await.unwrap();
    ftp.cdup().await.unwrap();
    ftp.rmdir("docs").await.unwrap();
    assert_eq!(ftp.nlst(None).await.unwrap(), ["shared"]);
    assert_eq!(code(ftp.rm("missing.txt").await), 550);
    assert_eq!(code(ftp.cwd("missing").await), 550);
}

#[tokio::test]
async fn mlsd_and_mlst_describe_entries() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    put(&mut ftp, "f.txt", b"12345").await;
    ftp.mkdir("d").await.unwrap();
    let entries = ftp.mlsd(None).await.unwrap();
    let f = entries.iter().find(|e| e.ends_with(" f.txt")).expect("f.txt listed");
    assert!(f.contains("type=file") && f.contains("size=5"), "{f}");
    let d = entries.iter().find(|e| e.ends_with(" d")).expect("d listed");
    assert!(d.contains("type=dir"), "{d}");
    let st = ftp.mlst(Some("f.txt")).await.unwrap();
    assert!(st.contains("size=5"), "{st}");
}

#[tokio::test]
async fn rest_resumes_downloads_and_uploads_and_appe_appends() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    let body = data(100_000);
    put(&mut ftp, "r.bin", &body).await;

    ftp.resume_transfer(60_000).await.unwrap();
    same(&get(&mut ftp, "r.bin").await.unwrap(), &body[60_000..], "resumed");

    // An interrupted upload of the first 40,000 bytes, resumed from there.
    put(&mut ftp, "u.bin", &body[..40_000]).await;
    ftp.resume_transfer(40_000).await.unwrap();
    put(&mut ftp, "u.bin", &body[40_000..]).await;
    same(&std::fs::read(s.home("alice").join("u.bin")).unwrap(), &body, "resumed upload");

    put(&mut ftp, "log.txt", b"one\n").await;
    let mut more = std::io::Cursor::new(b"two\n".to_vec());
    ftp.append_file("log.txt", &mut more).await.unwrap();
    assert_eq!(get(&mut ftp, "log.txt").await.unwrap(), b"one\ntwo\n");
}

#[tokio::test]
async fn utf8_names_with_spaces_round_trip() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    ftp.mkdir("Résumé 2026").await.unwrap();
    put(&mut ftp, "Résumé 2026/naïve café ☕.txt", "héllo".as_bytes()).await;
    assert!(s.home("alice").join("Résumé 2026/naïve café ☕.txt").is_file());
    let names = ftp.nlst(Some("Résumé 2026")).await.unwrap();
    assert!(names.iter().any(|n| n.ends_with("naïve café ☕.txt")), "{names:?}");
    assert_eq!(get(&mut ftp, "Résumé 2026/naïve café ☕.txt").await.unwrap(), "héllo".as_bytes());
}

#[tokio::test]
async fn passive_and_extended_passive_both_work() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    let (c, _) = raw(&mut ftp, "EPSV").await;
    assert_eq!(c, 229);
    let (c, text) = raw(&mut ftp, "PASV").await;
    assert_eq!(c, 227, "{text}");
    let features = ftp.feat().await.unwrap();
    for feature in ["SIZE", "MDTM", "REST", "MLST", "UTF8", "EPSV"] {
        assert!(features.contains_key(feature), "FEAT lacks {feature}: {features:?}");
    }
}

#[tokio::test]
async fn curl_uploads_and_downloads_like_a_stock_client() {
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("up.bin");
    let body = data(300_000);
    std::fs::write(&src, &body).unwrap();
    let url = format!("ftp://alice:{PW}@127.0.0.1:{}/curl%20dir/up.bin", s.port);
    let o = run_curl(&["--ftp-create-dirs", "-T", src.to_str().unwrap(), &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    same(&std::fs::read(s.home("alice").join("curl dir/up.bin")).unwrap(), &body, "curl upload");
    let o = run_curl(&[&url]).await;
    assert!(o.status.success(), "{}", err(&o));
    same(&o.stdout, &body, "curl download");
}

#[tokio::test]
async fn passive_replies_announce_the_configured_passive_host() {
    let raw_cfg = multiftp::config::RawConfig {
        passive_host: Some("203.0.113.7".into()),
        ..Default::default()
    };
    let s = TestServer::start_custom(&["alice"], raw_cfg).await;
    let mut ftp = s.login("alice").await;
    let (c, text) = raw(&mut ftp, "PASV").await;
    assert_eq!(c, 227, "{text}");
    assert!(text.contains("(203,0,113,7,"), "behind NAT the public address is announced: {text}");
}

#[tokio::test]
async fn proxy_protocol_mode_takes_the_client_address_from_the_proxy_header() {
    let raw_cfg =
        multiftp::config::RawConfig { proxy_protocol_port: Some(21), ..Default::default() };
    let s = TestServer::start_custom(&["alice"], raw_cfg).await;
    add_user(&s.app, "root1", multiftp::account::Role::Admin).await;
    // What a load balancer sends first (PROXY protocol v1), then ordinary FTP.
    let mut c = RawControl::connect(&s.addr()).await;
    c.send("PROXY TCP4 198.51.100.7 127.0.0.1 40000 21\r\n").await;
    c.login_checked("root1").await;
    let (code, who) = c.exchange("SITE WHO").await;
    assert_eq!(code, 200, "{who}");
    assert!(who.contains("from 198.51.100.7"), "{who}");
}

#[tokio::test]
async fn a_stalled_data_connection_fails_its_transfer_with_451_and_the_daemon_goes_on() {
    use tokio::io::AsyncWriteExt;
    let raw_cfg = multiftp::config::RawConfig { data_timeout: Some(2), ..Default::default() };
    let s = TestServer::start_custom(&["alice"], raw_cfg).await;
    // Far more than the socket buffers on both ends hold, so the server's writes block.
    std::fs::write(s.home("alice").join("big.bin"), data(64 << 20)).unwrap();
    let mut c = s.control("alice").await;

    // A download the client never reads: a cached 4 MiB file (sent from the async worker,
    // still more than the buffers of a connection nobody reads hold) and the big one (from a
    // blocking thread).
    std::fs::write(s.home("alice").join("mid.bin"), data(4 << 20)).unwrap();
    for name in ["mid.bin", "big.bin"] {
        let unread = c.data_connection().await;
        assert_eq!(c.exchange(&format!("RETR {name}")).await.0, 150);
        let t = std::time::Instant::now();
        let (code, r) = c.next_reply(30).await.expect("a reply for the stalled RETR");
        assert_eq!(code, 451, "a stalled RETR of {name} fails with 451: {r}");
        assert!(t.elapsed() >= std::time::Duration::from_millis(1500), "not before the timeout");
        drop(unread);
    }

    // An upload that sends a little and then nothing, without closing.
    let mut stalled = c.data_connection().await;
    assert_eq!(c.exchange("STOR part.bin").await.0, 150);
    stalled.write_all(b"first bytes").await.unwrap();
    let (code, r) = c.next_reply(30).await.expect("a reply for the stalled STOR");
    assert_eq!(code, 451, "a stalled STOR fails with 451: {r}");
    drop(stalled);

    // The session and the daemon go on: a whole transfer still works.
    assert_eq!(c.exchange("NOOP").await.0, 200);
    let mut ftp = s.login("alice").await;
    put(&mut ftp, "after.bin", b"still serving").await;
    assert_eq!(get(&mut ftp, "after.bin").await.unwrap(), b"still serving");
}

#[tokio::test]
async fn retr_of_a_folder_or_a_missing_file_is_550_and_the_session_goes_on() {
    let s = TestServer::start().await;
    let mut ftp = s.login("alice").await;
    ftp.mkdir("folder").await.unwrap();
    assert_eq!(code(get(&mut ftp, "folder").await), 550);
    assert_eq!(code(get(&mut ftp, "missing.bin").await), 550);
    // A small file (sent from the async worker) and a big one (from a blocking thread).
    for (name, len) in [("small.bin", 1000), ("big.bin", 300 << 10)] {
        let body = data(len);
        put(&mut ftp, name, &body).await;
        same(&get(&mut ftp, name).await.unwrap(), &body, name);
    }
}

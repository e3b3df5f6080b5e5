//! Real clients against the daemon: lftp, Python's ftplib (plain and FTP_TLS over TLS 1.2 and
//! 1.3), curl with a clear data channel under each `tls_required` policy.

use multiftp::account::Role;
use multiftp::config::RawConfig;

use crate::harness::*;

#[tokio::test]
async fn lftp_puts_lists_gets_and_mirrors_byte_exact() {
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path();
    std::fs::write(local.join("f.bin"), data(300_000)).unwrap();
    let tree = local.join("tree");
    std::fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    std::fs::write(tree.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(tree.join("sub/b.bin"), data(70_000)).unwrap();
    std::fs::write(tree.join("sub/deeper/c.txt"), "ünïcödé\n".as_bytes()).unwrap();
    std::fs::write(tree.join("sub/deeper/empty"), b"").unwrap();
    let script = format!(
        "set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 1; \
         set net:timeout 10; set xfer:clobber yes; lcd {dir}; \
         put f.bin; ls; get f.bin -o g.bin; mirror -R tree remote-tree; \
         mirror remote-tree back; quit",
        dir = local.display()
    );
    let url = format!("ftp://127.0.0.1:{}", s.port);
    let o = run_tool("lftp", &["-u", &format!("alice,{PW}"), "-e", &script, &url], 60).await;
    assert!(o.status.success(), "lftp: {}{}", out(&o), err(&o));
    assert!(out(&o).contains("f.bin"), "ls shows the upload: {}", out(&o));
    same(&std::fs::read(s.home("alice").join("f.bin")).unwrap(), &data(300_000), "put");
    same(&std::fs::read(local.join("g.bin")).unwrap(), &data(300_000), "get");
    for rel in ["a.txt", "sub/b.bin", "sub/deeper/c.txt", "sub/deeper/empty"] {
        let want = std::fs::read(tree.join(rel)).unwrap();
        same(&std::fs::read(s.home("alice").join("remote-tree").join(rel)).unwrap(), &want, rel);
        same(&std::fs::read(local.join("back").join(rel)).unwrap(), &want, rel);
    }
}

#[tokio::test]
async fn python_ftplib_mlsd_with_facts_stor_retr_and_nlst_work() {
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let downloaded = tmp.path().join("down.bin");
    let script = r#"
import ftplib, io, sys
f = ftplib.FTP()
f.connect('127.0.0.1', int(sys.argv[1]), timeout=20); f.login('alice', sys.argv[2])
body = bytes(range(256)) * 4000
print('stor', f.storbinary('STOR up.bin', io.BytesIO(body))[:3])
f.mkd('dir')
# mlsd(facts=...) sends OPTS MLST type;size; first (RFC 3659 7.9).
entries = dict(f.mlsd(facts=['type', 'size']))
print('types', sorted((n, e.get('type')) for n, e in entries.items() if n in ('dir', 'up.bin')))
print('size', entries['up.bin'].get('size'), 'modify' in entries['up.bin'])
out = io.BytesIO(); print('retr', f.retrbinary('RETR up.bin', out.write)[:3])
open(sys.argv[3], 'wb').write(out.getvalue())
print('nlst', sorted(f.nlst()))
print('quit', f.quit()[:3])
"#;
    let o = run_python(script, &[&s.port.to_string(), PW, downloaded.to_str().unwrap()]).await;
    let text = out(&o);
    assert!(o.status.success(), "{text}{}", err(&o));
    let body: Vec<u8> = (0..4000).flat_map(|_| 0..=255u8).collect();
    assert!(text.contains("stor 226"), "{text}");
    assert!(text.contains("types [('dir', 'dir'), ('up.bin', 'file')]"), "{text}");
    // Only the requested facts (RFC 3659 7.9).
    assert!(text.contains("size 1024000 False"), "{text}");
    assert!(text.contains("retr 226"), "{text}");
    assert!(text.contains("nlst ['dir', 'shared', 'up.bin']"), "{text}");
    assert!(text.contains("quit 221"), "{text}");
    same(&std::fs::read(s.home("alice").join("up.bin")).unwrap(), &body, "python upload");
    same(&std::fs::read(&downloaded).unwrap(), &body, "python download");
}

#[tokio::test]
async fn python_ftp_tls_storbinary_over_tls_1_2_and_1_3_is_clean_and_byte_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_tls(tmp.path(), "all", &["alice"], RawConfig::default()).await;
    let script = r#"
import ftplib, io, ssl, sys
for version in ('1.2', '1.3'):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_2 if version == '1.2' else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = v; ctx.maximum_version = v
    f = ftplib.FTP_TLS(context=ctx, timeout=20)
    f.connect('127.0.0.1', int(sys.argv[1])); f.login('alice', sys.argv[2]); f.prot_p()
    for size in (0, 1, 70000, 2000000):
        body = bytes((i * 7) % 251 for i in range(size))
        name = 'up-%s-%d.bin' % (version, size)
        # Raises SSLEOFError when the server closes without close_notify.
        reply = f.storbinary('STOR ' + name, io.BytesIO(body))
        out = io.BytesIO(); f.retrbinary('RETR ' + name, out.write)
        print(version, f.sock.version(), size, reply[:3], out.getvalue() == body)
    f.quit()
"#;
    let o = run_python(script, &[&s.port.to_string(), PW]).await;
    let text = out(&o);
    assert!(o.status.success(), "no exception: {text}{}", err(&o));
    for (version, name) in [("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")] {
        for size in [0usize, 1, 70000, 2000000] {
            let want = format!("{version} {name} {size} 226 True");
            assert!(text.contains(&want), "want {want:?}: {text}");
            let stored =
                std::fs::read(s.home("alice").join(format!("up-{version}-{size}.bin"))).unwrap();
            let body: Vec<u8> = (0..size).map(|i| ((i * 7) % 251) as u8).collect();
            same(&stored, &body, &format!("TLS {version} upload of {size} bytes"));
        }
    }
}

/// curl uploads 10,000 bytes as `clear.bin` with TLS on the control channel only and the data
/// in clear (PROT C), to a server with `tls_required = policy`: curl's result and the server.
async fn clear_data_upload(policy: &str) -> (std::process::Output, TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("up.bin");
    std::fs::write(&src, data(10_000)).unwrap();
    let s = start_tls(tmp.path(), policy, &["alice"], RawConfig::default()).await;
    let url = format!("ftp://alice:{PW}@127.0.0.1:{}/clear.bin", s.port);
    let o = run_curl(&["--ftp-ssl-control", "-k", "-T", src.to_str().unwrap(), &url]).await;
    (o, s, tmp)
}

#[tokio::test]
async fn a_clear_data_channel_is_refused_when_tls_is_required_for_all() {
    let (o, s, _tmp) = clear_data_upload("all").await;
    assert!(!o.status.success(), "a clear upload under tls_required = all must fail");
    assert!(!s.home("alice").join("clear.bin").exists(), "nothing stored in clear");
}

#[tokio::test]
async fn a_clear_data_channel_is_allowed_when_tls_is_required_for_logins() {
    let (o, s, _tmp) = clear_data_upload("logins").await;
    assert!(o.status.success(), "{}", err(&o));
    same(&std::fs::read(s.home("alice").join("clear.bin")).unwrap(), &data(10_000), "upload");
}

#[tokio::test]
async fn a_user_named_anonymous_needs_tls_like_everyone_else() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_tls(tmp.path(), "logins", &["alice"], RawConfig::default()).await;
    add_user(&s.app, "anonymous", Role::User).await;
    // Without TLS, USER gets the same refusal for anonymous as for alice (RFC 4217: 534).
    let mut answers = Vec::new();
    for user in ["alice", "anonymous"] {
        let mut c = RawControl::connect(&s.addr()).await;
        assert_eq!(c.next_reply(10).await.unwrap().0, 220);
        answers.push(c.exchange(&format!("USER {user}")).await);
        let (code, text) = c.exchange(&format!("PASS {PW}")).await;
        assert_ne!(code, 230, "{user} logged in without TLS: {text}");
    }
    assert_eq!(answers[0].0, 534, "{answers:?}");
    assert_eq!(answers[1], answers[0], "anonymous is refused like alice");
    // With TLS the same account logs in.
    let url = format!("ftp://anonymous:{PW}@127.0.0.1:{}/", s.port);
    let o = run_curl(&["--ssl-reqd", "-k", &url]).await;
    assert!(o.status.success(), "{}", err(&o));
}

//! FTPS: curl and Python's ftplib over explicit TLS (1.2 and 1.3, PROT P), logins refused
//! without TLS, and a failed TLS handshake on a data connection.

use std::path::Path;

use multiftp::config::RawConfig;

use crate::harness::*;

/// A server for alice with a fresh self-signed certificate and `tls_required = policy`.
async fn tls_server(dir: &Path, policy: &str) -> TestServer {
    start_tls(dir, policy, &["alice"], RawConfig::default()).await
}

#[tokio::test]
async fn curl_over_ftps_transfers_byte_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tls_server(tmp.path(), "all").await;
    let src = tmp.path().join("up.bin");
    let body = data(1 << 20);
    std::fs::write(&src, &body).unwrap();
    let url = format!("ftp://alice:{PW}@127.0.0.1:{}/secure.bin", s.port);
    let src_arg = src.to_str().unwrap();
    let o = run_curl(&["--ssl-reqd", "-k", "-T", src_arg, &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    same(&std::fs::read(s.home("alice").join("secure.bin")).unwrap(), &body, "uploaded");
    let o = run_curl(&["--ssl-reqd", "-k", &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    same(&o.stdout, &body, "downloaded");
    let o =
        run_curl(&["-v", "--ssl-reqd", "-k", &format!("ftp://alice:{PW}@127.0.0.1:{}/", s.port)])
            .await;
    let trace = err(&o);
    assert!(trace.contains("PROT P") && trace.contains("TLSv1.3"), "{trace}");
    // TLS 1.2 still works, and uploads over both versions arrive whole: no TLS 1.3 session
    // ticket on the data connection cuts an upload short.
    for version in ["1.2", "1.3"] {
        for round in 0..3 {
            let o = run_curl(&[
                "--ssl-reqd",
                "-k",
                &format!("--tlsv{version}"),
                "--tls-max",
                version,
                "-T",
                src_arg,
                &url,
            ])
            .await;
            assert!(o.status.success(), "TLS {version} round {round}: {}", err(&o));
            same(&std::fs::read(s.home("alice").join("secure.bin")).unwrap(), &body, "upload");
        }
    }
}

#[tokio::test]
async fn logins_without_tls_are_refused_when_tls_is_required() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tls_server(tmp.path(), "logins").await;
    let url = format!("ftp://alice:{PW}@127.0.0.1:{}/", s.port);
    let o = run_curl(&[&url]).await;
    assert!(!o.status.success());
    assert!(err(&o).contains("534"), "RFC 4217 534, policy requires TLS: {}", err(&o));
    // With TLS on the control channel the login works, and a clear data channel is allowed.
    let o = run_curl(&["--ssl-reqd", "-k", "--ftp-ssl-ccc", &url]).await;
    assert!(o.status.success(), "{}", err(&o));
}

#[tokio::test]
async fn python_ftplib_ftp_tls_with_prot_p_works() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tls_server(tmp.path(), "all").await;
    std::fs::write(s.home("alice").join("down.bin"), data(500_000)).unwrap();
    let script = r#"
import ftplib, io, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx)
f.connect('127.0.0.1', int(sys.argv[1])); f.login('alice', sys.argv[2]); f.prot_p()
out = io.BytesIO(); f.retrbinary('RETR down.bin', out.write)
open(sys.argv[3], 'wb').write(out.getvalue())
print('nlst', sorted(f.nlst()))
# storbinary waits for the server's close_notify at the end of the upload (SSLEOFError without).
print('stor', f.storbinary('STOR up.bin', io.BytesIO(bytes(range(256)) * 1000))[:3])
print('version', f.sock.version()); f.quit()
"#;
    let downloaded = tmp.path().join("down.bin");
    let o = run_python(script, &[&s.port.to_string(), PW, downloaded.to_str().unwrap()]).await;
    let text = out(&o);
    assert!(o.status.success(), "{text}{}", err(&o));
    same(&std::fs::read(&downloaded).unwrap(), &data(500_000), "python download");
    assert!(text.contains("nlst ['down.bin', 'shared']"), "{text}");
    assert!(text.contains("stor 226"), "{text}");
    let expected: Vec<u8> = (0..1000).flat_map(|_| 0..=255u8).collect();
    same(&std::fs::read(s.home("alice").join("up.bin")).unwrap(), &expected, "python upload");
}

#[tokio::test]
async fn a_failed_tls_handshake_on_a_data_connection_gets_an_error_reply_and_the_daemon_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tls_server(tmp.path(), "all").await;
    std::fs::write(s.home("alice").join("f.bin"), data(1000)).unwrap();
    let script = r#"
import ftplib, socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx)
f.connect('127.0.0.1', int(sys.argv[1])); f.login('alice', sys.argv[2]); f.prot_p()
host, port = ftplib.parse227(f.sendcmd('PASV'))
s = socket.create_connection((host, port)); f.putcmd('RETR f.bin')
s.sendall(b'not a TLS client hello\r\n' * 10); s.close()
f.sock.settimeout(5)
print('first', f.getresp()[:3])
try:
    print('second', f.getresp()[:3])
except ftplib.all_errors as e:
    print('second', str(e)[:3])
print('noop', f.voidcmd('NOOP')[:3])
"#;
    let o = run_python(script, &[&s.port.to_string(), PW]).await;
    let text = out(&o);
    assert!(o.status.success(), "{text}{}", err(&o));
    // The transfer ends with an error reply (426 or 4xx/5xx), not silence.
    let second = text.lines().find_map(|l| l.strip_prefix("second ")).expect(&text);
    assert!(second.starts_with('4') || second.starts_with('5'), "{text}");
    assert!(text.contains("noop 200"), "the session's control channel still answers: {text}");
    // Other clients are served as before.
    let url = format!("ftp://alice:{PW}@127.0.0.1:{}/f.bin", s.port);
    let o = run_curl(&["--ssl-reqd", "-k", &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    same(&o.stdout, &data(1000), "after the failed handshake");
}

//! Settings the new engine brings (`active_mode`, `require_tls_session_reuse`,
//! `data_peer_check`, `line_limit`, `implicit_tls_port`), and the file `multiftpd
//! check-config` prints.

use std::time::Duration;

use multiftp::Settings;
use multiftp::config::{BlockBy, LogFormat, RawConfig};

use crate::harness::*;

#[tokio::test]
async fn active_mode_off_refuses_port_and_eprt() {
    let raw = RawConfig { active_mode: Some(false), ..RawConfig::default() };
    let s = TestServer::start_custom(&["alice"], raw).await;
    let mut c = RawControl::connect(&s.addr()).await;
    c.login_checked("alice").await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    for command in [
        format!("PORT 127,0,0,1,{},{}", port / 256, port % 256),
        format!("EPRT |1|127.0.0.1|{port}|"),
    ] {
        let (code, text) = c.exchange(&command).await;
        assert!(code == 502 || code == 504, "{command} with active_mode = false: {text}");
    }
    // Passive mode is unaffected.
    let mut d = c.data_connection().await;
    assert!(matches!(c.exchange("NLST").await.0, 150 | 125));
    assert_eq!(read_all_within(&mut d, 10).await, b"shared\r\n");
    assert_eq!(c.next_reply(10).await.unwrap().0, 226);
}

#[tokio::test]
async fn required_tls_session_reuse_serves_curl_and_refuses_a_client_that_does_not_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = RawConfig { require_tls_session_reuse: Some(true), ..RawConfig::default() };
    let s = start_tls(tmp.path(), "all", &["alice"], raw).await;
    let src = tmp.path().join("up.bin");
    std::fs::write(&src, data(200_000)).unwrap();
    // curl resumes the control connection's TLS session on its data connections.
    let url = format!("ftp://alice:{PW}@127.0.0.1:{}/up.bin", s.port);
    let o = run_curl(&["--ssl-reqd", "-k", "-T", src.to_str().unwrap(), &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    let o = run_curl(&["--ssl-reqd", "-k", &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    same(&o.stdout, &data(200_000), "curl download with session reuse");
    // Python's ftplib does not resume: its data connection is refused with a reply, no hang.
    let script = r#"
import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=15)
f.connect('127.0.0.1', int(sys.argv[1])); f.login('alice', sys.argv[2]); f.prot_p()
try:
    f.retrlines('LIST', lambda line: None)
    print('listed')
except (ftplib.error_temp, ftplib.error_perm) as e:
    print('refused', str(e)[:3])
except Exception as e:
    f.sock.settimeout(5)
    try:
        r = f.getresp()
    except ftplib.all_errors as e2:
        r = str(e2)
    print('refused', r[:3])
f.sock.settimeout(5)
print('noop', f.voidcmd('NOOP')[:3])
"#;
    let o = run_python(script, &[&s.port.to_string(), PW]).await;
    let text = out(&o);
    assert!(o.status.success(), "{text}{}", err(&o));
    let code = text.lines().find_map(|l| l.strip_prefix("refused ")).expect(&text);
    assert!(code.starts_with('4') || code.starts_with('5'), "{text}");
    assert!(text.contains("noop 200"), "{text}");
}

#[tokio::test]
async fn data_peer_check_off_accepts_a_data_connection_from_another_address() {
    let raw = RawConfig { data_peer_check: Some(false), ..RawConfig::default() };
    let s = TestServer::start_custom(&["alice"], raw).await;
    std::fs::write(s.home("alice").join("f.bin"), data(5000)).unwrap();
    let mut c = RawControl::connect(&s.addr()).await;
    c.login_checked("alice").await;
    let port = c.pasv_port().await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut d = sock.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    assert!(matches!(c.exchange("RETR f.bin").await.0, 150 | 125));
    same(&read_all_within(&mut d, 10).await, &data(5000), "behind an odd NAT");
    assert_eq!(c.next_reply(10).await.unwrap().0, 226);
}

#[tokio::test]
async fn line_limit_caps_command_lines() {
    let raw = RawConfig { line_limit: Some(1024), ..RawConfig::default() };
    let s = TestServer::start_custom(&["alice"], raw).await;
    let mut c = RawControl::connect(&s.addr()).await;
    c.login_checked("alice").await;
    let long = "d".repeat(200);
    let (code, text) = c.exchange(&format!("MKD {long}")).await;
    assert_eq!(code, 257, "a line under the limit is served: {text}");
    let (code, text) = c.exchange(&format!("MKD {}", "e".repeat(2000))).await;
    assert!((500..600).contains(&code), "a line over the limit is refused: {text}");
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn implicit_tls_port_serves_ftps_from_the_first_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let implicit = unused_port();
    let raw = RawConfig { implicit_tls_port: Some(implicit), ..RawConfig::default() };
    let s = start_tls(tmp.path(), "none", &["alice"], raw).await;
    std::fs::write(s.home("alice").join("hello.txt"), b"hello").unwrap();
    // The implicit listener may come up just after the explicit one.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(("127.0.0.1", implicit)).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "nothing listens on {implicit}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("ftps://alice:{PW}@127.0.0.1:{implicit}/");
    let o = run_curl(&["-k", &url]).await;
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("hello.txt"), "{}", out(&o));
    let o = run_curl(&["-k", &format!("{url}hello.txt")]).await;
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(o.stdout, b"hello");
}

/// `multiftpd check-config` prints a configuration file that `--config` reads back to the same
/// settings, in the library and in the daemon.
#[tokio::test]
async fn check_config_prints_a_file_that_loads_back_to_the_same_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let daemon = env!("CARGO_BIN_EXE_multiftpd");
    let flags = [
        "--root",
        root.to_str().unwrap(),
        "--passive-ports",
        "40000-40100",
        "--idle-timeout",
        "90",
        "--failed-logins-by",
        "ip",
        "--active-mode",
        "false",
        "--log-format",
        "json",
        "check-config",
    ];
    let o = run_tool(daemon, &flags, 30).await;
    assert!(o.status.success(), "{}", err(&o));
    let printed = out(&o);
    for line in ["idle_timeout = \"1m 30s\"", "passive_ports = \"40000-40100\"", "port = 2121"] {
        assert!(printed.lines().any(|l| l == line), "{line} missing from:\n{printed}");
    }
    let file = tmp.path().join("printed.toml");
    std::fs::write(&file, &printed).unwrap();
    let from_flags = Settings::load(
        None,
        RawConfig {
            root: Some(root.clone()),
            passive_ports: Some("40000-40100".into()),
            idle_timeout: Some(90),
            failed_logins_by: Some(BlockBy::Ip),
            active_mode: Some(false),
            log_format: Some(LogFormat::Json),
            ..RawConfig::default()
        },
    )
    .unwrap();
    assert_eq!(Settings::load(Some(&file), RawConfig::default()).unwrap(), from_flags);
    let o = run_tool(daemon, &["--config", file.to_str().unwrap(), "check-config"], 30).await;
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), printed, "the daemon reads the printed file back to the same settings");
}

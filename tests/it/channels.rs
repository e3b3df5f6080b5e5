//! Data connections: one pending passive listener per session, every transfer answered, the
//! peer-address check, active mode limited to the client's own address (RFC 2577), EPRT/EPSV
//! (RFC 2428) on IPv4 and IPv6, and `EPSV ALL`.

use std::time::{Duration, Instant};

use multiftp::config::RawConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

#[tokio::test]
async fn many_pasv_from_one_session_do_not_starve_the_others() {
    let s = TestServer::start().await;
    let mut hog = s.control("alice").await;
    let mut last = 0;
    for _ in 0..300 {
        last = hog.exchange("PASV").await.0;
    }
    assert_eq!(last, 227, "a new PASV replaces the session's pending listener");
    // Another session still gets a passive port and lists (the harness gives 64 ports).
    let mut ftp = s.login("bob").await;
    let t = Instant::now();
    let names = ftp.nlst(None).await.expect("another session's PASV + NLST works");
    assert_eq!(names, ["shared"]);
    assert!(t.elapsed() < Duration::from_secs(3), "no waiting for ports: {:?}", t.elapsed());
    // And the hog's own last listener works.
    let port = hog.pasv_port().await;
    let mut d = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(hog.exchange("NLST").await.0, 150);
    let listing = read_all_within(&mut d, 10).await;
    assert_eq!(listing, b"shared\r\n");
    assert_eq!(hog.next_reply(10).await.unwrap().0, 226);
}

#[tokio::test]
async fn retr_without_pasv_or_port_is_425() {
    let s = TestServer::start().await;
    std::fs::write(s.home("alice").join("f.bin"), b"data").unwrap();
    let mut c = s.control("alice").await;
    c.send("RETR f.bin\r\n").await;
    let (code, text) = c.next_reply(5).await.expect("an answer, never 150 and then silence");
    if code == 150 || code == 125 {
        let (code, text) = c.next_reply(5).await.expect("a final reply after 150");
        panic!("RETR without a data connection got 150 then {code}: {text}");
    }
    assert_eq!(code, 425, "{text}");
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn pasv_without_a_data_connection_arriving_is_425_within_the_data_timeout() {
    let raw = RawConfig { data_timeout: Some(2), ..RawConfig::default() };
    let s = TestServer::start_custom(&["alice"], raw).await;
    std::fs::write(s.home("alice").join("f.bin"), b"data").unwrap();
    let mut c = s.control("alice").await;
    c.pasv_port().await;
    let t = Instant::now();
    c.send("RETR f.bin\r\n").await;
    let (mut code, mut text) = c.next_reply(6).await.expect("a reply to RETR");
    if code == 150 || code == 125 {
        (code, text) = c.next_reply(6).await.expect("a final reply after 150");
    }
    assert_eq!(code, 425, "{text}");
    assert!(t.elapsed() < Duration::from_secs(5), "within data_timeout: {:?}", t.elapsed());
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn a_data_connection_from_a_foreign_address_is_refused_and_the_owner_still_transfers() {
    let s = TestServer::start().await;
    std::fs::write(s.home("alice").join("f.bin"), data(10_000)).unwrap();
    let mut c = s.control("alice").await;
    let port = c.pasv_port().await;
    // A thief on another local address races for the passive port first: its connection is
    // complete (first in the listener's queue) before the owner's starts.
    let mut thief = connect_from("127.0.0.2", port).await;
    let mut own = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the listener still waits for the owner after refusing the foreign connection");
    let (code, text) = c.exchange("RETR f.bin").await;
    assert_eq!(code, 150, "{text}");
    let body = read_all_within(&mut own, 10).await;
    same(&body, &data(10_000), "the owner's download");
    let (code, text) = c.next_reply(10).await.expect("the transfer is answered");
    assert_eq!(code, 226, "{text}");
    // The thief was refused: closed without a byte (a reset counts as closed too).
    let mut stolen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), thief.read_to_end(&mut stolen))
        .await
        .expect("the foreign connection is closed, not left waiting")
        .ok();
    assert!(stolen.is_empty(), "the foreign connection got {} bytes", stolen.len());
}

/// A connection to 127.0.0.1:`port` from the local address `from` (another loopback address).
async fn connect_from(from: &str, port: u16) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind((from.parse::<std::net::IpAddr>().unwrap(), 0).into()).unwrap();
    sock.connect(([127, 0, 0, 1], port).into()).await.unwrap()
}

/// A listener the test owns on 127.0.0.1 and its port.
async fn own_listener() -> (tokio::net::TcpListener, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[tokio::test]
async fn eprt_to_the_clients_own_address_works() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    let (l, port) = own_listener().await;
    let (code, text) = c.exchange(&format!("EPRT |1|127.0.0.1|{port}|")).await;
    assert_eq!(code, 200, "RFC 2428 2: {text}");
    c.send("NLST\r\n").await;
    let (mut d, _) = tokio::time::timeout(Duration::from_secs(5), l.accept())
        .await
        .expect("the server connects to the EPRT address")
        .unwrap();
    let (code, text) = c.next_reply(10).await.unwrap();
    assert!(code == 150 || code == 125, "{text}");
    assert_eq!(read_all_within(&mut d, 10).await, b"shared\r\n");
    assert_eq!(c.next_reply(10).await.unwrap().0, 226);
    // PORT (RFC 959) to the same kind of address works too, for an upload.
    let (l, port) = own_listener().await;
    let (code, text) = c.exchange(&format!("PORT 127,0,0,1,{},{}", port / 256, port % 256)).await;
    assert_eq!(code, 200, "{text}");
    c.send("STOR active.bin\r\n").await;
    let (mut d, _) =
        tokio::time::timeout(Duration::from_secs(5), l.accept()).await.unwrap().unwrap();
    let (code, text) = c.next_reply(10).await.unwrap();
    assert!(code == 150 || code == 125, "{text}");
    d.write_all(&data(50_000)).await.unwrap();
    d.shutdown().await.unwrap();
    drop(d);
    assert_eq!(c.next_reply(10).await.unwrap().0, 226);
    same(&std::fs::read(s.home("alice").join("active.bin")).unwrap(), &data(50_000), "upload");
}

#[tokio::test]
async fn port_to_another_address_or_a_privileged_port_is_refused() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    // RFC 2577 3: no bounce to a third host, no privileged ports.
    let (_l, port) = own_listener().await;
    for command in [
        format!("PORT 127,0,0,2,{},{}", port / 256, port % 256),
        format!("EPRT |1|127.0.0.2|{port}|"),
        "PORT 127,0,0,1,0,21".to_string(),
        "EPRT |1|127.0.0.1|25|".to_string(),
    ] {
        let (code, text) = c.exchange(&command).await;
        assert!((500..600).contains(&code), "{command}: {text}");
    }
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

#[tokio::test]
async fn epsv_works_on_an_ipv6_server() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: ::1 is not available on this machine");
        return;
    }
    let s = TestServer::start_bound(&["alice"], RawConfig::default(), "::1").await;
    let mut c = s.control("alice").await;
    for command in ["EPSV", "EPSV 2"] {
        let (code, text) = c.exchange(command).await;
        assert_eq!(code, 229, "{command}: {text}");
        let port = epsv_reply_port(&text);
        let mut d = tokio::net::TcpStream::connect(("::1", port)).await.unwrap();
        let (code, text) = c.exchange("NLST").await;
        assert!(code == 150 || code == 125, "{text}");
        assert_eq!(read_all_within(&mut d, 10).await, b"shared\r\n");
        assert_eq!(c.next_reply(10).await.unwrap().0, 226);
    }
    // Active mode over IPv6, to the client's own address.
    let l = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    assert_eq!(c.exchange(&format!("EPRT |2|::1|{port}|")).await.0, 200);
    c.send("NLST\r\n").await;
    let (mut d, _) =
        tokio::time::timeout(Duration::from_secs(5), l.accept()).await.unwrap().unwrap();
    assert!(matches!(c.next_reply(10).await.unwrap().0, 150 | 125));
    assert_eq!(read_all_within(&mut d, 10).await, b"shared\r\n");
    assert_eq!(c.next_reply(10).await.unwrap().0, 226);
}

#[tokio::test]
async fn after_epsv_all_transfers_use_epsv_and_pasv_and_port_are_refused() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    let (code, text) = c.exchange("EPSV ALL").await;
    assert_eq!(code, 200, "RFC 2428 4: {text}");
    // STOR and RETR over EPSV.
    assert_eq!(c.store("all.bin", &data(20_000)).await.0, 226);
    let (body, code) = c.retrieve("all.bin").await;
    same(&body, &data(20_000), "RETR after EPSV ALL");
    assert_eq!(code, 226);
    // Every other way to set up a data connection is refused.
    let (_l, port) = own_listener().await;
    for command in [
        "PASV".to_string(),
        format!("PORT 127,0,0,1,{},{}", port / 256, port % 256),
        format!("EPRT |1|127.0.0.1|{port}|"),
    ] {
        let (code, text) = c.exchange(&command).await;
        assert!((500..600).contains(&code), "{command} after EPSV ALL: {text}");
    }
    assert_eq!(c.exchange("NOOP").await.0, 200);
}

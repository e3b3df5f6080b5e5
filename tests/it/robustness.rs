//! Hostile input on the control connection: over-long lines, parse errors, Telnet sequences and
//! a seeded fuzz run. Every bad line gets a reply and the session (and daemon) goes on.

use std::time::{Duration, Instant};

use multiftp::config::RawConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::harness::*;

#[tokio::test]
async fn a_one_mib_line_before_login_gets_one_error_reply_and_the_session_goes_on() {
    let s = TestServer::start().await;
    let mut c = RawControl::connect(&s.addr()).await;
    let (g, _) = c.next_reply(10).await.expect("greeting");
    assert_eq!(g, 220);
    let chunk = vec![b'A'; 64 << 10];
    for _ in 0..16 {
        c.send_bytes(&chunk).await.expect("the server still reads (or discards) the line");
    }
    c.send_bytes(b"\r\n").await.unwrap();
    let (code, text) = c.next_reply(10).await.expect("a reply to the over-long line");
    assert!((500..600).contains(&code), "a 500-class reply: {}", &text[..text.len().min(200)]);
    // Exactly one reply: the next one read is NOOP's own.
    let (code, text) = c.exchange("NOOP").await;
    assert_eq!(code, 200, "the session still answers NOOP: {}", &text[..text.len().min(200)]);
    let (code, text) = c.exchange("USER alice").await;
    assert_eq!(code, 331, "{text}");
    let (code, text) = c.exchange(&format!("PASS {PW}")).await;
    assert_eq!(code, 230, "{text}");
}

#[tokio::test]
async fn lines_without_newline_on_four_connections_do_not_grow_the_daemon() {
    // A real daemon process, so its memory is measured apart from the tests running beside it.
    let (_dir, root) = root_with(&["alice"]);
    let d = Daemon::start(&root, &[]);
    let mut probe = RawControl::open(&d.addr(), "alice").await;
    let before = vm_rss_kib(d.pid());
    let addr = d.addr();
    let senders = (0..4).map(|_| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut c = RawControl::connect(&addr).await;
            let chunk = vec![b'x'; 1 << 20];
            // 32 MiB without a newline. The server may refuse more (close or stop reading):
            // either way it must not keep it.
            let send = async {
                for _ in 0..32 {
                    if c.send_bytes(&chunk).await.is_err() {
                        return;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(15), send).await;
            // Keep the connection open while the memory is measured.
            c
        })
    });
    let mut held = Vec::new();
    for t in senders.collect::<Vec<_>>() {
        held.push(t.await.unwrap());
    }
    // No wait needed before measuring: a sender is done once the daemon has taken (or
    // refused) its 32 MiB, and what the socket buffers may still hold is far below the limit.
    let after = vm_rss_kib(d.pid());
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(grown_mib < 32, "4 x 32 MiB without a newline grew the daemon by {grown_mib} MiB");
    // The daemon still serves the session that was open and new ones.
    assert_eq!(probe.exchange("NOOP").await.0, 200);
    RawControl::open(&d.addr(), "alice").await;
    drop(held);
}

#[tokio::test]
async fn parse_errors_are_answered_and_the_session_goes_on() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    // What Python's mlsd(facts=[...]) sends (RFC 3659 7.9): a valid request.
    let (code, text) = c.exchange("OPTS MLST type;size;").await;
    assert_eq!(code, 200, "{text}");
    for (command, want) in [
        ("REST abc", &[501][..]),
        ("MODE Z", &[504]),
        ("PROT X", &[504, 536]),
        ("CWD", &[501]),
        ("TYPE E", &[504]),
        ("NOOP", &[200]),
    ] {
        c.send(&format!("{command}\r\n")).await;
        let (code, text) = c
            .next_reply(10)
            .await
            .unwrap_or_else(|e| panic!("{command}: the session must answer and go on: {e:?}"));
        assert!(want.contains(&code), "{command}: want {want:?}, got {text}");
    }
    assert_eq!(c.exchange("PWD").await.0, 257);
}

/// A random line without LF (CR alone, NUL, Telnet sequences, invalid UTF-8, huge).
fn hostile_line(rng: &mut StdRng) -> Vec<u8> {
    const VERBS: &[&str] = &[
        "USER", "PASS", "ACCT", "CWD", "XCWD", "CDUP", "PWD", "MKD", "RMD", "DELE", "RNFR", "RNTO",
        "SIZE", "MDTM", "MFMT", "MLST", "STAT", "HELP", "FEAT", "OPTS", "TYPE", "MODE", "STRU",
        "REST", "ALLO", "SITE", "HASH", "PROT", "PBSZ", "NOOP", "SYST", "ABOR", "RETR", "STOR",
        "APPE", "STOU", "LIST", "NLST", "MLSD", "QUIT", "REIN", "XYZZY", "", "user", "Retr",
    ];
    let verb = VERBS[rng.random_range(0..VERBS.len())];
    let mut line = verb.as_bytes().to_vec();
    if rng.random_bool(0.8) {
        line.push(b' ');
    }
    let len = match rng.random_range(0..20) {
        0 => rng.random_range(10_000..200_000),
        1..=3 => rng.random_range(300..3000),
        _ => rng.random_range(0..40),
    };
    while line.len() < len + verb.len() {
        match rng.random_range(0..12) {
            0 => line.push(0),
            1 => line.push(b'\r'),
            // Telnet commands (RFC 854): IP, DM, NOP, an escaped 0xFF; and an option request.
            2 => line.extend_from_slice(&[0xFF, [244, 242, 241, 255][rng.random_range(0..4)]]),
            3 => line.extend_from_slice(&[
                0xFF,
                rng.random_range(251..=254),
                rng.random_range(0..40),
            ]),
            // Invalid UTF-8: lone continuation bytes, an overlong form, a cut sequence.
            4 => line.extend_from_slice(
                [&[0x80u8][..], &[0xC0, 0xAF], &[0xE2, 0x82]][rng.random_range(0..3)],
            ),
            5 => line.extend_from_slice("é☕/..".as_bytes()),
            6 => line.extend_from_slice(b"../../"),
            7 => line.push(b' '),
            _ => {
                let b = rng.random_range(0x21u8..0x7F);
                line.push(b);
            }
        }
    }
    // The line ends only where the test says.
    line.retain(|b| *b != b'\n');
    // A trailing CR would join our CRLF into CR CR LF; harmless, but keep lines plain.
    while line.last() == Some(&b'\r') || line.last() == Some(&0xFF) {
        line.pop();
    }
    // Some servers skip empty lines silently; give every line something to answer.
    if !line.iter().any(|b| (0x21..0x7F).contains(b)) {
        line.insert(0, b'Z');
    }
    line
}

/// Sends hostile lines on one connection until `until`; returns how many lines were answered.
async fn fuzz_connection(addr: String, seed: u64, login: bool, until: Instant) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut answered = 0;
    'connections: while Instant::now() < until {
        let mut c = RawControl::connect(&addr).await;
        if login {
            c.login_checked("fuzzer").await;
        } else {
            assert_eq!(c.next_reply(10).await.expect("greeting").0, 220);
        }
        while Instant::now() < until {
            let mut line = hostile_line(&mut rng);
            let quit_like = line.len() >= 4
                && (line[..4].eq_ignore_ascii_case(b"QUIT")
                    || line[..4].eq_ignore_ascii_case(b"REIN"));
            line.extend_from_slice(b"\r\n");
            let shown = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
            c.send_bytes(&line)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: sending {shown:?}: {e}"));
            let (code, _text) = match c.next_reply(10).await {
                Ok(r) => r,
                Err(e) => panic!("seed {seed}: no reply to {shown:?}: {e:?}"),
            };
            answered += 1;
            if code == 221 || code == 421 {
                assert!(quit_like || code == 421, "seed {seed}: {code} for {shown:?}");
                // The server may close now: start over on a new connection.
                continue 'connections;
            }
            // Sync: a line a server split in two (at a bare CR, say) would leave an extra reply;
            // read up to NOOP's own answer.
            c.send_bytes(b"NOOP\r\n").await.unwrap();
            let mut synced = false;
            for _ in 0..4 {
                match c.next_reply(10).await {
                    // 530: a USER or REIN line ended the login; PWD below notices.
                    Ok((200 | 530, _)) => {
                        synced = true;
                        break;
                    }
                    Ok((221 | 421, _)) => continue 'connections,
                    Ok(_) => {}
                    Err(e) => panic!("seed {seed}: no reply to NOOP after {shown:?}: {e:?}"),
                }
            }
            assert!(synced, "seed {seed}: NOOP not answered after {shown:?}");
            // REIN or a USER line may have logged the session out: log in again.
            if login && c.exchange("PWD").await.0 != 257 {
                continue 'connections;
            }
        }
    }
    answered
}

#[tokio::test]
async fn fuzzed_hostile_lines_are_all_answered_and_the_daemon_keeps_serving() {
    let raw =
        RawConfig { failed_logins_max: Some(1000), data_timeout: Some(2), ..RawConfig::default() };
    let s = TestServer::start_custom(&["alice", "fuzzer"], raw).await;
    let until = Instant::now() + Duration::from_secs(3);
    let runs = [(1u64, false), (2, false), (3, true), (4, true)]
        .map(|(seed, login)| tokio::spawn(fuzz_connection(s.addr(), seed, login, until)));
    let mut total = 0;
    for r in runs {
        total += r.await.unwrap();
    }
    assert!(total > 50, "only {total} lines were tried");
    let mut ftp = s.login("alice").await;
    put(&mut ftp, "after-fuzz.bin", &data(100_000)).await;
    same(&get(&mut ftp, "after-fuzz.bin").await.unwrap(), &data(100_000), "after the fuzz run");
}

#[tokio::test]
async fn telnet_interrupt_and_synch_before_abor_are_understood() {
    let s = TestServer::start().await;
    let mut c = s.control("alice").await;
    // RFC 959 4.1.3: IAC IP, then the Synch (IAC DM with DM sent as TCP urgent data), then ABOR.
    c.send_bytes(&[0xFF, 0xF4, 0xFF]).await.unwrap();
    let sent = socket2::SockRef::from(c.socket()).send_out_of_band(&[0xF2]).unwrap();
    assert_eq!(sent, 1);
    c.send_bytes(b"ABOR\r\n").await.unwrap();
    let (code, text) = c.next_reply(10).await.expect("a reply to ABOR");
    assert_eq!(code, 226, "ABOR with nothing running (RFC 959 4.1.3): {text}");
    assert_eq!(c.exchange("NOOP").await.0, 200);
    // All in band (what a client without urgent data sends) works too.
    c.send_bytes(&[0xFF, 0xF4, 0xFF, 0xF2]).await.unwrap();
    c.send_bytes(b"ABOR\r\n").await.unwrap();
    let (code, text) = c.next_reply(10).await.expect("a reply to ABOR");
    assert_eq!(code, 226, "{text}");
    assert_eq!(c.exchange("PWD").await.0, 257);
}

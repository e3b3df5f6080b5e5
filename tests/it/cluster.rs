//! Several nodes behind HAProxy (issue 14), with real parts started by each test: HAProxy
//! with the shipped `config/haproxy/multiftp.cfg`, two `multiftpd` processes over one data
//! root (one SQLite file for now), suppaftp and hand-spoken clients through the balancer. The
//! rig is in `balancer.rs`.

use std::time::Duration;

use suppaftp::types::Mode;
use tokio::io::AsyncReadExt;

use crate::balancer::{Cluster, PUBLIC, haproxy_bin, shipped_config};
use crate::harness::{
    PW, RawControl, data, err, get, pasv_reply_port, put, raw, run_bounded, same,
};

/// Every test's bound: the rig starts in seconds, so a minute means something hangs.
const BOUND: Duration = Duration::from_secs(120);

/// The node (0 or 1) a logged-in client's session runs on, from the passive range its PASV
/// reply's port falls in (the pending listener is replaced by the client's next PASV).
async fn node_of(cluster: &Cluster, ftp: &mut suppaftp::tokio::AsyncFtpStream) -> usize {
    let (code, text) = raw(ftp, "PASV").await;
    assert_eq!(code, 227, "{text}");
    assert!(text.contains("(127,0,0,2,"), "the node announces the balancer's address: {text}");
    cluster.node_of_port(pasv_reply_port(&text))
}

#[test]
fn the_shipped_config_is_valid_and_names_what_is_missing() {
    let dir = tempfile::TempDir::new().unwrap();
    // Without the nodes' addresses and ranges HAProxy refuses to start and says what to set.
    let o = run_bounded(
        std::process::Command::new(haproxy_bin()).arg("-c").arg("-f").arg(shipped_config()),
        "",
        30,
    );
    assert!(!o.status.success(), "haproxy -c accepted the config without nodes");
    assert!(err(&o).contains("set FTPLB_NODE1_ADDR and FTPLB_NODE2_ADDR"), "{}", err(&o));
    // With them it is valid.
    let socket = dir.path().join("s.sock");
    let o = run_bounded(
        std::process::Command::new(haproxy_bin()).arg("-c").arg("-f").arg(shipped_config()).envs([
            ("FTPLB_NODE1_ADDR", "10.0.0.11"),
            ("FTPLB_NODE2_ADDR", "10.0.0.12"),
            ("FTPLB_NODE1_PASSIVE", "50000-50099"),
            ("FTPLB_NODE2_PASSIVE", "50100-50199"),
            ("FTPLB_STATS_SOCKET", socket.to_str().unwrap()),
        ]),
        "",
        30,
    );
    assert!(o.status.success(), "{}", err(&o));
}

#[tokio::test]
async fn through_the_balancer_an_upload_on_one_node_downloads_byte_exact_on_the_other() {
    tokio::time::timeout(BOUND, async {
        let cluster = Cluster::start(&["alice"]);
        // Two sessions open at once: `leastconn` puts them on different nodes.
        let mut first = cluster.login("alice").await;
        let mut second = cluster.login("alice").await;
        let (a, b) = (node_of(&cluster, &mut first).await, node_of(&cluster, &mut second).await);
        assert_ne!(a, b, "two sessions on one node: {}", cluster.balancer.stderr());

        // Up through one node with PASV (to the announced balancer address and the node's
        // range), down through the other with EPSV (to the control connection's address).
        let body = data(3 << 20);
        first.set_mode(Mode::Passive);
        put(&mut first, "up.bin", &body).await;
        second.set_mode(Mode::ExtendedPassive);
        same(&get(&mut second, "up.bin").await.unwrap(), &body, "download on the other node");
        same(&std::fs::read(cluster.home("alice").join("up.bin")).unwrap(), &body, "on disk");

        // The other way round, and a listing.
        second.set_mode(Mode::Passive);
        put(&mut second, "back.bin", b"from the second node").await;
        assert_eq!(get(&mut first, "back.bin").await.unwrap(), b"from the second node");
        let names = first.nlst(None).await.unwrap();
        assert!(names.iter().any(|n| n == "back.bin"), "{names:?}");
        first.quit().await.unwrap();
        second.quit().await.unwrap();
    })
    .await
    .expect("within the bound");
}

#[tokio::test]
async fn kill_9_of_the_serving_node_mid_download_then_rest_through_the_balancer_is_byte_exact() {
    tokio::time::timeout(BOUND, async {
        let mut cluster = Cluster::start(&["alice"]);
        let body = data(50 << 20);
        std::fs::write(cluster.home("alice").join("big.bin"), &body).unwrap();

        // A download through the balancer; the client reads 1 MiB and stops reading, so the
        // node is mid-file (the rest cannot fit in the sockets' and HAProxy's buffers).
        let mut c = RawControl::open(&cluster.balancer.addr(), "alice").await;
        let port = c.pasv_port().await;
        let serving = cluster.node_of_port(port);
        let mut d = tokio::net::TcpStream::connect((PUBLIC, port)).await.unwrap();
        let (code, text) = c.exchange("RETR big.bin").await;
        assert_eq!(code, 150, "{text}");
        let mut got = vec![0u8; 1 << 20];
        d.read_exact(&mut got).await.unwrap();

        cluster.kill(serving);
        let dead = format!("node{}", serving + 1);
        // What was in flight still arrives; then the connection ends (a close or a reset).
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match tokio::time::timeout(Duration::from_secs(30), d.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("the data connection did not end after the node died"),
            }
        }
        assert!(got.len() < body.len(), "the node was killed mid-transfer: {}", got.len());
        same(&got, &body[..got.len()], "the part before the kill");

        // The client reconnects through the balancer, lands on the surviving node, and resumes.
        let mut ftp = cluster.login("alice").await;
        assert_eq!(node_of(&cluster, &mut ftp).await, 1 - serving);
        ftp.resume_transfer(got.len()).await.unwrap();
        let rest = get(&mut ftp, "big.bin").await.unwrap();
        got.extend_from_slice(&rest);
        same(&got, &body, "the resumed download");

        // The health checks take the dead node out (two failed checks of /health).
        let b = &cluster.balancer;
        let down = crate::harness::wait_until(
            || b.stat(&dead, &["status"])[0].starts_with("DOWN"),
            Duration::from_secs(10),
        );
        assert!(down, "{dead} still counts as up: {}", b.stderr());
    })
    .await
    .expect("within the bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_logins_in_parallel_through_the_balancer_while_ftpadm_adds_users() {
    tokio::time::timeout(BOUND, async {
        let users = ["alice", "bob", "carol", "dave"];
        let cluster = std::sync::Arc::new(Cluster::start(&users));
        // ftpadm writes to the database the whole time the logins run.
        let writer = {
            let cluster = std::sync::Arc::clone(&cluster);
            std::thread::spawn(move || {
                for i in 0..8 {
                    let name = format!("new{i}");
                    let o = cluster
                        .ftpadm(&["user", "add", &name, "--password-stdin"], &format!("{PW}\n"));
                    assert!(o.status.success(), "ftpadm user add {name}: {}", err(&o));
                }
            })
        };
        let logins: Vec<_> = (0..200)
            .map(|i| {
                let cluster = std::sync::Arc::clone(&cluster);
                tokio::spawn(async move {
                    let user = users[i % users.len()];
                    let mut ftp = suppaftp::tokio::AsyncFtpStream::connect(cluster.balancer.addr())
                        .await
                        .map_err(|e| format!("connect {i}: {e}"))?;
                    ftp.login(user, PW).await.map_err(|e| format!("login {i} as {user}: {e}"))?;
                    ftp.pwd().await.map_err(|e| format!("PWD {i}: {e}"))?;
                    ftp.quit().await.map_err(|e| format!("QUIT {i}: {e}"))
                })
            })
            .collect();
        let mut failures = Vec::new();
        for login in logins {
            if let Err(e) = login.await.unwrap() {
                failures.push(e);
            }
        }
        writer.join().expect("ftpadm added every user");
        assert!(failures.is_empty(), "{} failed: {failures:?}", failures.len());
        let sent = ["node1", "node2"].map(|n| cluster.balancer.sessions_sent(n));
        assert!(sent.iter().all(|&n| n >= 50), "both nodes served logins: {sent:?}");
        // The users ftpadm added log in through the balancer too.
        let mut ftp = cluster.login("new7").await;
        ftp.quit().await.unwrap();
    })
    .await
    .expect("within the bound");
}

//! Several nodes behind HAProxy (issue 14), with real parts started by each test: HAProxy
//! with the shipped `config/haproxy/multiftp.cfg`, two `multiftpd` processes over one data
//! root, on one PostgreSQL server the test starts (or one SQLite file), suppaftp and
//! hand-spoken clients through the balancer. The rig is in `balancer.rs`.

use std::time::{Duration, Instant};

use suppaftp::tokio::AsyncFtpStream;
use suppaftp::types::Mode;
use tokio::io::AsyncReadExt;

use crate::balancer::{Backend, Cluster, PUBLIC, haproxy_bin, shipped_config};
use crate::harness::{
    PW, RawControl, data, err, get, out, pasv_reply_port, put, raw, run_bounded, same,
    wait_until_async,
};

/// Every test's bound: the rig starts in seconds, so a minute means something hangs.
const BOUND: Duration = Duration::from_secs(120);

/// The node (0 or 1) a logged-in client's session runs on, from the passive range its PASV
/// reply's port falls in (the pending listener is replaced by the client's next PASV).
async fn node_of(cluster: &Cluster, ftp: &mut AsyncFtpStream) -> usize {
    let (code, text) = raw(ftp, "PASV").await;
    assert_eq!(code, 227, "{text}");
    assert!(text.contains("(127,0,0,2,"), "the node announces the balancer's address: {text}");
    cluster.node_of_port(pasv_reply_port(&text))
}

/// A session of `user` through the balancer that landed on node `want`: logs in until one
/// does (`leastconn` sends each new one to the node with fewer), holding the others open
/// meanwhile; at most six tries.
async fn login_on(cluster: &Cluster, user: &str, want: usize) -> AsyncFtpStream {
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut ftp = cluster.login(user).await;
        if node_of(cluster, &mut ftp).await == want {
            return ftp;
        }
        held.push(ftp);
    }
    panic!("six logins of {user} and none on node{}: {}", want + 1, cluster.balancer.stderr())
}

/// `SITE WHO` through `ftp`.
async fn who(ftp: &mut AsyncFtpStream) -> String {
    let (code, text) = raw(ftp, "SITE WHO").await;
    assert_eq!(code, 200, "{text}");
    text
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

/// Two sessions of alice at once, one per node: a file uploaded through one (PASV, to the
/// announced balancer address and that node's range) downloads byte-exact through the other
/// (EPSV), and the other way round. Returns the sessions, on node1 and node2.
async fn files_cross_nodes(cluster: &Cluster) -> (AsyncFtpStream, AsyncFtpStream) {
    let mut first = login_on(cluster, "alice", 0).await;
    let mut second = login_on(cluster, "alice", 1).await;
    let body = data(3 << 20);
    first.set_mode(Mode::Passive);
    put(&mut first, "up.bin", &body).await;
    second.set_mode(Mode::ExtendedPassive);
    same(&get(&mut second, "up.bin").await.unwrap(), &body, "download on the other node");
    same(&std::fs::read(cluster.home("alice").join("up.bin")).unwrap(), &body, "on disk");

    second.set_mode(Mode::Passive);
    put(&mut second, "back.bin", b"from the second node").await;
    assert_eq!(get(&mut first, "back.bin").await.unwrap(), b"from the second node");
    let names = first.nlst(None).await.unwrap();
    assert!(names.iter().any(|n| n == "back.bin"), "{names:?}");
    (first, second)
}

/// The cluster check: users added with `ftpadm` against PostgreSQL log in through the
/// balancer; files, shares and `SITE WHO` hold across the two nodes.
#[tokio::test]
async fn on_postgres_through_the_balancer_files_shares_and_who_hold_across_nodes() {
    tokio::time::timeout(BOUND, async {
        let cluster = Cluster::start(Backend::Postgres, &["alice", "bob"], &[]);
        let (mut alice, _alice_on_2) = files_cross_nodes(&cluster).await;

        // A share made through node1 is seen by its recipient on node2, and its file reads.
        alice.mkdir("docs").await.unwrap();
        put(&mut alice, "docs/plan.bin", b"the plan").await;
        let r = alice.site("SHARE bob /docs").await.unwrap();
        assert_eq!(r.status.code(), 200);
        let mut bob = login_on(&cluster, "bob", 1).await;
        assert_eq!(bob.nlst(Some("/shared/alice/docs")).await.unwrap(), ["plan.bin"]);
        assert_eq!(get(&mut bob, "/shared/alice/docs/plan.bin").await.unwrap(), b"the plan");

        // SITE WHO on node1 lists bob's session on node2 by its node name; so does ftpadm.
        let list = who(&mut alice).await;
        let bob_line = list.lines().find(|l| l.contains("bob")).unwrap_or_else(|| panic!("{list}"));
        assert!(bob_line.contains("on node2"), "{list}");
        let o = cluster.ftpadm(&["who"], "");
        assert!(out(&o).lines().any(|l| l.contains("bob") && l.contains("node2")), "{}", out(&o));
        let o = cluster.ftpadm(&["share", "list"], "");
        assert!(out(&o).contains("/docs"), "{}{}", out(&o), err(&o));
    })
    .await
    .expect("within the bound");
}

/// Both nodes on one SQLite file (one machine, or a filesystem with working locks).
#[tokio::test]
async fn on_sqlite_through_the_balancer_an_upload_on_one_node_downloads_on_the_other() {
    tokio::time::timeout(BOUND, async {
        let cluster = Cluster::start(Backend::Sqlite, &["alice"], &[]);
        files_cross_nodes(&cluster).await;
    })
    .await
    .expect("within the bound");
}

/// A new control connection through the balancer, not logged in, and the node (0 or 1) it
/// went to: the one whose count of sessions sent grew (the 220 came from it, so it counted).
async fn connect_noting(cluster: &Cluster) -> (AsyncFtpStream, usize) {
    let sent = || ["node1", "node2"].map(|n| cluster.balancer.sessions_sent(n));
    let before = sent();
    let ftp = AsyncFtpStream::connect(cluster.balancer.addr()).await.unwrap();
    let after = sent();
    let grew: Vec<usize> = (0..2).filter(|&i| after[i] > before[i]).collect();
    assert_eq!(grew.len(), 1, "one connection, one node: {before:?} {after:?}");
    (ftp, grew[0])
}

/// Logins of `user` with `password` on new connections through the balancer until both nodes
/// have answered one (at most eight tries, the connections held so `leastconn` alternates);
/// each login's error.
async fn refused_on_both_nodes(cluster: &Cluster, user: &str, password: &str) -> Vec<String> {
    let (mut held, mut seen, mut errors) = (Vec::new(), [false; 2], Vec::new());
    for _ in 0..8 {
        let (mut ftp, node) = connect_noting(cluster).await;
        let e = ftp.login(user, password).await.expect_err("a refused login");
        errors.push(format!("node{}: {e}", node + 1));
        seen[node] = true;
        held.push(ftp);
        if seen == [true; 2] {
            return errors;
        }
    }
    panic!("eight logins and not both nodes answered: {errors:?}")
}

/// The login policies see the client's own address through the PROXY header and count over
/// both nodes: three bad passwords spread over the two block the pair on both, and a session
/// limit of one refuses a second session on either node.
#[tokio::test]
async fn on_postgres_bad_passwords_and_session_limits_hold_through_the_balancer() {
    tokio::time::timeout(BOUND, async {
        let limit = ["--max-sessions-per-user", "1"];
        let cluster = Cluster::start(Backend::Postgres, &["alice", "bob"], &limit);
        // Three bad passwords, held open at once so leastconn spreads them over both nodes.
        let mut guessers = Vec::new();
        for _ in 0..3 {
            guessers.push(connect_noting(&cluster).await);
        }
        let nodes: Vec<usize> = guessers.iter().map(|(_, n)| *n).collect();
        assert!(nodes.contains(&0) && nodes.contains(&1), "{nodes:?}");
        for (i, (ftp, _)) in guessers.iter_mut().enumerate() {
            let e = ftp.login("alice", &format!("wrong-{i}")).await.unwrap_err();
            assert!(e.to_string().contains("530"), "{e}");
        }
        // Each node saw fewer than three; together they did: the right password fails on both.
        for e in refused_on_both_nodes(&cluster, "alice", PW).await {
            assert!(e.contains("530"), "{e}");
        }
        // The block is for the pair: bob from the same address logs in, once over both nodes.
        let mut bob = cluster.login("bob").await;
        assert_eq!(raw(&mut bob, "NOOP").await.0, 200);
        for e in refused_on_both_nodes(&cluster, "bob", PW).await {
            assert!(e.contains("too many sessions for bob"), "{e}");
        }
    })
    .await
    .expect("within the bound");
}

#[tokio::test]
async fn on_postgres_kill_9_of_the_serving_node_mid_download_then_rest_is_byte_exact() {
    tokio::time::timeout(BOUND, async {
        // A heartbeat every second: a dead node's sessions leave after 3 s without beats.
        let fast = ["--heartbeat-interval", "1"];
        let mut cluster = Cluster::start(Backend::Postgres, &["alice"], &fast);
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
        let killed = Instant::now();
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

        // The dead node's session leaves SITE WHO within the heartbeat window.
        let gone = wait_until_async(
            async || !who(&mut ftp).await.contains(&format!("on {dead}")),
            Duration::from_secs(15),
        )
        .await;
        assert!(gone, "{dead}'s session still listed 15 s after kill -9");
        assert!(killed.elapsed() < Duration::from_secs(8), "{:?}", killed.elapsed());

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
async fn on_postgres_two_hundred_parallel_logins_through_the_balancer_while_ftpadm_writes() {
    tokio::time::timeout(BOUND, async {
        let users = ["alice", "bob", "carol", "dave"];
        let cluster = std::sync::Arc::new(Cluster::start(Backend::Postgres, &users, &[]));
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
                    let mut ftp = AsyncFtpStream::connect(cluster.balancer.addr())
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
        // Every login's row went with its QUIT, though each node records logins and logouts
        // with several writers at once on PostgreSQL: none is left over.
        let online = || {
            let o = cluster.ftpadm(&["who", "--json"], "");
            let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            rows.as_array().map(Vec::len)
        };
        let empty = crate::harness::wait_until(|| online() == Some(0), Duration::from_secs(10));
        assert!(empty, "sessions left after every client quit: {:?}", online());
    })
    .await
    .expect("within the bound");
}

//! Several nodes on one database: two real `multiftpd` processes on the same SQLite file (or
//! the same PostgreSQL database), with different ports and node names, stand in for two nodes
//! of a cluster. What one node knows must hold on the other: who is online (with each
//! session's node), failed logins, session limits, account changes, and the sessions of a node
//! that died leave within the heartbeat window.

use std::path::Path;
use std::time::Duration;

use suppaftp::tokio::AsyncFtpStream;

use crate::harness::{Daemon, PW, code, ftpadm_at, out, raw, root_with, wait_until_async};
use crate::pgserver::PgServer;

/// Node `name` on the data root `root` (and so its database), with `args`.
fn node(root: &Path, name: &str, args: &[&str]) -> Daemon {
    let mut all = vec!["--node-name", name];
    all.extend_from_slice(args);
    Daemon::start(root, &all)
}

/// Node `name` on the data root `root` with its database on `pg`, with `args`.
fn pg_node(pg: &PgServer, root: &Path, name: &str, args: &[&str]) -> Daemon {
    let mut all = vec!["--node-name", name];
    all.extend_from_slice(args);
    crate::postgres::daemon_on(pg, root, &all)
}

/// A client logged in to `node` as `user` with [`PW`].
async fn login(node: &Daemon, user: &str) -> AsyncFtpStream {
    let mut ftp = AsyncFtpStream::connect(node.addr()).await.unwrap();
    ftp.login(user, PW).await.unwrap_or_else(|e| panic!("login as {user} on {}: {e}", node.addr()));
    ftp
}

/// The reply code of a login to `node` as `user` with `password`.
async fn login_code(node: &Daemon, user: &str, password: &str) -> u32 {
    let mut ftp = AsyncFtpStream::connect(node.addr()).await.unwrap();
    let result = ftp.login(user, password).await;
    let _ = ftp.quit().await;
    if result.is_ok() { 230 } else { code(result) }
}

/// `SITE WHO` through `ftp`.
/// Eight logins of `user` at once, four on each node (at most 60 s each): whether each got in,
/// with its connection kept open.
async fn race_logins(a: &Daemon, b: &Daemon, user: &str) -> Vec<(bool, AsyncFtpStream)> {
    let mut racing = Vec::new();
    for i in 0..8 {
        let addr = if i % 2 == 0 { a.addr() } else { b.addr() };
        let user = user.to_string();
        racing.push(tokio::spawn(async move {
            let mut ftp = AsyncFtpStream::connect(addr).await.unwrap();
            let ok = ftp.login(user.as_str(), PW).await.is_ok();
            (ok, ftp)
        }));
    }
    let mut sessions = Vec::new();
    for task in racing {
        sessions.push(tokio::time::timeout(Duration::from_secs(60), task).await.unwrap().unwrap());
    }
    sessions
}

/// Logs bob in on `b` and alice on `a`, and checks that `SITE WHO` on A lists both sessions,
/// bob's with B's node name; returns both sessions and the listing.
async fn who_with_bob_on_b(a: &Daemon, b: &Daemon) -> (AsyncFtpStream, AsyncFtpStream, String) {
    let bob = login(b, "bob").await;
    let mut alice = login(a, "alice").await;
    let list = who(&mut alice).await;
    assert!(list.contains("2 session(s) online"), "{list}");
    let bob_line = list.lines().find(|l| l.contains("bob")).unwrap_or_else(|| panic!("{list}"));
    assert!(bob_line.contains("on node-b"), "{list}");
    (bob, alice, list)
}

async fn who(ftp: &mut AsyncFtpStream) -> String {
    let (status, text) = raw(ftp, "SITE WHO").await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test]
async fn who_on_one_node_lists_a_session_on_another_with_its_node_name() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    let mut a = node(&root, "node-a", &[]);
    let b = node(&root, "node-b", &[]);
    let (_bob, _alice, list) = who_with_bob_on_b(&a, &b).await;
    let alice_line = list.lines().find(|l| l.contains("alice")).unwrap();
    assert!(alice_line.contains("on node-a"), "{list}");

    // ftpadm sees the same, with the node in its own column and field.
    let o = ftpadm_at(&root, &["who"], "");
    assert!(o.status.success());
    let text = out(&o);
    assert!(text.lines().next().unwrap().contains("NODE"), "{text}");
    assert!(text.lines().any(|l| l.contains("bob") && l.contains("node-b")), "{text}");
    let o = ftpadm_at(&root, &["who", "--json"], "");
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["username"].as_str().unwrap(), r["node"].as_str().unwrap()))
        .collect();
    assert!(nodes.contains(&("bob", "node-b")) && nodes.contains(&("alice", "node-a")), "{rows}");

    // The logs name the node: at the start and with each login.
    let log = a.wait_log("login succeeded", 1);
    assert!(log.contains("node=node-a") && log.contains("multiftpd starting"), "{log}");
}

#[tokio::test]
async fn three_bad_passwords_spread_over_two_nodes_block_the_pair() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    let a = node(&root, "node-a", &[]);
    let b = node(&root, "node-b", &[]);
    assert_eq!(login_code(&a, "alice", "wrong-1").await, 530);
    assert_eq!(login_code(&b, "alice", "wrong-2").await, 530);
    assert_eq!(login_code(&a, "alice", "wrong-3").await, 530);
    // Each node saw fewer than three failures; together they did.
    assert_eq!(login_code(&b, "alice", PW).await, 530, "blocked on B");
    assert_eq!(login_code(&a, "alice", PW).await, 530, "blocked on A");
    // The block is for the pair: bob from the same address goes on.
    assert_eq!(login_code(&b, "bob", PW).await, 230);
}

#[tokio::test]
async fn a_session_limit_of_one_holds_across_nodes_also_when_logins_race() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    let limit = ["--max-sessions-per-user", "1"];
    let a = node(&root, "node-a", &limit);
    let b = node(&root, "node-b", &limit);
    let mut first = login(&a, "alice").await;
    let mut second = AsyncFtpStream::connect(b.addr()).await.unwrap();
    let refused = second.login("alice", PW).await.unwrap_err().to_string();
    assert!(refused.contains("too many sessions for alice"), "{refused}");
    first.quit().await.unwrap();
    // The place is free again, on the other node too.
    assert!(
        wait_until_async(
            async || login_code(&b, "alice", PW).await == 230,
            Duration::from_secs(10)
        )
        .await
    );

    // Eight logins of bob at once, four on each node: exactly one gets in.
    let sessions = race_logins(&a, &b, "bob").await;
    let admitted = sessions.iter().filter(|(ok, _)| *ok).count();
    assert_eq!(admitted, 1, "one place for bob over both nodes");
}

#[tokio::test]
async fn sessions_of_a_killed_node_leave_who_within_the_window() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    // A heartbeat every second: B's sessions count as gone 3 s after its last beat.
    let fast = ["--heartbeat-interval", "1"];
    let a = node(&root, "node-a", &fast);
    let b = node(&root, "node-b", &fast);
    let _bob = login(&b, "bob").await;
    let mut alice = login(&a, "alice").await;
    assert!(who(&mut alice).await.contains("on node-b"));
    let killed = std::time::Instant::now();
    b.kill();
    let gone = wait_until_async(
        async || !who(&mut alice).await.contains("on node-b"),
        Duration::from_secs(15),
    )
    .await;
    assert!(gone, "B's session still listed 15 s after kill -9");
    // Gone within the window (3 intervals), allowing for the beat in flight and the polling.
    assert!(killed.elapsed() < Duration::from_secs(6), "{:?}", killed.elapsed());
    assert!(who(&mut alice).await.contains("1 session(s) online"));
}

#[tokio::test]
async fn a_node_started_again_under_its_name_drops_its_old_sessions_at_once() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    // The default heartbeat (10 s, a 30 s window): without the sweep at start, B's old
    // session would stay listed for up to 30 s.
    let a = node(&root, "node-a", &[]);
    let b = node(&root, "node-b", &[]);
    let _bob = login(&b, "bob").await;
    let mut alice = login(&a, "alice").await;
    b.kill();
    assert!(who(&mut alice).await.contains("on node-b"), "still within the window");
    let _b = node(&root, "node-b", &[]);
    let list = who(&mut alice).await;
    assert!(!list.contains("on node-b") && list.contains("1 session(s) online"), "{list}");
}

#[tokio::test]
async fn account_changes_on_one_node_reach_sessions_on_the_other() {
    let (_dir, root) = root_with(&["alice", "bob"]);
    let a = node(&root, "node-a", &[]);
    let b = node(&root, "node-b", &[]);

    // A password changed through node A: the old one stops working on B at once.
    let mut alice = login(&a, "alice").await;
    let _cached_on_b = login(&b, "alice").await;
    let (status, text) = raw(&mut alice, &format!("SITE PASSWD {PW} new-password-1")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(login_code(&b, "alice", PW).await, 530);
    assert_eq!(login_code(&b, "alice", "new-password-1").await, 230);

    // A role given with ftpadm: bob's open session on B may run admin commands next.
    let mut bob = login(&b, "bob").await;
    let (status, _) = raw(&mut bob, "SITE USER LIST").await;
    assert_eq!(status, 550, "not an admin yet");
    let o = ftpadm_at(&root, &["user", "update", "bob", "--admin"], "");
    assert!(o.status.success(), "{}", crate::harness::err(&o));
    let (status, text) = raw(&mut bob, "SITE USER LIST").await;
    assert_eq!(status, 200, "{text}");

    // Bob (now an admin, on B) disables alice: her session on A ends at its next command.
    let (status, text) = raw(&mut bob, "SITE USER SET alice enabled no").await;
    assert_eq!(status, 200, "{text}");
    let ended =
        wait_until_async(async || raw(&mut alice, "NOOP").await.0 == 530, Duration::from_secs(10))
            .await;
    assert!(ended, "alice's session on A outlived the disable on B");
}

/// The same cluster-wide state on PostgreSQL, where the session-admission lock is a row lock
/// rather than SQLite's one writer: who is online, failed logins over both nodes, and a session
/// limit of one that holds across nodes, also when logins race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_database_share_who_failed_logins_and_limits() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    crate::postgres::add_users(&pg, &root, &["alice", "bob", "carol", "dave"]);
    let limit = ["--max-sessions-per-user", "1"];
    let a = pg_node(&pg, &root, "node-a", &limit);
    let b = pg_node(&pg, &root, "node-b", &limit);

    // SITE WHO on A lists B's session with B's node name.
    let (_bob, _alice, _list) = who_with_bob_on_b(&a, &b).await;

    // A session limit of one holds across the nodes, both ways.
    let mut second = AsyncFtpStream::connect(b.addr()).await.unwrap();
    let refused = second.login("alice", PW).await.unwrap_err().to_string();
    assert!(refused.contains("too many sessions for alice"), "{refused}");
    let mut again = AsyncFtpStream::connect(a.addr()).await.unwrap();
    let refused = again.login("bob", PW).await.unwrap_err().to_string();
    assert!(refused.contains("too many sessions for bob"), "{refused}");

    // Three bad passwords spread over A and B block the pair on both.
    assert_eq!(login_code(&a, "carol", "wrong-1").await, 530);
    assert_eq!(login_code(&b, "carol", "wrong-2").await, 530);
    assert_eq!(login_code(&a, "carol", "wrong-3").await, 530);
    assert_eq!(login_code(&b, "carol", PW).await, 530, "blocked on B");
    assert_eq!(login_code(&a, "carol", PW).await, 530, "blocked on A");

    // Eight logins of dave at once, four on each node: the row lock lets exactly one in.
    let sessions = race_logins(&a, &b, "dave").await;
    let admitted = sessions.iter().filter(|(ok, _)| *ok).count();
    assert_eq!(admitted, 1, "one place for dave over both nodes");
}

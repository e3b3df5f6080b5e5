//! The cluster rig: `multiftpd` nodes, each on a loopback address of its own, over one data
//! root, behind HAProxy run with the shipped `config/haproxy/multiftp.cfg` as is, its settings
//! given through the environment as an operator would. The balancer listens on
//! [`PUBLIC`], the address every node announces in its PASV replies.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suppaftp::tokio::AsyncFtpStream;
use tempfile::TempDir;

use crate::harness::{Daemon, PW, capture, root_with, run_bounded, unused_port, wait_until};
use crate::pgserver::PgServer;

/// The balancer's address: what clients connect to and what the nodes announce.
pub const PUBLIC: &str = "127.0.0.2";

/// The shipped configuration, the one this rig runs.
pub fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/haproxy/multiftp.cfg")
}

/// The HAProxy binary: `$MULTIFTP_TEST_HAPROXY`, else `haproxy` on the PATH or in /usr/sbin.
/// Panics when there is none: the cluster tests must not pass without the balancer they test.
pub fn haproxy_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MULTIFTP_TEST_HAPROXY") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("haproxy")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/haproxy")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no haproxy binary: the cluster tests need HAProxy (apt-get install haproxy, as \
                 .ci/run does, or set MULTIFTP_TEST_HAPROXY to its path)"
            )
        })
}

/// The environment that fills in the shipped configuration for `nodes` (exactly two, each with
/// its /health port: the file names node1 and node2), with the balancer on [`PUBLIC`]:`port`.
pub fn config_env(nodes: [(&Daemon, u16); 2], port: u16, socket: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("FTPLB_BIND".to_string(), PUBLIC.to_string()),
        ("FTPLB_PORT".to_string(), port.to_string()),
        // Quick checks, so a test does not wait seconds for a node to count as up.
        ("FTPLB_CHECK_INTER".to_string(), "200ms".to_string()),
        ("FTPLB_STATS_SOCKET".to_string(), socket.display().to_string()),
        // Stay the user the test runs as; log to stderr, which the rig keeps.
        ("FTPLB_USER".to_string(), String::new()),
        ("FTPLB_GROUP".to_string(), String::new()),
        ("FTPLB_LOG".to_string(), "stderr".to_string()),
    ];
    for (i, (node, http)) in nodes.iter().enumerate() {
        let n = i + 1;
        let ip = node.addr().rsplit_once(':').unwrap().0.to_string();
        env.push((format!("FTPLB_NODE{n}_ADDR"), ip));
        env.push((format!("FTPLB_NODE{n}_PORT"), node.port.to_string()));
        env.push((format!("FTPLB_NODE{n}_HTTP"), http.to_string()));
        env.push((format!("FTPLB_NODE{n}_PASSIVE"), node.passive.clone()));
    }
    env
}

/// A running HAProxy with the shipped configuration; killed on drop.
pub struct Balancer {
    child: Child,
    /// Its FTP port on [`PUBLIC`].
    pub port: u16,
    socket: PathBuf,
    log: Arc<Mutex<Vec<u8>>>,
}

impl Balancer {
    /// Starts HAProxy in front of `nodes` (in the foreground, its admin socket in `dir`) and
    /// waits (at most 20 s) until its health checks have found both nodes up. A port taken
    /// between the probe and HAProxy's bind is retried.
    pub fn start(dir: &Path, nodes: [(&Daemon, u16); 2]) -> Balancer {
        let socket = dir.join("haproxy.sock");
        for _attempt in 0..3 {
            let port = unused_port();
            let mut child = Command::new(haproxy_bin())
                .args(["-db", "-f"])
                .arg(shipped_config())
                .envs(config_env(nodes, port, &socket))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run haproxy ({e}): .ci/run installs it"));
            let (log, _reader) = capture(child.stderr.take().unwrap());
            let mut b = Balancer { child, port, socket: socket.clone(), log };
            let mut exited = false;
            let up = wait_until(
                || {
                    exited = b.child.try_wait().unwrap().is_some();
                    exited || (b.checked_up("node1") && b.checked_up("node2"))
                },
                Duration::from_secs(20),
            );
            if exited {
                if b.stderr().contains("cannot bind") {
                    continue;
                }
                panic!("haproxy exited: {}", b.stderr());
            }
            assert!(up, "haproxy did not see both nodes up: {}", b.stderr());
            return b;
        }
        panic!("could not start haproxy on a free port");
    }

    /// `PUBLIC:port`.
    pub fn addr(&self) -> String {
        format!("{PUBLIC}:{}", self.port)
    }

    /// What HAProxy has logged so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// One command on the admin socket (HAProxy's management guide, section 9.3); its answer.
    pub fn admin(&self, command: &str) -> std::io::Result<String> {
        let mut conn = std::os::unix::net::UnixStream::connect(&self.socket)?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        conn.write_all(format!("{command}\n").as_bytes())?;
        let mut answer = String::new();
        conn.read_to_string(&mut answer)?;
        Ok(answer)
    }

    /// Columns of a server's line in the control section of `show stat` (HAProxy's management
    /// guide, section 9.1: `status`, `check_status`, `stot`, ...), in the order asked; empty
    /// strings when the socket does not answer yet.
    pub fn stat(&self, server: &str, columns: &[&str]) -> Vec<String> {
        let none = vec![String::new(); columns.len()];
        let Ok(csv) = self.admin("show stat") else { return none };
        let mut lines = csv.lines();
        let header: Vec<&str> =
            lines.next().unwrap_or("").trim_start_matches("# ").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(px), Some(sv)) = (col("pxname"), col("svname")) else { return none };
        let Some(fields) = lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.get(px) == Some(&"ftp_control") && f.get(sv) == Some(&server))
        else {
            return none;
        };
        columns
            .iter()
            .map(|c| col(c).and_then(|i| fields.get(i)).unwrap_or(&"").to_string())
            .collect()
    }

    /// Whether `server` is up after a passed health check (GET /health answered 200).
    pub fn checked_up(&self, server: &str) -> bool {
        self.stat(server, &["status", "check_status"]) == ["UP", "L7OK"]
    }

    /// Sessions HAProxy has sent to `server` so far.
    pub fn sessions_sent(&self, server: &str) -> u64 {
        self.stat(server, &["stot"])[0].parse().unwrap_or(0)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The database a [`Cluster`]'s nodes share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The SQLite file in the data root (both nodes on one machine).
    Sqlite,
    /// A [`PgServer`] the rig starts, the nodes and `ftpadm` on its URL.
    Postgres,
}

/// Two nodes over one data root behind a [`Balancer`].
pub struct Cluster {
    /// The nodes (`node1`, `node2`); `None` once killed.
    pub nodes: [Option<Daemon>; 2],
    pub balancer: Balancer,
    /// The data root both nodes serve.
    pub root: PathBuf,
    /// The database server when the backend is PostgreSQL (stopped after the nodes).
    pg: Option<PgServer>,
    /// Kept so the temp folder outlives the processes (dropped last).
    _dir: TempDir,
}

impl Cluster {
    /// A data root with `users` ([`PW`], added by the real `ftpadm` on `backend`), two nodes
    /// `node1` and `node2` on 127.0.0.11 and 127.0.0.12 in PROXY protocol mode announcing
    /// [`PUBLIC`], each with its own passive range, /health listener and `node_args`, and the
    /// balancer in front.
    pub fn start(backend: Backend, users: &[&str], node_args: &[&str]) -> Cluster {
        let (dir, root, pg) = match backend {
            Backend::Sqlite => {
                let (dir, root) = root_with(users);
                (dir, root, None)
            }
            Backend::Postgres => {
                let pg = PgServer::start();
                let dir = TempDir::new().unwrap();
                let root = dir.path().join("root");
                crate::postgres::add_users(&pg, &root, users);
                (dir, root, Some(pg))
            }
        };
        let node = |name: &str, ip: &str| {
            let http = unused_port();
            let mut options = Daemon::on(&root)
                .bind(ip)
                .proxy_protocol()
                .args(["--node-name", name, "--passive-host", PUBLIC])
                .args(["--http-bind", &format!("{ip}:{http}")])
                .args(node_args);
            if let Some(pg) = &pg {
                options = options.args(["--db", &crate::postgres::db_with_passfile(pg, &root)]);
            }
            (options.start(), http)
        };
        let [(a, a_http), (b, b_http)] = [node("node1", "127.0.0.11"), node("node2", "127.0.0.12")];
        let balancer = Balancer::start(dir.path(), [(&a, a_http), (&b, b_http)]);
        let nodes = [a, b];
        Cluster { nodes: nodes.map(Some), balancer, root, pg, _dir: dir }
    }

    /// A client logged in as `user` through the balancer, image type.
    pub async fn login(&self, user: &str) -> AsyncFtpStream {
        let mut ftp = AsyncFtpStream::connect(self.balancer.addr()).await.unwrap();
        ftp.login(user, PW).await.unwrap_or_else(|e| panic!("login as {user}: {e}"));
        ftp.transfer_type(suppaftp::types::FileType::Binary).await.unwrap();
        ftp
    }

    /// The node (0 or 1) whose passive range holds `port`.
    pub fn node_of_port(&self, port: u16) -> usize {
        let holds = |d: &Daemon| {
            let (first, last) = d.passive.split_once('-').unwrap();
            (first.parse::<u16>().unwrap()..=last.parse().unwrap()).contains(&port)
        };
        let mut found = (0..2).filter(|&i| self.nodes[i].as_ref().is_some_and(holds));
        found.next().unwrap_or_else(|| panic!("port {port} is in no live node's passive range"))
    }

    /// Kills node `i` with SIGKILL (no clean-up of any kind); what it logged.
    pub fn kill(&mut self, i: usize) -> String {
        self.nodes[i].take().expect("a live node").kill()
    }

    /// `ftpadm` against the cluster's data root and database (as on any node), at most 60 s.
    pub fn ftpadm(&self, args: &[&str], stdin: &str) -> std::process::Output {
        match &self.pg {
            Some(pg) => crate::postgres::ftpadm_pg(&self.root, &pg.url(), args, stdin),
            None => run_bounded(
                crate::harness::ftpadm().arg("--root").arg(&self.root).args(args),
                stdin,
                60,
            ),
        }
    }

    /// A user's home on the shared storage.
    pub fn home(&self, user: &str) -> PathBuf {
        self.root.join("home").join(user)
    }
}

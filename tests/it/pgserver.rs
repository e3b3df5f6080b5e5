//! A throw-away PostgreSQL server for tests: `initdb` and `pg_ctl` in a temp folder, on a free
//! loopback port with its unix socket in that folder, stopped (immediately) on drop. PostgreSQL
//! refuses to run as root, so as root it runs as `nobody` (through `runuser`).
//!
//! The binaries come from `MULTIFTP_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's place), else `PATH`; a test that needs them and finds none fails saying so
//! (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::harness::{run_bounded, unused_port};

/// The superuser's password; the server asks for it on TCP connections.
pub const PG_PASSWORD: &str = "pg-secret-7";
/// The superuser.
const PG_USER: &str = "postgres";
/// Who runs the server when the tests run as root.
const RUN_AS: &str = "nobody";

/// A running PostgreSQL server.
pub struct PgServer {
    dir: TempDir,
    bin: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

/// Where the PostgreSQL programs are; panics with what to do when they are not installed.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MULTIFTP_PG_BIN") {
        return dir.into();
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    debian.retain(|dir| dir.join("initdb").is_file());
    debian.sort_by_key(|dir| {
        dir.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or_default()
    });
    if let Some(dir) = debian.pop() {
        return dir;
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).find(|d| d.join("initdb").is_file()))
        .unwrap_or_default();
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no initdb in MULTIFTP_PG_BIN, /usr/lib/postgresql/*/bin \
             or PATH): install Debian's postgresql package (.ci/run does) or set MULTIFTP_PG_BIN"
        )
    })
}

fn as_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl PgServer {
    /// Initialises and starts a server with the database `multiftp`; at most a minute.
    pub fn start() -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        if as_root() {
            let st = Command::new("chown").args([RUN_AS, dir.path().to_str().unwrap()]).status();
            assert!(st.unwrap().success(), "chown {RUN_AS} the PostgreSQL folder");
        }
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{PG_PASSWORD}\n")).unwrap();
        if as_root() {
            let _ = Command::new("chown").arg(RUN_AS).arg(&pwfile).status();
        }
        let server = PgServer { port: unused_port(), dir, bin };
        let data = server.data();
        // Trust on the socket (for createdb here), passwords over TCP (what multiftp uses).
        let o = server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                PG_USER,
                "--pwfile",
                pwfile.to_str().unwrap(),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        assert!(o.status.success(), "initdb failed: {}", String::from_utf8_lossy(&o.stderr));
        server.start_again();
        let o = server.run(
            "createdb",
            &[
                "-h",
                server.socket_dir().to_str().unwrap(),
                "-p",
                &server.port.to_string(),
                "-U",
                PG_USER,
                "multiftp",
            ],
        );
        assert!(o.status.success(), "createdb failed: {}", String::from_utf8_lossy(&o.stderr));
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Runs one of PostgreSQL's programs (as `nobody` when we are root), at most a minute.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if as_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", RUN_AS, "--"]).arg(exe);
            cmd
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(self.dir.path()).env_remove("PGPASSWORD");
        run_bounded(&mut cmd, "", 60)
    }

    /// Starts the (stopped) server and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 \
             -c shared_buffers=16MB",
            self.port,
            self.socket_dir().display()
        );
        let log = self.dir.path().join("log");
        let o = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            o.status.success(),
            "pg_ctl start failed: {}\n{log}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Turns TLS on and makes TCP connections without it be refused (`hostssl` only in
    /// pg_hba.conf), then restarts the server. The server's certificate names 127.0.0.1 and is
    /// signed by a CA made here; returns that CA's certificate file (PEM).
    pub fn require_tls(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "multiftp test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();

        let data = self.data();
        std::fs::write(data.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();
        // PostgreSQL refuses a key others may read, or owned by someone else than itself.
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        if as_root() {
            for file in ["server.crt", "server.key"] {
                let _ = Command::new("chown").arg(RUN_AS).arg(data.join(file)).status();
            }
        }
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        self.stop();
        self.start_again();
        let ca = self.dir.path().join("ca.pem");
        std::fs::write(&ca, ca_cert.pem()).unwrap();
        ca
    }

    /// One SQL query run with `psql` over the unix socket as the superuser; its output
    /// (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let socket = self.socket_dir();
        let port = self.port.to_string();
        let o = self.run(
            "psql",
            &[
                "-h",
                socket.to_str().unwrap(),
                "-p",
                &port,
                "-U",
                PG_USER,
                "-d",
                "multiftp",
                "-Atc",
                sql,
            ],
        );
        assert!(o.status.success(), "psql failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Stops the server at once (clients see their connections cut, as in a crash).
    pub fn stop(&self) {
        let o = self
            .run("pg_ctl", &["-D", self.data().to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
        assert!(o.status.success(), "pg_ctl stop failed: {}", String::from_utf8_lossy(&o.stderr));
    }

    /// `postgres://postgres@127.0.0.1:PORT/multiftp`, without the password.
    pub fn url(&self) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/multiftp", self.port)
    }

    /// The same URL with the password in it.
    pub fn url_with_password(&self) -> String {
        format!("postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{}/multiftp", self.port)
    }

    /// A pgpass file (mode 0600) in `dir` that gives this server's password.
    pub fn passfile(&self, dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            format!("127.0.0.1:{}:multiftp:{PG_USER}:{PG_PASSWORD}\n", self.port),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        file
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ =
            self.run("pg_ctl", &["-D", self.data().to_str().unwrap(), "-m", "immediate", "stop"]);
    }
}

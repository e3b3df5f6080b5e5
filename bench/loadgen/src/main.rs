//! `loadgen`: FTP load generator for bench/run.sh (multiftpd vs vsftpd).
//!
//! Every workload subcommand prints exactly one JSON line on stdout with its figures plus the
//! load generator's own CPU time (getrusage RUSAGE_SELF, user + sys) over the measured window,
//! so a client-side bottleneck is visible. `idle` prints a second, earlier line
//! (`"event":"ready"`) once its sessions are open. `report` turns the collected lines into the
//! Markdown table. Every loop is bounded by a count and/or a deadline, and every workload by
//! `--timeout`.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value, json};
use suppaftp::tokio::AsyncFtpStream;
use suppaftp::types::FileType;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

mod ftps;

/// Timeout for one connect, login or small command.
const OP_TIMEOUT: Duration = Duration::from_secs(60);
/// Read/write buffer for data connections.
const BUF: usize = 256 * 1024;

#[derive(Debug, Parser)]
#[command(name = "loadgen", about = "FTP load generator: one JSON line per workload")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, Args)]
struct Conn {
    /// Server control address, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:2121")]
    addr: String,
    /// FTP user name.
    #[arg(long, default_value = "bench")]
    user: String,
    /// FTP password.
    #[arg(long, default_value = "benchpass1")]
    pass: String,
    /// Free-form label copied into the JSON line (bench/run.sh puts the server name here).
    #[arg(long, default_value = "")]
    label: String,
    /// Hard limit in seconds for the whole workload; past it the workload reports an error.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// W1: one session RETRs a big file; MB/s (median of --runs).
    RetrBig {
        #[command(flatten)]
        conn: Conn,
        /// Remote file name (relative to the login directory).
        #[arg(long)]
        file: String,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// W2: one session STORs --size-mib MiB streamed from a repeating 1 MiB buffer; MB/s.
    StorBig {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 1024)]
        size_mib: u64,
        /// Remote file name to write (deleted after each run unless --keep).
        #[arg(long, default_value = "bench-upload.bin")]
        file: String,
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Keep the uploaded file on the server.
        #[arg(long)]
        keep: bool,
    },
    /// W3: --clients sessions each loop RETR of --file for --seconds; MB/s, transfers/s, p99.
    RetrMany {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        file: String,
    },
    /// W4: one session STORs --count files of --size bytes into --dir, then RETRs them; files/s.
    SmallFiles {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 4096)]
        size: usize,
        /// Remote folder to create and fill (should not exist yet).
        #[arg(long, default_value = "small")]
        dir: String,
    },
    /// W5: --clients clients loop connect + login + QUIT for --seconds; logins/s, p50/p99.
    Logins {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// W5 without the credential cache: --users distinct users (--user-prefix + 00000..), each
    /// logging in once (connect + login + QUIT), --clients at a time; logins/s, p50/p99.
    FirstLogins {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// User names are PREFIX00000, PREFIX00001, ... (all with --pass).
        #[arg(long)]
        user_prefix: String,
        #[arg(long)]
        users: usize,
    },
    /// W8: one FTPS session (AUTH TLS, PROT P, TLS 1.3) RETRs a big file; MB/s (median of
    /// --runs), and how many data connections resumed the TLS session.
    FtpsRetrBig {
        #[command(flatten)]
        conn: Conn,
        #[arg(long)]
        file: String,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// W8: one FTPS session STORs --size-mib MiB (deleted afterwards); MB/s, resumptions.
    FtpsStorBig {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 1024)]
        size_mib: u64,
        #[arg(long, default_value = "bench-upload-tls.bin")]
        file: String,
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// W9: --clients clients loop connect + AUTH TLS + USER/PASS + QUIT for --seconds.
    FtpsLogins {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Let each login resume an earlier login's TLS session (default: a full handshake
        /// every time, as for a new client).
        #[arg(long)]
        resume: bool,
    },
    /// W6: LIST and MLSD of --dir; ms (median of --runs).
    Listing {
        #[command(flatten)]
        conn: Conn,
        #[arg(long)]
        dir: String,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// W7: open --sessions logged-in sessions, print a "ready" line, hold them until a line or
    /// EOF on stdin (or --hold-secs), check they are still alive with NOOP, then close them.
    Idle {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// Sessions being opened at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Spread the sessions over this many source addresses 127.0.0.1, 127.0.0.2, ...
        /// (each source address has ~28k ephemeral ports towards one server port).
        #[arg(long, default_value_t = 1)]
        src_ips: u8,
        /// Longest hold after "ready" when stdin stays silent.
        #[arg(long, default_value_t = 600)]
        hold_secs: u64,
    },
    /// Print the Markdown comparison table from the JSON lines of a run.
    Report {
        /// File with one JSON result per line (bench/run.sh writes results.jsonl).
        #[arg(long)]
        results: PathBuf,
        /// Label of the first server column.
        #[arg(long, default_value = "multiftpd")]
        a: String,
        /// Labels of the peer servers, comma-separated, each a column after the first; the
        /// ratio column compares the first server with the best of them on each row.
        #[arg(long, default_value = "vsftpd")]
        peers: String,
        /// Label of an optional third server column, an earlier build of the first server
        /// (run.sh --baseline); adds a ratio column "now / baseline" (first / third).
        #[arg(long)]
        c: Option<String>,
        /// Title of the third column (default: its label), e.g. "baseline d5e683c".
        #[arg(long, value_name = "TEXT")]
        c_title: Option<String>,
    },
}

// ---------------------------------------------------------------------------------------------
// helpers

/// Process CPU time so far: (user, sys) seconds.
fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage only writes into the zeroed struct we pass it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// Wall clock and CPU time of a measured window.
struct Meter {
    wall: Instant,
    cpu: (f64, f64),
}

impl Meter {
    fn start() -> Self {
        Meter { wall: Instant::now(), cpu: cpu_times() }
    }
    /// Client CPU figures for the window, as JSON fields.
    fn cpu_json(&self) -> Map<String, Value> {
        let wall = self.wall.elapsed().as_secs_f64();
        let (u, s) = cpu_times();
        let (u, s) = (u - self.cpu.0, s - self.cpu.1);
        let mut m = Map::new();
        m.insert("client_cpu_user_s".into(), json!(r3(u)));
        m.insert("client_cpu_sys_s".into(), json!(r3(s)));
        m.insert("client_cpu_s".into(), json!(r3(u + s)));
        // 100 = one core busy for the whole window.
        m.insert("client_cpu_pct".into(), json!(r1(100.0 * (u + s) / wall.max(1e-9))));
        m
    }
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
}

/// Nearest-rank percentile (p in 0..=100) of `sorted`.
fn pct(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

async fn within<T, F>(d: Duration, what: &str, f: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    match tokio::time::timeout(d, f).await {
        Ok(r) => r,
        Err(_) => bail!("{what}: timed out after {} s", d.as_secs()),
    }
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .ok_or_else(|| anyhow!("no address for {addr}"))
}

/// Connects (optionally from source address `src`), logs in and selects binary transfers.
async fn open(conn: &Conn, addr: SocketAddr, src: Option<Ipv4Addr>) -> Result<AsyncFtpStream> {
    within(OP_TIMEOUT, "connect+login", async {
        let tcp = match src {
            Some(ip) => {
                let sock = TcpSocket::new_v4()?;
                sock.bind(SocketAddr::new(ip.into(), 0))?;
                sock.connect(addr).await.with_context(|| format!("connect {addr} from {ip}"))?
            }
            None => TcpStream::connect(addr).await.with_context(|| format!("connect {addr}"))?,
        };
        tcp.set_nodelay(true)?;
        let mut ftp = AsyncFtpStream::connect_with_stream(tcp).await.context("greeting")?;
        ftp.login(conn.user.as_str(), conn.pass.as_str()).await.context("login")?;
        ftp.transfer_type(FileType::Binary).await.context("TYPE I")?;
        Ok(ftp)
    })
    .await
}

async fn drain<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut n = 0u64;
    loop {
        let k = r.read(buf).await?;
        if k == 0 {
            return Ok(n);
        }
        n += k as u64;
    }
}

/// RETR `name` and count its bytes.
async fn retr_count(ftp: &mut AsyncFtpStream, name: &str, buf: &mut [u8]) -> Result<u64> {
    let mut s = ftp.retr_as_stream(name).await.with_context(|| format!("RETR {name}"))?;
    let n = drain(&mut s, buf).await.context("reading data connection")?;
    s.finish().await.context("RETR completion reply")?;
    Ok(n)
}

/// STOR `bytes` bytes to `name`, repeating `pattern`.
async fn stor_bytes(
    ftp: &mut AsyncFtpStream,
    name: &str,
    pattern: &[u8],
    bytes: u64,
) -> Result<()> {
    let mut s = ftp.put_with_stream(name).await.with_context(|| format!("STOR {name}"))?;
    let mut left = bytes;
    while left > 0 {
        let k = left.min(pattern.len() as u64) as usize;
        s.write_all(&pattern[..k]).await.context("writing data connection")?;
        left -= k as u64;
    }
    s.finish().await.context("STOR completion reply")?;
    Ok(())
}

/// Bytes that do not compress to nothing (cheap xorshift fill).
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn base(workload: &str, conn: &Conn) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("workload".into(), json!(workload));
    m.insert("label".into(), json!(conn.label));
    m.insert("addr".into(), json!(conn.addr));
    m
}

fn emit(m: Map<String, Value>) {
    println!("{}", Value::Object(m));
}

// ---------------------------------------------------------------------------------------------
// workloads

async fn retr_big(conn: &Conn, file: &str, runs: usize) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let mut ftp = open(conn, addr, None).await?;
    let mut buf = vec![0u8; BUF];
    let mut speeds = Vec::new();
    let mut bytes = 0;
    let meter = Meter::start();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        bytes = retr_count(&mut ftp, file, &mut buf).await?;
        speeds.push(mb_per_s(bytes, t.elapsed().as_secs_f64()));
    }
    let mut m = base("retr-big", conn);
    m.insert("file".into(), json!(file));
    m.insert("bytes".into(), json!(bytes));
    m.insert("runs".into(), json!(speeds.len()));
    m.insert("mbps_runs".into(), json!(speeds.iter().map(|s| r1(*s)).collect::<Vec<_>>()));
    m.insert("mbps".into(), json!(r1(median(&speeds).unwrap_or(0.0))));
    m.extend(meter.cpu_json());
    let _ = within(OP_TIMEOUT, "QUIT", async { Ok(ftp.quit().await?) }).await;
    Ok(m)
}

async fn stor_big(
    conn: &Conn,
    size_mib: u64,
    file: &str,
    runs: usize,
    keep: bool,
) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let mut ftp = open(conn, addr, None).await?;
    let pat = pattern(1 << 20);
    let bytes = size_mib << 20;
    let mut speeds = Vec::new();
    let meter = Meter::start();
    let mut window_cpu = Map::new();
    for i in 0..runs.max(1) {
        let t = Instant::now();
        stor_bytes(&mut ftp, file, &pat, bytes).await?;
        speeds.push(mb_per_s(bytes, t.elapsed().as_secs_f64()));
        if i + 1 == runs.max(1) {
            window_cpu = meter.cpu_json();
        }
        if !keep {
            ftp.rm(file).await.with_context(|| format!("DELE {file}"))?;
        }
    }
    let mut m = base("stor-big", conn);
    m.insert("bytes".into(), json!(bytes));
    m.insert("runs".into(), json!(speeds.len()));
    m.insert("mbps_runs".into(), json!(speeds.iter().map(|s| r1(*s)).collect::<Vec<_>>()));
    m.insert("mbps".into(), json!(r1(median(&speeds).unwrap_or(0.0))));
    m.extend(window_cpu);
    let _ = within(OP_TIMEOUT, "QUIT", async { Ok(ftp.quit().await?) }).await;
    Ok(m)
}

async fn retr_many(
    conn: &Conn,
    clients: usize,
    seconds: u64,
    file: &str,
) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let clients = clients.max(1);
    // Phase 1: open every session (not timed).
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let conn = conn.clone();
        opening.spawn(async move { open(&conn, addr, None).await });
    }
    let mut sessions = Vec::new();
    let mut open_errors = Vec::new();
    while let Some(r) = opening.join_next().await {
        match r? {
            Ok(s) => sessions.push(s),
            Err(e) => open_errors.push(format!("{e:#}")),
        }
    }
    if sessions.is_empty() {
        bail!("no session could be opened: {}", open_errors.first().cloned().unwrap_or_default());
    }
    // Phase 2: every session loops RETR until the deadline (and at most 1e6 transfers).
    let meter = Meter::start();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for mut ftp in sessions {
        let file = file.to_string();
        tasks.spawn(async move {
            let mut buf = vec![0u8; BUF];
            let mut lat = Vec::new();
            let mut bytes = 0u64;
            let mut errors = Vec::new();
            for _ in 0..1_000_000 {
                if Instant::now() >= deadline || errors.len() >= 5 {
                    break;
                }
                let t = Instant::now();
                match within(OP_TIMEOUT, "RETR", retr_count(&mut ftp, &file, &mut buf)).await {
                    Ok(n) => {
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                        bytes += n;
                    }
                    Err(e) => {
                        errors.push(format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), ftp.quit()).await;
            (lat, bytes, errors)
        });
    }
    let mut lat = Vec::new();
    let mut bytes = 0;
    let mut errors = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (l, b, e) = r?;
        lat.extend(l);
        bytes += b;
        errors.extend(e);
    }
    let elapsed = meter.wall.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let mut m = base("retr-many", conn);
    m.insert("clients".into(), json!(clients));
    m.insert("sessions_opened".into(), json!(clients - open_errors.len()));
    m.insert("seconds".into(), json!(r3(elapsed)));
    m.insert("transfers".into(), json!(lat.len()));
    m.insert("bytes".into(), json!(bytes));
    m.insert("mbps".into(), json!(r1(mb_per_s(bytes, elapsed))));
    m.insert("transfers_per_s".into(), json!(r1(lat.len() as f64 / elapsed)));
    m.insert("p50_ms".into(), json!(pct(&lat, 50.0).map(r1)));
    m.insert("p99_ms".into(), json!(pct(&lat, 99.0).map(r1)));
    m.insert("max_ms".into(), json!(lat.last().copied().map(r1)));
    m.insert("errors".into(), json!(errors.len() + open_errors.len()));
    if let Some(e) = open_errors.first().or(errors.first()) {
        m.insert("first_error".into(), json!(e));
    }
    m.extend(meter.cpu_json());
    Ok(m)
}

async fn small_files(
    conn: &Conn,
    count: usize,
    size: usize,
    dir: &str,
) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let mut ftp = open(conn, addr, None).await?;
    let _ = ftp.mkdir(dir).await; // may exist from an earlier run
    ftp.cwd(dir).await.with_context(|| format!("CWD {dir}"))?;
    let pat = pattern(size.max(1));
    let names: Vec<String> = (0..count).map(|i| format!("f{i:06}.bin")).collect();
    let meter = Meter::start();
    let t = Instant::now();
    for n in &names {
        within(OP_TIMEOUT, "STOR", stor_bytes(&mut ftp, n, &pat, size as u64)).await?;
    }
    let stor_s = t.elapsed().as_secs_f64();
    let cpu_stor = meter.cpu_json();
    let meter = Meter::start();
    let mut buf = vec![0u8; 64 * 1024];
    let t = Instant::now();
    let mut wrong = 0;
    for n in &names {
        let got = within(OP_TIMEOUT, "RETR", retr_count(&mut ftp, n, &mut buf)).await?;
        if got != size as u64 {
            wrong += 1;
        }
    }
    let retr_s = t.elapsed().as_secs_f64();
    let cpu_retr = meter.cpu_json();
    let mut m = base("small-files", conn);
    m.insert("count".into(), json!(count));
    m.insert("size".into(), json!(size));
    m.insert("stor_s".into(), json!(r3(stor_s)));
    m.insert("retr_s".into(), json!(r3(retr_s)));
    m.insert("stor_files_per_s".into(), json!(r1(count as f64 / stor_s)));
    m.insert("retr_files_per_s".into(), json!(r1(count as f64 / retr_s)));
    m.insert("retr_wrong_size".into(), json!(wrong));
    m.insert("stor_cpu".into(), Value::Object(cpu_stor.clone()));
    m.insert("retr_cpu".into(), Value::Object(cpu_retr.clone()));
    // Headline client CPU: the whole STOR + RETR window.
    let total = cpu_stor["client_cpu_s"].as_f64().unwrap_or(0.0)
        + cpu_retr["client_cpu_s"].as_f64().unwrap_or(0.0);
    m.insert("client_cpu_s".into(), json!(r3(total)));
    m.insert("client_cpu_pct".into(), json!(r1(100.0 * total / (stor_s + retr_s))));
    let _ = within(OP_TIMEOUT, "QUIT", async { Ok(ftp.quit().await?) }).await;
    Ok(m)
}

/// What one login cycle of [`login_loop`] does.
#[derive(Clone)]
enum LoginMode {
    /// connect + USER/PASS + QUIT in plain FTP.
    Plain,
    /// connect + AUTH TLS + USER/PASS + QUIT (W9), with this client config.
    Ftps(Arc<rustls::ClientConfig>),
}

/// W5 and W9: `clients` tasks loop login cycles until `deadline`. With `users`, each cycle
/// takes the next unused name (each user logs in once) and the loop ends when none is left.
async fn login_loop(
    conn: &Conn,
    workload: &str,
    clients: usize,
    deadline: Instant,
    users: Option<Arc<Vec<String>>>,
    mode: LoginMode,
) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let meter = Meter::start();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (conn, users, next, mode) = (conn.clone(), users.clone(), next.clone(), mode.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Vec::new();
            for _ in 0..1_000_000 {
                if Instant::now() >= deadline || errors.len() >= 20 {
                    break;
                }
                let user = match &users {
                    Some(list) => match list.get(next.fetch_add(1, Ordering::Relaxed)) {
                        Some(u) => u.clone(),
                        None => break,
                    },
                    None => conn.user.clone(),
                };
                let t = Instant::now();
                let r = within(OP_TIMEOUT, "connect+login+QUIT", async {
                    match &mode {
                        LoginMode::Plain => {
                            let tcp = TcpStream::connect(addr).await.context("connect")?;
                            tcp.set_nodelay(true)?;
                            let mut ftp = AsyncFtpStream::connect_with_stream(tcp)
                                .await
                                .context("greeting")?;
                            ftp.login(user.as_str(), conn.pass.as_str()).await.context("login")?;
                            ftp.quit().await.context("QUIT")?;
                        }
                        LoginMode::Ftps(cfg) => {
                            ftps::Ftps::login(addr, &user, &conn.pass, cfg.clone(), false)
                                .await?
                                .quit()
                                .await
                                .context("QUIT")?;
                        }
                    }
                    Ok(())
                })
                .await;
                match r {
                    Ok(()) => lat.push(t.elapsed().as_secs_f64() * 1e3),
                    Err(e) => {
                        errors.push(format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (lat, errors)
        });
    }
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r?;
        lat.extend(l);
        errors.extend(e);
    }
    let elapsed = meter.wall.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let mut m = base(workload, conn);
    m.insert("clients".into(), json!(clients));
    if let Some(list) = &users {
        m.insert("users".into(), json!(list.len()));
    }
    m.insert("seconds".into(), json!(r3(elapsed)));
    m.insert("logins".into(), json!(lat.len()));
    m.insert("logins_per_s".into(), json!(r1(lat.len() as f64 / elapsed)));
    m.insert("p50_ms".into(), json!(pct(&lat, 50.0).map(r1)));
    m.insert("p99_ms".into(), json!(pct(&lat, 99.0).map(r1)));
    m.insert("errors".into(), json!(errors.len()));
    if let Some(e) = errors.first() {
        m.insert("first_error".into(), json!(e));
    }
    m.extend(meter.cpu_json());
    Ok(m)
}

async fn logins(conn: &Conn, clients: usize, seconds: u64) -> Result<Map<String, Value>> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    login_loop(conn, "logins", clients, deadline, None, LoginMode::Plain).await
}

async fn first_logins(
    conn: &Conn,
    clients: usize,
    prefix: &str,
    users: usize,
) -> Result<Map<String, Value>> {
    let names: Vec<String> = (0..users).map(|i| format!("{prefix}{i:05}")).collect();
    // No deadline of its own: the list ends the loop, --timeout bounds it.
    let deadline = Instant::now() + Duration::from_secs(conn.timeout);
    login_loop(conn, "first-logins", clients, deadline, Some(Arc::new(names)), LoginMode::Plain)
        .await
}

async fn ftps_logins(
    conn: &Conn,
    clients: usize,
    seconds: u64,
    resume: bool,
) -> Result<Map<String, Value>> {
    let cfg = ftps::client_config(resume)?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut m =
        login_loop(conn, "ftps-logins", clients, deadline, None, LoginMode::Ftps(cfg)).await?;
    m.insert("resume".into(), json!(resume));
    Ok(m)
}

/// Resumption and TLS figures of an FTPS session, as JSON fields.
fn tls_json(m: &mut Map<String, Value>, s: &ftps::Ftps) {
    m.insert("tls".into(), json!(s.tls_version()));
    m.insert("data_connections".into(), json!(s.data_connections));
    m.insert("data_resumed".into(), json!(s.data_resumed));
    m.insert("unclean_closes".into(), json!(s.unclean_closes));
}

/// An FTPS session (AUTH TLS, PROT P) for W8's transfers: one client config, so one session
/// store, for the control and every data connection (data connections offer the control
/// connection's session, as FileZilla does).
async fn ftps_transfer_session(conn: &Conn) -> Result<ftps::Ftps> {
    let addr = resolve(&conn.addr)?;
    let cfg = ftps::client_config(true)?;
    within(OP_TIMEOUT, "FTPS login", ftps::Ftps::login(addr, &conn.user, &conn.pass, cfg, true))
        .await
}

async fn ftps_retr_big(conn: &Conn, file: &str, runs: usize) -> Result<Map<String, Value>> {
    let mut s = ftps_transfer_session(conn).await?;
    let mut buf = vec![0u8; BUF];
    let mut speeds = Vec::new();
    let mut bytes = 0;
    let meter = Meter::start();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        bytes = s.retr(file, &mut buf).await?;
        speeds.push(mb_per_s(bytes, t.elapsed().as_secs_f64()));
    }
    let mut m = base("ftps-retr-big", conn);
    m.insert("file".into(), json!(file));
    m.insert("bytes".into(), json!(bytes));
    m.insert("runs".into(), json!(speeds.len()));
    m.insert("mbps_runs".into(), json!(speeds.iter().map(|s| r1(*s)).collect::<Vec<_>>()));
    m.insert("mbps".into(), json!(r1(median(&speeds).unwrap_or(0.0))));
    tls_json(&mut m, &s);
    m.extend(meter.cpu_json());
    let _ = within(OP_TIMEOUT, "QUIT", s.quit()).await;
    Ok(m)
}

async fn ftps_stor_big(
    conn: &Conn,
    size_mib: u64,
    file: &str,
    runs: usize,
) -> Result<Map<String, Value>> {
    let mut s = ftps_transfer_session(conn).await?;
    let pat = pattern(1 << 20);
    let bytes = size_mib << 20;
    let mut speeds = Vec::new();
    let meter = Meter::start();
    let mut window_cpu = Map::new();
    for i in 0..runs.max(1) {
        let t = Instant::now();
        s.stor(file, &pat, bytes).await?;
        speeds.push(mb_per_s(bytes, t.elapsed().as_secs_f64()));
        if i + 1 == runs.max(1) {
            window_cpu = meter.cpu_json();
        }
        s.dele(file).await?;
    }
    let mut m = base("ftps-stor-big", conn);
    m.insert("bytes".into(), json!(bytes));
    m.insert("runs".into(), json!(speeds.len()));
    m.insert("mbps_runs".into(), json!(speeds.iter().map(|s| r1(*s)).collect::<Vec<_>>()));
    m.insert("mbps".into(), json!(r1(median(&speeds).unwrap_or(0.0))));
    tls_json(&mut m, &s);
    m.extend(window_cpu);
    let _ = within(OP_TIMEOUT, "QUIT", s.quit()).await;
    Ok(m)
}

async fn listing(conn: &Conn, dir: &str, runs: usize) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let mut ftp = open(conn, addr, None).await?;
    ftp.cwd(dir).await.with_context(|| format!("CWD {dir}"))?;
    let meter = Meter::start();
    let (mut list_ms, mut mlsd_ms) = (Vec::new(), Vec::new());
    let (mut list_lines, mut mlsd_lines) = (0, 0);
    let (mut list_err, mut mlsd_err) = (None, None);
    for _ in 0..runs.max(1) {
        if list_err.is_none() {
            let t = Instant::now();
            match within(OP_TIMEOUT, "LIST", async { Ok(ftp.list(None).await?) }).await {
                Ok(v) => {
                    list_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    list_lines = v.len();
                }
                Err(e) => list_err = Some(format!("{e:#}")),
            }
        }
        if mlsd_err.is_none() {
            let t = Instant::now();
            match within(OP_TIMEOUT, "MLSD", async { Ok(ftp.mlsd(None).await?) }).await {
                Ok(v) => {
                    mlsd_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    mlsd_lines = v.len();
                }
                Err(e) => mlsd_err = Some(format!("{e:#}")),
            }
        }
    }
    let mut m = base("listing", conn);
    m.insert("dir".into(), json!(dir));
    m.insert("runs".into(), json!(runs));
    m.insert("list_ms".into(), json!(median(&list_ms).map(r1)));
    m.insert("list_lines".into(), json!(list_lines));
    m.insert("mlsd_ms".into(), json!(median(&mlsd_ms).map(r1)));
    m.insert("mlsd_lines".into(), json!(mlsd_lines));
    if let Some(e) = list_err {
        m.insert("list_error".into(), json!(e));
    }
    if let Some(e) = mlsd_err {
        m.insert("mlsd_error".into(), json!(e));
    }
    m.extend(meter.cpu_json());
    let _ = within(OP_TIMEOUT, "QUIT", async { Ok(ftp.quit().await?) }).await;
    Ok(m)
}

async fn idle(
    conn: &Conn,
    sessions: usize,
    concurrency: usize,
    src_ips: u8,
    hold_secs: u64,
) -> Result<Map<String, Value>> {
    let addr = resolve(&conn.addr)?;
    let src_ips = src_ips.max(1);
    let meter = Meter::start();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..sessions {
        let conn = conn.clone();
        let sem = sem.clone();
        let failed = failed.clone();
        // With one source address let the kernel choose (127.0.0.1); else 127.0.0.1..=N.
        let src = (src_ips > 1).then(|| Ipv4Addr::new(127, 0, 0, 1 + (i % src_ips as usize) as u8));
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.ok()?;
            // Stop trying after many failures (e.g. a server limit): bounded, and fast.
            if failed.load(Ordering::Relaxed) >= 50 {
                return Some(Err(anyhow!("skipped after 50 failures")));
            }
            let r = open(&conn, addr, src).await;
            if r.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            Some(r)
        });
    }
    let mut open_sessions = Vec::with_capacity(sessions);
    let mut errors = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r? {
            Some(Ok(s)) => open_sessions.push(s),
            Some(Err(e)) => errors.push(format!("{e:#}")),
            None => errors.push("semaphore closed".into()),
        }
    }
    let open_s = meter.wall.elapsed().as_secs_f64();
    let open_cpu = meter.cpu_json();
    let first_error = errors.iter().find(|e| !e.starts_with("skipped")).cloned();
    let mut ready = base("idle", conn);
    ready.insert("event".into(), json!("ready"));
    ready.insert("sessions".into(), json!(sessions));
    ready.insert("sessions_open".into(), json!(open_sessions.len()));
    ready.insert("failed".into(), json!(errors.len()));
    ready.insert("open_s".into(), json!(r3(open_s)));
    if let Some(e) = &first_error {
        ready.insert("first_error".into(), json!(e));
    }
    emit(ready);
    use std::io::Write;
    std::io::stdout().flush()?;

    // Hold until the driver writes a line (or closes stdin), or hold_secs pass.
    let mut line = String::new();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let held = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(hold_secs), stdin.read_line(&mut line)).await;
    let held_s = held.elapsed().as_secs_f64();

    // Are they still alive? NOOP each, a few at a time.
    let alive = Arc::new(AtomicU64::new(0));
    let mut checks = tokio::task::JoinSet::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    for mut ftp in open_sessions.drain(..) {
        let sem = sem.clone();
        let alive = alive.clone();
        checks.spawn(async move {
            let _p = sem.acquire_owned().await;
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(10), ftp.noop()).await {
                alive.fetch_add(1, Ordering::Relaxed);
            }
            drop(ftp); // close without QUIT: fast teardown
        });
    }
    while checks.join_next().await.is_some() {}

    let mut m = base("idle", conn);
    m.insert("event".into(), json!("done"));
    m.insert("sessions".into(), json!(sessions));
    m.insert("sessions_open".into(), json!(sessions - errors.len()));
    m.insert("failed".into(), json!(errors.len()));
    m.insert("open_s".into(), json!(r3(open_s)));
    m.insert("sessions_per_s".into(), json!(r1((sessions - errors.len()) as f64 / open_s)));
    m.insert("held_s".into(), json!(r3(held_s)));
    m.insert("alive_after_hold".into(), json!(alive.load(Ordering::Relaxed)));
    if let Some(e) = first_error {
        m.insert("first_error".into(), json!(e));
    }
    // Client CPU of the opening phase (the hold is idle by design).
    m.extend(open_cpu);
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// report

/// One server column of the report: its label in the JSON lines and the column title.
struct Column {
    label: String,
    title: String,
    /// A peer server (vsftpd, pure-ftpd), one of those the best-peer ratio picks from.
    peer: bool,
}

/// Whether a failed command's error is the server saying it does not implement the command
/// (RFC 959 replies 500, 502, 504), which is a missing feature, not a failed operation.
fn unimplemented(error: &str) -> bool {
    ["[500]", "[502]", "[504]"].iter().any(|c| error.contains(c))
}

/// Failed operations recorded in one JSON line, and notes saying what they were. A workload
/// that stopped on an error (`"error"`) counts one: it failed at least once and ran no further.
fn failed_ops(r: &Value) -> (u64, Vec<String>) {
    let mut n = 0;
    let mut notes = Vec::new();
    if let Some(e) = r["error"].as_str() {
        n += 1;
        notes.push(format!("stopped: {}", shorten(e)));
    }
    n += r["errors"].as_u64().unwrap_or(0);
    n += r["failed"].as_u64().unwrap_or(0);
    n += r["retr_wrong_size"].as_u64().unwrap_or(0);
    if r["workload"] == "idle" {
        // Sessions that opened but no longer answered NOOP after the hold.
        let open = r["sessions_open"].as_u64().unwrap_or(0);
        let alive = r["alive_after_hold"].as_u64().unwrap_or(open);
        if alive < open {
            n += open - alive;
            notes.push(format!("{} sessions dropped during the hold", open - alive));
        }
    }
    if r["retr_wrong_size"].as_u64().unwrap_or(0) > 0 {
        notes.push("RETR of the wrong size".into());
    }
    if let Some(e) = r["first_error"].as_str() {
        notes.push(shorten(e));
    }
    for (key, cmd) in [("list_error", "LIST"), ("mlsd_error", "MLSD")] {
        if let Some(e) = r[key].as_str() {
            if unimplemented(e) {
                notes.push(format!("{cmd} not implemented"));
            } else {
                n += 1;
                notes.push(format!("{cmd}: {}", shorten(e)));
            }
        }
    }
    (n, notes)
}

fn report(results: &PathBuf, cols: &[Column]) -> Result<()> {
    let text = std::fs::read_to_string(results)
        .with_context(|| format!("reading {}", results.display()))?;
    let rows: Vec<Value> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // The result of `workload` for `label` matching `pred`. With several rounds (run.sh
    // --rounds), each numeric figure is the median over the rounds (errors: their sum) and
    // "rounds" says how many there were; a round that failed outright is shown instead.
    let find = |label: &str, workload: &str, pred: &dyn Fn(&Value) -> bool| -> Option<Value> {
        let all: Vec<&Value> = rows
            .iter()
            .filter(|r| r["label"] == label && r["workload"] == workload && pred(r))
            .collect();
        let ok: Vec<&Value> = all.iter().copied().filter(|r| r["error"].is_null()).collect();
        let last = (*all.last()?).clone();
        if ok.len() < all.len() {
            // A round that failed outright is shown, not hidden behind the others' median.
            return all.iter().find(|r| !r["error"].is_null()).map(|r| (*r).clone());
        }
        if ok.len() < 2 {
            return Some(last);
        }
        let mut merged = (*ok[ok.len() - 1]).clone();
        if let Some(obj) = merged.as_object_mut() {
            for (key, value) in obj.iter_mut() {
                let xs: Vec<f64> = ok.iter().filter_map(|r| r[key].as_f64()).collect();
                if key == "errors" || key == "failed" {
                    // A failure in any round shows.
                    *value = json!(ok.iter().filter_map(|r| r[key].as_u64()).sum::<u64>());
                } else if let (true, Some(m)) = (value.is_number(), median(&xs)) {
                    *value = if value.is_u64() {
                        json!(m.round() as u64)
                    } else {
                        json!((m * 10.0).round() / 10.0)
                    };
                }
            }
            obj.insert("rounds".into(), json!(ok.len()));
        }
        Some(merged)
    };
    // `find` for every column, in column order.
    let find_all = |workload: &str, pred: &dyn Fn(&Value) -> bool| -> Vec<Option<Value>> {
        cols.iter().map(|c| find(&c.label, workload, pred)).collect()
    };
    let any = |_: &Value| true;
    let a = &cols[0].title;
    let titles: Vec<&str> = cols.iter().map(|c| c.title.as_str()).collect();
    let peers: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].peer).collect();
    let baseline = (1..cols.len()).find(|&i| !cols[i].peer);

    let mut head = format!(
        "| workload | {} | {a} / best peer (≥ 1 good; ≤ 1 good on \"lower is better\" rows) |",
        titles.join(" | ")
    );
    let mut rule = format!("|---|{}---:|", "---:|".repeat(cols.len()));
    if baseline.is_some() {
        head.push_str(" ratio now / baseline |");
        rule.push_str("---:|");
    }
    head.push_str(&format!(" loadgen CPU ({}) |", titles.join(" / ")));
    rule.push_str("---|");
    println!("{head}\n{rule}");

    // One table row: the figure `key` of each column's result, the ratios of the first column
    // to the second and (with a baseline) to the third, and the client CPU of each.
    let line = |title: &str,
                rs: &[Option<Value>],
                key: &str,
                lower: bool,
                unit_fmt: &dyn Fn(f64) -> String| {
        let val = |r: Option<&Value>| -> (Option<f64>, String) {
            match r {
                None => (None, "not run".into()),
                // A W7 run that opened nothing has no meaningful time or memory figure.
                // The server process was gone when its memory was read after the opening.
                Some(r) if r["processes_after"].as_u64() == Some(0) => {
                    (None, "n/a: the server exited while the sessions were open".to_string())
                }
                Some(r) if key != "sessions_open" && r["sessions_open"].as_u64() == Some(0) => (
                    None,
                    format!(
                        "n/a: {}",
                        shorten(r["first_error"].as_str().unwrap_or("no session opened"))
                    ),
                ),
                Some(r) => match r[key].as_f64() {
                    Some(x) => {
                        let errs = r["errors"].as_u64().or(r["failed"].as_u64()).unwrap_or(0);
                        let note =
                            if errs > 0 { format!(" ({errs} errors)") } else { String::new() };
                        (Some(x), format!("{}{note}", unit_fmt(x)))
                    }
                    None => {
                        let why = r["error"]
                            .as_str()
                            .or(r[&format!("{}_error", key.split('_').next().unwrap_or(""))]
                                .as_str())
                            .or(r["first_error"].as_str())
                            .unwrap_or("no figure");
                        (None, format!("n/a: {}", shorten(why)))
                    }
                },
            }
        };
        let vals: Vec<(Option<f64>, String)> = rs.iter().map(|r| val(r.as_ref())).collect();
        // No ratio when either side had failures: the figures would not be like for like.
        let failed = |r: &Option<Value>| {
            r.as_ref()
                .is_some_and(|r| r["errors"].as_u64().or(r["failed"].as_u64()).unwrap_or(0) > 0)
        };
        let ratio = |i: usize, j: usize| match (vals[i].0, vals[j].0) {
            _ if failed(&rs[i]) || failed(&rs[j]) => "— (failures)".to_string(),
            (Some(x), Some(y)) if y != 0.0 => format!("{:.2}", x / y),
            _ => "—".into(),
        };
        // The best peer of the row: the highest figure, or the lowest on lower-is-better rows,
        // among the peers with a figure and no failures; so the ratio reads "at least as good
        // as every peer" as >= 1 (<= 1 on lower-is-better rows). Named when there are several.
        let best = peers
            .iter()
            .copied()
            .filter(|&i| vals[i].0.is_some_and(|v| v != 0.0) && !failed(&rs[i]))
            .reduce(|x, y| {
                let (vx, vy) = (vals[x].0.unwrap_or(0.0), vals[y].0.unwrap_or(0.0));
                if (vy > vx) != lower && vy != vx { y } else { x }
            });
        let best_ratio = match best {
            Some(j) if peers.len() > 1 => format!("{} ({})", ratio(0, j), cols[j].title),
            Some(j) => ratio(0, j),
            None if peers.iter().any(|&i| failed(&rs[i])) || failed(&rs[0]) => {
                "— (failures)".into()
            }
            None => "—".into(),
        };
        let cpu: Vec<String> = rs
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|r| r["client_cpu_pct"].as_f64())
                    .map(|p| format!("{p:.0}%"))
                    .unwrap_or_else(|| "—".into())
            })
            .collect();
        let title = if lower { format!("{title} — lower is better") } else { title.to_string() };
        let cells: Vec<&str> = vals.iter().map(|v| v.1.as_str()).collect();
        let mut out = format!("| {title} | {} | {best_ratio} |", cells.join(" | "));
        if let Some(b) = baseline {
            out.push_str(&format!(" {} |", ratio(0, b)));
        }
        out.push_str(&format!(" {} |", cpu.join(" / ")));
        println!("{out}");
    };
    let f1 = |x: f64| format!("{x:.1}");
    let f0 = |x: f64| format!("{x:.0}");
    let desc = |rs: &[Option<Value>], k: &str| {
        rs.iter().find_map(|r| r.as_ref().and_then(|r| r[k].as_u64()))
    };

    let rs = find_all("retr-big", &any);
    let mib = desc(&rs, "bytes").map(|x| x >> 20).unwrap_or(0);
    line(&format!("W1 RETR {mib} MiB, 1 session (MB/s)"), &rs, "mbps", false, &f1);

    let rs = find_all("stor-big", &any);
    let mib = desc(&rs, "bytes").map(|x| x >> 20).unwrap_or(0);
    line(&format!("W2 STOR {mib} MiB, 1 session (MB/s)"), &rs, "mbps", false, &f1);

    let rs = find_all("retr-many", &any);
    let n = desc(&rs, "clients").unwrap_or(0);
    line(&format!("W3 RETR 1 MiB loop, {n} sessions: total MB/s"), &rs, "mbps", false, &f1);
    line("W3 … transfers/s", &rs, "transfers_per_s", false, &f1);
    line("W3 … p99 latency (ms)", &rs, "p99_ms", true, &f1);

    let rs = find_all("small-files", &any);
    let n = desc(&rs, "count").unwrap_or(0);
    let sz = desc(&rs, "size").unwrap_or(0);
    line(
        &format!("W4 {n} × {sz} B files, 1 session: STOR files/s"),
        &rs,
        "stor_files_per_s",
        false,
        &f1,
    );
    line("W4 … RETR files/s", &rs, "retr_files_per_s", false, &f1);

    let rs = find_all("logins", &any);
    let n = desc(&rs, "clients").unwrap_or(0);
    line(
        &format!("W5 logins/s (cached): one user, connect+login+QUIT, {n} clients"),
        &rs,
        "logins_per_s",
        false,
        &f1,
    );
    line("W5 … p50 (ms)", &rs, "p50_ms", true, &f1);
    line("W5 … p99 (ms)", &rs, "p99_ms", true, &f1);
    let rs = find_all("first-logins", &any);
    let n = desc(&rs, "clients").unwrap_or(0);
    let u = desc(&rs, "users").unwrap_or(0);
    line(
        &format!("W5 first logins/s (argon2id): {u} users once each, {n} clients"),
        &rs,
        "logins_per_s",
        false,
        &f1,
    );
    line("W5 first … p50 (ms)", &rs, "p50_ms", true, &f1);
    line("W5 first … p99 (ms)", &rs, "p99_ms", true, &f1);

    let rs = find_all("listing", &any);
    let n = desc(&rs, "list_lines").unwrap_or(0);
    line(&format!("W6 LIST of a {n}-entry folder (ms)"), &rs, "list_ms", true, &f1);
    line("W6 MLSD of the same folder (ms)", &rs, "mlsd_ms", true, &f1);

    // W8/W9: FTPS. The resumption counts are figures too ("resumed / data connections").
    let rs = find_all("ftps-retr-big", &any);
    let mib = desc(&rs, "bytes").map(|x| x >> 20).unwrap_or(0);
    line(&format!("W8 FTPS RETR {mib} MiB, TLS 1.3, PROT P (MB/s)"), &rs, "mbps", false, &f1);
    let rs2 = find_all("ftps-stor-big", &any);
    let mib = desc(&rs2, "bytes").map(|x| x >> 20).unwrap_or(0);
    line(&format!("W8 FTPS STOR {mib} MiB, TLS 1.3, PROT P (MB/s)"), &rs2, "mbps", false, &f1);
    let resumed: Vec<String> = rs
        .iter()
        .zip(&rs2)
        .map(|(r, s)| {
            let count = |r: &Option<Value>, k: &str| r.as_ref().and_then(|r| r[k].as_u64());
            let sum = |k: &str| match (count(r, k), count(s, k)) {
                (None, None) => None,
                (x, y) => Some(x.unwrap_or(0) + y.unwrap_or(0)),
            };
            match (sum("data_resumed"), sum("data_connections")) {
                (Some(x), Some(n)) => format!("{x} / {n}"),
                _ => "—".into(),
            }
        })
        .collect();
    if resumed.iter().any(|c| c != "—") {
        let mut out = format!(
            "| W8 … data connections that resumed the TLS session (resumed / opened, RETR+STOR) | {} | — |",
            resumed.join(" | ")
        );
        if baseline.is_some() {
            out.push_str(" — |");
        }
        out.push_str(" — |");
        println!("{out}");
    }
    let rs = find_all("ftps-logins", &any);
    let n = desc(&rs, "clients").unwrap_or(0);
    line(
        &format!("W9 FTPS logins/s: AUTH TLS+USER/PASS+QUIT, full handshakes, {n} clients"),
        &rs,
        "logins_per_s",
        false,
        &f1,
    );
    line("W9 … p99 (ms)", &rs, "p99_ms", true, &f1);

    // W7: one block per session count; the memory lines come from run.sh ("idle-mem").
    let mut counts: Vec<u64> = rows
        .iter()
        .filter(|r| {
            r["workload"] == "idle-mem" || (r["workload"] == "idle" && r["event"] == "done")
        })
        .filter_map(|r| r["sessions"].as_u64())
        .collect();
    counts.sort();
    counts.dedup();
    for &n in &counts {
        let is_n = move |r: &Value| r["sessions"].as_u64() == Some(n);
        let ms = find_all("idle-mem", &is_n);
        let is = find_all("idle", &|r: &Value| is_n(r) && r["event"] == "done");
        line(&format!("W7 {n} idle sessions: sessions opened"), &is, "sessions_open", false, &f0);
        line("W7 … time to open them (s)", &is, "open_s", true, &f1);
        line(
            "W7 … memory per idle session: PSS of the whole server / sessions (KiB)",
            &ms,
            "pss_kib_whole_per_session",
            true,
            &f1,
        );
        line(
            "W7 … growth per session: ΔPSS (with − before the sessions) / sessions (KiB)",
            &ms,
            "pss_kib_per_session",
            true,
            &f1,
        );
        line(
            "W7 … growth per session: ΔVmRSS summed over processes / sessions (KiB)",
            &ms,
            "rss_kib_per_session",
            true,
            &f1,
        );
        line("W7 … server open files per session", &ms, "fds_per_session", true, &|x: f64| {
            format!("{x:.2}")
        });
    }

    // Failed operations per workload and server, summed over every round and run (not the
    // medians above), so "no failed operation anywhere" can be read off one table.
    println!();
    println!("Failed operations per workload (all rounds; 0 = none failed):");
    println!();
    println!("| workload | {} |", titles.join(" | "));
    println!("|---|{}", "---:|".repeat(cols.len()));
    type Pick = Box<dyn Fn(&Value) -> bool>;
    let mut workloads: Vec<(String, Pick)> = vec![
        ("W1 retr-big".into(), Box::new(|r: &Value| r["workload"] == "retr-big")),
        ("W2 stor-big".into(), Box::new(|r: &Value| r["workload"] == "stor-big")),
        ("W3 retr-many".into(), Box::new(|r: &Value| r["workload"] == "retr-many")),
        ("W4 small-files".into(), Box::new(|r: &Value| r["workload"] == "small-files")),
        ("W5 logins".into(), Box::new(|r: &Value| r["workload"] == "logins")),
        ("W5 first logins".into(), Box::new(|r: &Value| r["workload"] == "first-logins")),
        ("W6 listing".into(), Box::new(|r: &Value| r["workload"] == "listing")),
        ("W8 FTPS RETR".into(), Box::new(|r: &Value| r["workload"] == "ftps-retr-big")),
        ("W8 FTPS STOR".into(), Box::new(|r: &Value| r["workload"] == "ftps-stor-big")),
        ("W9 FTPS logins".into(), Box::new(|r: &Value| r["workload"] == "ftps-logins")),
    ];
    for &n in &counts {
        workloads.push((
            format!("W7 idle, {n} sessions"),
            Box::new(move |r: &Value| {
                r["workload"] == "idle" && r["event"] == "done" && r["sessions"].as_u64() == Some(n)
                    || r["workload"] == "idle-mem"
                        && r["sessions"].as_u64() == Some(n)
                        && !r["error"].is_null()
            }),
        ));
    }
    let mut totals = vec![0u64; cols.len()];
    for (title, pred) in &workloads {
        if !rows.iter().any(pred) {
            continue;
        }
        let cells: Vec<String> = cols
            .iter()
            .zip(totals.iter_mut())
            .map(|(c, total)| {
                let mine: Vec<&Value> =
                    rows.iter().filter(|r| r["label"] == c.label.as_str() && pred(r)).collect();
                if mine.is_empty() {
                    return "not run".to_string();
                }
                let (mut n, mut notes) = (0, Vec::new());
                for r in mine {
                    // run.sh's own W7 lines: an error there means the measurement stopped.
                    if r["workload"] == "idle-mem" {
                        n += 1;
                        notes.push(shorten(r["error"].as_str().unwrap_or("")));
                        continue;
                    }
                    let (k, why) = failed_ops(r);
                    n += k;
                    notes.extend(why);
                }
                *total += n;
                notes.dedup();
                match notes.first() {
                    Some(why) if n > 0 => format!("**{n}** ({why})"),
                    Some(why) => format!("0 ({why})"),
                    None => n.to_string(),
                }
            })
            .collect();
        println!("| {title} | {} |", cells.join(" | "));
    }
    let totals: Vec<String> = totals.iter().map(|t| format!("**{t}**")).collect();
    println!("| all workloads | {} |", totals.join(" | "));
    Ok(())
}

fn shorten(s: &str) -> String {
    let s = s.replace('|', "/").replace('\n', " ");
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Cmd::Report { results, a, peers, c, c_title } = &cli.cmd {
        let column = |label: &str, title: Option<&String>, peer: bool| Column {
            label: label.to_string(),
            title: title.cloned().unwrap_or_else(|| label.to_string()),
            peer,
        };
        let mut cols = vec![column(a, None, false)];
        cols.extend(peers.split(',').filter(|p| !p.is_empty()).map(|p| column(p, None, true)));
        if let Some(c) = c {
            cols.push(column(c, c_title.as_ref(), false));
        }
        return match report(results, &cols) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loadgen report: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = rt.block_on(async move {
        let (name, conn) = match &cli.cmd {
            Cmd::RetrBig { conn, .. } => ("retr-big", conn),
            Cmd::StorBig { conn, .. } => ("stor-big", conn),
            Cmd::RetrMany { conn, .. } => ("retr-many", conn),
            Cmd::SmallFiles { conn, .. } => ("small-files", conn),
            Cmd::Logins { conn, .. } => ("logins", conn),
            Cmd::Listing { conn, .. } => ("listing", conn),
            Cmd::FirstLogins { conn, .. } => ("first-logins", conn),
            Cmd::FtpsRetrBig { conn, .. } => ("ftps-retr-big", conn),
            Cmd::FtpsStorBig { conn, .. } => ("ftps-stor-big", conn),
            Cmd::FtpsLogins { conn, .. } => ("ftps-logins", conn),
            Cmd::Idle { conn, .. } => ("idle", conn),
            Cmd::Report { .. } => unreachable!(),
        };
        let limit = Duration::from_secs(conn.timeout);
        let work = async {
            match &cli.cmd {
                Cmd::RetrBig { conn, file, runs } => retr_big(conn, file, *runs).await,
                Cmd::StorBig { conn, size_mib, file, runs, keep } => {
                    stor_big(conn, *size_mib, file, *runs, *keep).await
                }
                Cmd::RetrMany { conn, clients, seconds, file } => {
                    retr_many(conn, *clients, *seconds, file).await
                }
                Cmd::SmallFiles { conn, count, size, dir } => {
                    small_files(conn, *count, *size, dir).await
                }
                Cmd::Logins { conn, clients, seconds } => logins(conn, *clients, *seconds).await,
                Cmd::Listing { conn, dir, runs } => listing(conn, dir, *runs).await,
                Cmd::FirstLogins { conn, clients, user_prefix, users } => {
                    first_logins(conn, *clients, user_prefix, *users).await
                }
                Cmd::FtpsRetrBig { conn, file, runs } => ftps_retr_big(conn, file, *runs).await,
                Cmd::FtpsStorBig { conn, size_mib, file, runs } => {
                    ftps_stor_big(conn, *size_mib, file, *runs).await
                }
                Cmd::FtpsLogins { conn, clients, seconds, resume } => {
                    ftps_logins(conn, *clients, *seconds, *resume).await
                }
                Cmd::Idle { conn, sessions, concurrency, src_ips, hold_secs } => {
                    idle(conn, *sessions, *concurrency, *src_ips, *hold_secs).await
                }
                Cmd::Report { .. } => unreachable!(),
            }
        };
        let result = match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("workload hit --timeout {} s", conn.timeout)),
        };
        match result {
            Ok(m) => {
                emit(m);
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                let mut m = base(name, conn);
                m.insert("error".into(), json!(format!("{e:#}")));
                emit(m);
                std::process::ExitCode::FAILURE
            }
        }
    });
    // A stdin read may still be parked on a blocking thread (idle after --hold-secs): don't wait.
    rt.shutdown_background();
    code
}

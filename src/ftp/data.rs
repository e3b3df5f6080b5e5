//! Data connections (RFC 959 sections 3.2-3.3, RFC 2428, RFC 2577): the passive port pool and
//! its listeners, the active-mode connect with bounce protection, and the reply texts of PASV
//! and EPSV.
//!
//! Security choices (RFC 2577 "FTP Security Considerations"):
//! - a passive listener accepts only the control connection's peer address (section 5:
//!   "data connection hijacking"); connections from elsewhere are closed and the wait goes on;
//! - an active-mode target must be the client's own address and a port >= 1024 (section 3:
//!   "bounce attack");
//! - passive ports rotate through the range, so the next port is hard to guess from the last.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::PassiveHost;

/// Pending connections a passive listener queues (one expected, a few foreign ones).
const BACKLOG: u32 = 8;

/// Foreign connections logged as warnings per wait; more are logged at debug level.
const FOREIGN_WARNINGS: u32 = 3;

/// Accept errors that concern one connection, not the listener.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// The passive port range, shared by all sessions.
#[derive(Debug)]
pub struct PortPool {
    first: u16,
    count: usize,
    /// Offset into the range where the next search starts.
    next: AtomicUsize,
}

impl PortPool {
    /// A pool over `range` (an empty range makes every [`PortPool::bind`] fail).
    pub fn new(range: RangeInclusive<u16>) -> Arc<Self> {
        let (first, last) = range.into_inner();
        let count = if last >= first { usize::from(last - first) + 1 } else { 0 };
        Arc::new(Self { first, count, next: AtomicUsize::new(0) })
    }

    /// Binds a listener on a free port of the range at `ip` (the control connection's local
    /// address; IPv6 too). Rotates the start so consecutive sessions get different ports; skips
    /// ports in use; Err(AddrInUse-ish io error) when the whole range is busy.
    ///
    /// Must be called inside a tokio runtime (the listener registers with it).
    pub fn bind(self: &Arc<Self>, ip: IpAddr) -> io::Result<PassiveListener> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for step in 0..self.count {
            let offset = (start + step) % self.count;
            // `offset < count <= 65536` and `first + offset <= last`, so this fits.
            let port = self.first + offset as u16;
            match listen(SocketAddr::new(ip, port)) {
                Ok(listener) => {
                    // The next search starts after this port, not at the one we tried first.
                    self.next.store(offset + 1, Ordering::Relaxed);
                    return Ok(PassiveListener { listener, port });
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, "every port of the passive range is in use"))
    }
}

/// A listening socket on `addr`; SO_REUSEADDR so that ports of recently closed data
/// connections (TIME_WAIT) can be used again, which does not allow two listeners on a port.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// One pending passive listener (a session holds at most one; dropping it frees the port).
#[derive(Debug)]
pub struct PassiveListener {
    listener: TcpListener,
    port: u16,
}

impl PassiveListener {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Waits (at most `timeout`) for a connection from `expected` (None = from anyone).
    /// Connections from other addresses are closed at once and logged (tracing::warn) and
    /// the wait goes on. Timeout -> io::ErrorKind::TimedOut.
    pub async fn accept(
        &self,
        expected: Option<IpAddr>,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        let expected = expected.map(|ip| ip.to_canonical());
        let wait = async {
            let mut foreign = 0u32;
            loop {
                let (stream, peer) = match self.listener.accept().await {
                    Ok(accepted) => accepted,
                    // A connection reset before we took it: not ours to fail on.
                    Err(e) if transient(&e) => continue,
                    Err(e) => return Err(e),
                };
                match expected {
                    Some(ip) if peer.ip().to_canonical() != ip => {
                        // Logged, but a flood of attempts must not flood the log.
                        foreign += 1;
                        if foreign <= FOREIGN_WARNINGS {
                            tracing::warn!(
                                %peer,
                                expected = %ip,
                                port = self.port,
                                "data connection from a foreign address refused (RFC 2577)"
                            );
                        } else {
                            tracing::debug!(%peer, port = self.port, "foreign data connection refused");
                        }
                        drop(stream);
                    }
                    _ => {
                        return Ok(stream);
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no data connection in time")),
        }
    }
}

/// RFC 2577 / bounce protection: an active-mode target must be the client's own address
/// (compare IPv4-mapped IPv6 equal to IPv4) and a port >= 1024. Err = reason for the reply.
pub fn check_active_target(client: IpAddr, target: SocketAddr) -> Result<(), &'static str> {
    if target.ip().to_canonical() != client.to_canonical() {
        return Err("Active mode connects only to your own address (RFC 2577)");
    }
    if target.port() < 1024 {
        return Err("Active mode refuses ports below 1024 (RFC 2577)");
    }
    Ok(())
}

/// Connects to an active-mode target from the control connection's local address (port 0:
/// RFC 959's port L-1 would need privileges), within `timeout`.
pub async fn connect_active(
    local_ip: IpAddr,
    target: SocketAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    // A dual-stack control socket shows IPv4 peers as ::ffff:a.b.c.d: connect in IPv4 then.
    let target = SocketAddr::new(target.ip().to_canonical(), target.port());
    let local_ip = local_ip.to_canonical();
    let socket = if target.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // Bound to the control connection's address so the client sees the data connection come
    // from the server it talks to; with another family (odd setups) the system chooses.
    if local_ip.is_ipv4() == target.is_ipv4() {
        socket.bind(SocketAddr::new(local_ip, 0))?;
    }
    match tokio::time::timeout(timeout, socket.connect(target)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the active-mode data connection did not connect in time",
        )),
    }
}

/// Most bytes of a download left queued in the kernel and not yet sent: `TCP_NOTSENT_LOWAT`
/// ([`prepare`]).
pub const UNSENT_MAX: u32 = 32 << 10;

/// Tunes a data connection before its transfer.
///
/// - `TCP_NOTSENT_LOWAT` of [`UNSENT_MAX`]: the socket takes new bytes only while less than
///   that is waiting to be sent (Linux `tcp(7)`; the bytes in flight do not count, so the
///   window is not capped). Without it, one `sendfile` call queued a whole cached file (up to
///   the 4 MiB send buffer) of which TCP could send only the first part, and the rest went
///   out later from the processing of the client's ACKs. On loopback that processing runs in
///   the client's `recv` call, so the client paid for our sending: perf of the load
///   generator in 32 parallel 1 MiB downloads (bench/, W3) put 38% of its time under
///   `tcp_write_xmit` reached from `recvfrom`, against 12% with pure-ftpd, which writes
///   128 KiB at a time. With the cap our own `sendfile` calls send: W3 went from about
///   3,000 to 4,200-5,100 MB/s and its p99 from 16-19 to 11-15 ms (bench/README, W3).
/// - `TCP_NODELAY` on a TLS data connection, so its close_notify goes out at once instead of
///   waiting for an ACK (Nagle). Plain data connections keep Nagle: their last segment is
///   pushed by the close anyway, and small-file downloads are faster without NODELAY
///   (README, "Performance", W4 RETR).
///
/// Both are hints: a failure is logged at debug level and the transfer goes on.
pub fn prepare(stream: &TcpStream, tls: bool) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(UNSENT_MAX) {
        tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT on a data connection failed");
    }
    if tls && let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY on a data connection failed");
    }
}

/// The 227 reply text "Entering Passive Mode (h1,h2,h3,h4,p1,p2)" for `ip` (IPv4) and port
/// (RFC 959 section 4.1.2, PASV).
pub fn pasv_text(ip: Ipv4Addr, port: u16) -> String {
    let [h1, h2, h3, h4] = ip.octets();
    let [p1, p2] = port.to_be_bytes();
    format!("Entering Passive Mode ({h1},{h2},{h3},{h4},{p1},{p2})")
}

/// The 229 text "Entering Extended Passive Mode (|||port|)" (RFC 2428 section 3).
pub fn epsv_text(port: u16) -> String {
    format!("Entering Extended Passive Mode (|||{port}|)")
}

/// The IPv4 address a PASV reply announces. PASV can only carry IPv4 (RFC 959); a session
/// whose control connection is IPv6 gets an error here and should answer 425 asking for EPSV
/// (RFC 2428 section 3).
pub async fn passive_ipv4(host: &PassiveHost, local: IpAddr) -> io::Result<Ipv4Addr> {
    let not_v4 = || {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "PASV needs an IPv4 address and this connection has none: use EPSV",
        )
    };
    match host {
        PassiveHost::FromConnection => v4(local).ok_or_else(not_v4),
        PassiveHost::Ip(ip) => v4(*ip).ok_or_else(not_v4),
        PassiveHost::Dns(name) => {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            addrs.filter_map(|a| v4(a.ip())).next().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the passive host name {name} has no IPv4 address"),
                )
            })
        }
    }
}

/// `ip` as IPv4, unwrapping an IPv4-mapped IPv6 address.
fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::Ipv6Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// A pool over `n` consecutive ports that are free now (each test its own range, so that
    /// tests running in parallel do not meet).
    fn free_pool(n: u16) -> (Arc<PortPool>, RangeInclusive<u16>) {
        let seed = std::process::id() as usize;
        for attempt in 0..200usize {
            let first = 20_000 + ((seed * 7 + attempt * 131) % 20_000) as u16;
            let range = first..=first + n - 1;
            let all_free = range
                .clone()
                .all(|p| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok());
            if all_free {
                return (PortPool::new(range.clone()), range);
            }
        }
        panic!("no free port range");
    }

    /// `prepare` caps the unsent queue on every data connection and sets NODELAY only under
    /// TLS.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn prepare_caps_the_unsent_queue() {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        for tls in [false, true] {
            let (accepted, _client) = tokio::join!(listener.accept(), TcpStream::connect(addr));
            let (stream, _) = accepted.unwrap();
            let before = socket2::SockRef::from(&stream).tcp_notsent_lowat().unwrap();
            assert_ne!(before, UNSENT_MAX, "the kernel default is not the cap");
            prepare(&stream, tls);
            assert_eq!(socket2::SockRef::from(&stream).tcp_notsent_lowat().unwrap(), UNSENT_MAX);
            assert_eq!(stream.nodelay().unwrap(), tls);
        }
    }

    #[tokio::test]
    async fn pool_rotates_and_runs_out() {
        let (pool, range) = free_pool(3);
        // Consecutive listeners (each dropped) still get different ports.
        let a = pool.bind(LOCAL).unwrap().port();
        let b = pool.bind(LOCAL).unwrap().port();
        assert_ne!(a, b);
        assert!(range.contains(&a) && range.contains(&b));

        let held: Vec<PassiveListener> = (0..3).map(|_| pool.bind(LOCAL).unwrap()).collect();
        let ports: HashSet<u16> = held.iter().map(|l| l.port()).collect();
        assert_eq!(ports.len(), 3);
        let err = pool.bind(LOCAL).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

        // Dropping one frees its port.
        let mut held = held;
        let freed = held.remove(1).port();
        assert_eq!(pool.bind(LOCAL).unwrap().port(), freed);
    }

    #[tokio::test]
    async fn pool_skips_ports_taken_by_others() {
        let (pool, range) = free_pool(3);
        let _other = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, *range.start())).unwrap();
        for _ in 0..4 {
            assert_ne!(pool.bind(LOCAL).unwrap().port(), *range.start());
        }
    }

    #[tokio::test]
    async fn empty_pool_fails() {
        #[allow(clippy::reversed_empty_ranges)]
        let pool = PortPool::new(5..=4);
        assert!(pool.bind(LOCAL).is_err());
    }

    #[tokio::test]
    async fn ipv6_listener() {
        let (pool, _) = free_pool(3);
        // Machines without IPv6 loopback skip this.
        if std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_err() {
            return;
        }
        let l = pool.bind(IpAddr::V6(Ipv6Addr::LOCALHOST)).unwrap();
        let addr = l.local_addr().unwrap();
        let (accepted, client) = tokio::join!(
            l.accept(Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), Duration::from_secs(5)),
            TcpStream::connect(addr)
        );
        accepted.unwrap();
        client.unwrap();
    }

    #[tokio::test]
    async fn accept_refuses_a_foreign_address_then_takes_the_right_one() {
        let (pool, _) = free_pool(3);
        let l = pool.bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let expected: IpAddr = "127.0.0.1".parse().unwrap();
        let clients = async {
            // The intruder, from 127.0.0.2.
            let intruder = TcpSocket::new_v4().unwrap();
            intruder.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            let mut intruder = intruder.connect(addr).await.unwrap();
            // Its connection is closed by the server: reading gives EOF or a reset.
            let mut buf = [0u8; 1];
            let n = tokio::io::AsyncReadExt::read(&mut intruder, &mut buf).await.unwrap_or(0);
            assert_eq!(n, 0);
            // Then the real client.
            let real = TcpSocket::new_v4().unwrap();
            real.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            real.connect(addr).await.unwrap()
        };
        let (accepted, real) =
            tokio::join!(l.accept(Some(expected), Duration::from_secs(5)), clients);
        let accepted = accepted.unwrap();
        assert_eq!(accepted.peer_addr().unwrap(), real.local_addr().unwrap());
    }

    #[tokio::test]
    async fn accept_compares_mapped_addresses_and_accepts_anyone_without_check() {
        let (pool, _) = free_pool(3);
        let l = pool.bind(LOCAL).unwrap();
        let addr = l.local_addr().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let (accepted, _c) =
            tokio::join!(l.accept(Some(mapped), Duration::from_secs(5)), TcpStream::connect(addr));
        accepted.unwrap();

        let stranger = async {
            let s = TcpSocket::new_v4().unwrap();
            s.bind("127.0.0.3:0".parse().unwrap()).unwrap();
            s.connect(addr).await.unwrap()
        };
        let (accepted, _c) = tokio::join!(l.accept(None, Duration::from_secs(5)), stranger);
        assert_eq!(
            accepted.unwrap().peer_addr().unwrap().ip(),
            "127.0.0.3".parse::<IpAddr>().unwrap()
        );
    }

    #[tokio::test]
    async fn accept_times_out() {
        let (pool, _) = free_pool(3);
        let l = pool.bind(LOCAL).unwrap();
        let err = l.accept(None, Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn active_targets() {
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(check_active_target(client, "192.0.2.1:1024".parse().unwrap()).is_ok());
        assert!(check_active_target(client, "192.0.2.1:65535".parse().unwrap()).is_ok());
        assert!(check_active_target(client, "192.0.2.1:1023".parse().unwrap()).is_err());
        assert!(check_active_target(client, "192.0.2.1:21".parse().unwrap()).is_err());
        assert!(check_active_target(client, "192.0.2.1:0".parse().unwrap()).is_err());
        assert!(check_active_target(client, "192.0.2.2:5000".parse().unwrap()).is_err());
        assert!(check_active_target(client, "[::1]:5000".parse().unwrap()).is_err());
        // IPv4-mapped forms on either side are the same address.
        assert!(check_active_target(client, "[::ffff:192.0.2.1]:5000".parse().unwrap()).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(check_active_target(mapped, "192.0.2.1:5000".parse().unwrap()).is_ok());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(check_active_target(v6, "[2001:db8::1]:5000".parse().unwrap()).is_ok());
        assert!(check_active_target(v6, "[2001:db8::2]:5000".parse().unwrap()).is_err());
    }

    #[tokio::test]
    async fn active_connect_from_the_local_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let local: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let (stream, accepted) =
            tokio::join!(connect_active(local, target, Duration::from_secs(5)), listener.accept());
        let stream = stream.unwrap();
        assert_eq!(accepted.unwrap().1.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(stream.local_addr().unwrap().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));

        // Nobody listening: an error, not a hang.
        drop(listener);
        assert!(connect_active(LOCAL, target, Duration::from_secs(5)).await.is_err());
    }

    #[test]
    fn reply_texts() {
        assert_eq!(
            pasv_text(Ipv4Addr::new(192, 0, 2, 10), 50_001),
            "Entering Passive Mode (192,0,2,10,195,81)"
        );
        assert_eq!(epsv_text(50_001), "Entering Extended Passive Mode (|||50001|)");
    }

    #[tokio::test]
    async fn passive_addresses() {
        let from = PassiveHost::FromConnection;
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(passive_ipv4(&from, mapped).await.unwrap(), Ipv4Addr::new(10, 1, 2, 3));
        let err = passive_ipv4(&from, "2001:db8::1".parse().unwrap()).await.unwrap_err();
        assert!(err.to_string().contains("EPSV"));
        let fixed = PassiveHost::Ip("203.0.113.4".parse().unwrap());
        assert_eq!(passive_ipv4(&fixed, mapped).await.unwrap(), Ipv4Addr::new(203, 0, 113, 4));
        let dns = PassiveHost::Dns("localhost".to_string());
        assert!(passive_ipv4(&dns, mapped).await.unwrap().is_loopback());
    }
}

//! The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy's "proxy-protocol.txt"
//! defines it: a load balancer in front of the server sends one header at the start of each
//! connection, naming the client's real address, before any byte of the client's own.
//!
//! Parsed by hand: the format is small, the header must be read to its last byte and not one
//! byte further (the FTP client's bytes follow on the same stream), and every length is
//! bounded before anything is allocated.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The v2 signature (spec section 2.2): twelve bytes no text protocol starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 line, CRLF included (spec section 2.1: "107 bytes").
const V1_MAX: usize = 107;

/// The shortest v1 line: "PROXY UNKNOWN\r\n".
const V1_MIN: usize = 15;

/// Reads exactly one PROXY header (v1 text or v2 binary) from the start of `stream`, not one
/// byte more (the FTP client's bytes follow), within `timeout`. Ok(Some(addr)) = the client's
/// source address; Ok(None) = a LOCAL/UNKNOWN header (health check: use the peer address).
///
/// IPv4-mapped IPv6 source addresses are returned as IPv4, so that logins, bans and logs see
/// one form of each address. A malformed header is `InvalidData`, a timeout `TimedOut`, a
/// connection closed inside the header `UnexpectedEof`.
pub async fn read_header(
    stream: &mut tokio::net::TcpStream,
    timeout: Duration,
) -> io::Result<Option<SocketAddr>> {
    match tokio::time::timeout(timeout, read_from(stream)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no PROXY protocol header in time")),
    }
}

/// [`read_header`] on any reader, without the timeout.
pub async fn read_from<R: AsyncRead + Unpin>(stream: &mut R) -> io::Result<Option<SocketAddr>> {
    // Five bytes tell the versions apart ("PROXY" or "\r\n\r\n\0") and both are longer.
    let mut start = [0u8; 5];
    stream.read_exact(&mut start).await?;
    if &start == b"PROXY" {
        read_v1(stream).await
    } else if start[..] == V2_SIGNATURE[..5] {
        read_v2(stream, start).await
    } else {
        Err(invalid("the connection does not start with a PROXY protocol header"))
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad PROXY header: {message}"))
}

/// Reads the rest of a v1 line after "PROXY" and parses it.
async fn read_v1<R: AsyncRead + Unpin>(stream: &mut R) -> io::Result<Option<SocketAddr>> {
    let mut line = Vec::with_capacity(V1_MAX);
    line.extend_from_slice(b"PROXY");
    // Every v1 line has at least V1_MIN bytes, so these can be read at once.
    let mut more = [0u8; V1_MIN - 5];
    stream.read_exact(&mut more).await?;
    line.extend_from_slice(&more);
    // Then one byte at a time up to the LF: the client's bytes follow right after it.
    while line.last() != Some(&b'\n') {
        if line.len() >= V1_MAX {
            return Err(invalid("v1 line longer than 107 bytes"));
        }
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        line.push(byte[0]);
    }
    parse_v1(&line)
}

/// Parses one complete v1 line, CRLF included (spec section 2.1).
fn parse_v1(line: &[u8]) -> io::Result<Option<SocketAddr>> {
    let body =
        line.strip_suffix(b"\r\n").ok_or_else(|| invalid("v1 line does not end with CRLF"))?;
    let text = std::str::from_utf8(body).map_err(|_| invalid("v1 line is not ASCII"))?;
    let rest = text.strip_prefix("PROXY ").ok_or_else(|| invalid("v1 line without a protocol"))?;
    // "UNKNOWN" may be followed by anything up to CRLF, which the receiver must ignore.
    if rest == "UNKNOWN" || rest.starts_with("UNKNOWN ") {
        return Ok(None);
    }
    let fields: Vec<&str> = rest.split(' ').collect();
    let [proto, src, _dst, sport, dport] = fields[..] else {
        return Err(invalid("v1 line needs protocol, two addresses and two ports"));
    };
    let ip: IpAddr = match proto {
        "TCP4" => src.parse::<Ipv4Addr>().map_err(|_| invalid("bad TCP4 source address"))?.into(),
        "TCP6" => src.parse::<Ipv6Addr>().map_err(|_| invalid("bad TCP6 source address"))?.into(),
        _ => return Err(invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    let port = parse_port(sport)?;
    parse_port(dport)?;
    Ok(Some(SocketAddr::new(ip.to_canonical(), port)))
}

/// A v1 port: decimal digits only, 0..=65535.
fn parse_port(text: &str) -> io::Result<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("bad port"));
    }
    text.parse().map_err(|_| invalid("bad port"))
}

/// Reads the rest of a v2 header after its first five bytes and parses it.
async fn read_v2<R: AsyncRead + Unpin>(
    stream: &mut R,
    start: [u8; 5],
) -> io::Result<Option<SocketAddr>> {
    let mut head = [0u8; 16];
    head[..5].copy_from_slice(&start);
    stream.read_exact(&mut head[5..]).await?;
    if head[..12] != V2_SIGNATURE {
        return Err(invalid("v2 signature mismatch"));
    }
    // The length is a u16: at most 64 KiB, a bounded read even from a hostile peer.
    let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    parse_v2(head[12], head[13], &body)
}

/// Parses a v2 header from its version/command byte, family byte and address block
/// (spec section 2.2). TLVs after the addresses are ignored.
fn parse_v2(ver_cmd: u8, family: u8, body: &[u8]) -> io::Result<Option<SocketAddr>> {
    if ver_cmd >> 4 != 2 {
        return Err(invalid("v2 version is not 2"));
    }
    match ver_cmd & 0x0f {
        // LOCAL: the proxy's own connection (health check); addresses are to be ignored.
        0x0 => return Ok(None),
        0x1 => {}
        _ => return Err(invalid("v2 command is neither LOCAL nor PROXY")),
    }
    let transport = family & 0x0f;
    if transport > 2 {
        return Err(invalid("v2 transport protocol unknown"));
    }
    match family >> 4 {
        // AF_INET: 4 + 4 address bytes, 2 + 2 port bytes.
        0x1 => {
            let a = body.get(..12).ok_or_else(|| invalid("v2 IPv4 block too short"))?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let port = u16::from_be_bytes([a[8], a[9]]);
            Ok(Some(SocketAddr::new(ip.into(), port)))
        }
        // AF_INET6: 16 + 16 address bytes, 2 + 2 port bytes.
        0x2 => {
            let a = body.get(..36).ok_or_else(|| invalid("v2 IPv6 block too short"))?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let ip = IpAddr::V6(Ipv6Addr::from(octets)).to_canonical();
            let port = u16::from_be_bytes([a[32], a[33]]);
            Ok(Some(SocketAddr::new(ip, port)))
        }
        // AF_UNSPEC and AF_UNIX: no IP address to use; the spec says to fall back to the
        // connection's own addresses.
        0x0 | 0x3 => Ok(None),
        _ => Err(invalid("v2 address family unknown")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    const T: Duration = Duration::from_secs(5);

    /// Sends `bytes` on a fresh connection and reads the header on the server side; returns
    /// the result and what the server reads next (within a short wait).
    async fn run(bytes: Vec<u8>) -> (io::Result<Option<SocketAddr>>, Vec<u8>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(&bytes).await.unwrap();
        client.shutdown().await.unwrap();
        let result = read_header(&mut server, T).await;
        let mut rest = Vec::new();
        if result.is_ok() {
            server.read_to_end(&mut rest).await.unwrap();
        }
        (result, rest)
    }

    fn v2(cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | cmd);
        h.push(family);
        h.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    fn with_tail(mut header: Vec<u8>) -> Vec<u8> {
        header.extend_from_slice(b"USER alice\r\n");
        header
    }

    #[tokio::test]
    async fn v1_tcp4() {
        let (r, rest) =
            run(with_tail(b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n".to_vec())).await;
        assert_eq!(r.unwrap(), Some("192.0.2.7:56324".parse().unwrap()));
        assert_eq!(rest, b"USER alice\r\n");
    }

    #[tokio::test]
    async fn v1_tcp6() {
        let line = b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 21\r\n".to_vec();
        let (r, rest) = run(with_tail(line)).await;
        assert_eq!(r.unwrap(), Some("[2001:db8::1]:4000".parse().unwrap()));
        assert_eq!(rest, b"USER alice\r\n");
        // Mapped IPv4 comes back as IPv4.
        let line = b"PROXY TCP6 ::ffff:192.0.2.9 ::1 4000 21\r\n".to_vec();
        let (r, _) = run(line).await;
        assert_eq!(r.unwrap(), Some("192.0.2.9:4000".parse().unwrap()));
    }

    #[tokio::test]
    async fn v1_unknown() {
        let (r, rest) = run(with_tail(b"PROXY UNKNOWN\r\n".to_vec())).await;
        assert_eq!(r.unwrap(), None);
        assert_eq!(rest, b"USER alice\r\n");
        let (r, rest) = run(with_tail(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".to_vec())).await;
        assert_eq!(r.unwrap(), None);
        assert_eq!(rest, b"USER alice\r\n");
    }

    #[tokio::test]
    async fn v2_proxy_ipv4_and_ipv6_with_tlvs() {
        let mut body = vec![203, 0, 113, 5, 10, 0, 0, 1];
        body.extend_from_slice(&4242u16.to_be_bytes());
        body.extend_from_slice(&21u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0xaa]); // a NOOP TLV, ignored
        let (r, rest) = run(with_tail(v2(1, 0x11, &body))).await;
        assert_eq!(r.unwrap(), Some("203.0.113.5:4242".parse().unwrap()));
        assert_eq!(rest, b"USER alice\r\n");

        let src: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let mut body = src.octets().to_vec();
        body.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        body.extend_from_slice(&5555u16.to_be_bytes());
        body.extend_from_slice(&21u16.to_be_bytes());
        let (r, rest) = run(with_tail(v2(1, 0x21, &body))).await;
        assert_eq!(r.unwrap(), Some(SocketAddr::new(src.into(), 5555)));
        assert_eq!(rest, b"USER alice\r\n");
    }

    #[tokio::test]
    async fn v2_local_and_unspec() {
        let (r, rest) = run(with_tail(v2(0, 0x00, &[]))).await;
        assert_eq!(r.unwrap(), None);
        assert_eq!(rest, b"USER alice\r\n");
        // LOCAL with an address block: the block is skipped all the same.
        let (r, rest) = run(with_tail(v2(0, 0x11, &[0; 12]))).await;
        assert_eq!(r.unwrap(), None);
        assert_eq!(rest, b"USER alice\r\n");
        let (r, _) = run(v2(1, 0x00, &[])).await;
        assert_eq!(r.unwrap(), None);
    }

    #[tokio::test]
    async fn garbage_is_invalid_data() {
        let bad: Vec<Vec<u8>> = vec![
            b"USER alice\r\n".to_vec(),
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".to_vec(),
            b"PROXY TCP4 ::1 ::2 1 2\r\n".to_vec(),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n".to_vec(),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n".to_vec(),
            b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".to_vec(),
            [b"PROXY UNKNOWN ".to_vec(), vec![b'x'; 200]].concat(),
            v2(2, 0x11, &[0; 12]),
            v2(1, 0x11, &[0; 8]),
            v2(1, 0x21, &[0; 12]),
            v2(1, 0x51, &[0; 12]),
            {
                let mut h = v2(1, 0x11, &[0; 12]);
                h[12] = 0x11; // version 1 in a v2 header
                h
            },
        ];
        for bytes in bad {
            let (r, _) = run(bytes.clone()).await;
            let err = r.expect_err(&String::from_utf8_lossy(&bytes));
            assert_eq!(
                err.kind(),
                io::ErrorKind::InvalidData,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[tokio::test]
    async fn truncated_and_silent() {
        let (r, _) = run(b"PROXY TCP4 1.2.3.4".to_vec()).await;
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let err = read_header(&mut server, Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn longest_v1_lines_are_accepted() {
        let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let tcp6 = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
        let (r, rest) = run(with_tail(tcp6.into_bytes())).await;
        assert_eq!(r.unwrap().unwrap().port(), 65535);
        assert_eq!(rest, b"USER alice\r\n");
        // The spec's worst case, 107 bytes, is UNKNOWN with the longest addresses.
        let unknown = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
        assert_eq!(unknown.len(), V1_MAX);
        let (r, rest) = run(with_tail(unknown.into_bytes())).await;
        assert_eq!(r.unwrap(), None);
        assert_eq!(rest, b"USER alice\r\n");
        let too_long = format!("PROXY UNKNOWN {full} {full} 65535 655350\r\n");
        let (r, _) = run(too_long.into_bytes()).await;
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}

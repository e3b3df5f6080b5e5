//! A small FTPS client (explicit `AUTH TLS`, RFC 4217) for W8 and W9.
//!
//! suppaftp hides its data connections' TLS state, and W8 needs two things from them: the
//! client must offer the control connection's TLS session on every data connection (as
//! FileZilla does, and as servers with `require_ssl_reuse` demand), and the bench must count
//! how many data connections the server actually resumed. Both come from owning the
//! connections: one rustls `ClientConfig`, whose session store is shared by every connection
//! made with it, and `handshake_kind()` after each data handshake.
//!
//! Only what the workloads need is here: login, `PBSZ`/`PROT P`, `TYPE I`, passive `RETR` and
//! `STOR`, `QUIT`. Certificates are not verified: the servers run on loopback with a
//! self-signed certificate made for the run, and what is measured is the transfer, not PKI.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, Tls12Resumption};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, SignatureScheme};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Accepts any server certificate but still checks the handshake signatures, so the TLS
/// work on both sides is the same as with a verified certificate.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS 1.3 only (the rows are "TLS 1.3"; a server that cannot do it fails visibly rather than
/// being measured on another version). With `resume`, the connections made with this config
/// share rustls' in-memory session store: a data connection offers a ticket the server sent
/// on the control connection (or on an earlier data connection). Without it every handshake
/// is a full one, as for a new client.
pub fn client_config(resume: bool) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3 with the ring provider")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    cfg.resumption = if resume {
        Resumption::in_memory_sessions(256).tls12_resumption(Tls12Resumption::SessionIdOrTickets)
    } else {
        Resumption::disabled()
    };
    Ok(Arc::new(cfg))
}

/// Reads one reply (RFC 959 section 4.2: a multi-line reply starts with "xyz-" and ends with
/// a line starting "xyz "); returns its code and last line.
async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<(u16, String)> {
    let mut line = String::new();
    if r.read_line(&mut line).await.context("reading a reply")? == 0 {
        bail!("the server closed the control connection");
    }
    let code: u16 = line
        .get(..3)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("not an FTP reply: {:?}", line.trim_end()))?;
    if line.as_bytes().get(3) == Some(&b'-') {
        let end = format!("{code} ");
        loop {
            line.clear();
            if r.read_line(&mut line).await.context("reading a multi-line reply")? == 0 {
                bail!("the server closed the control connection inside a reply");
            }
            if line.starts_with(&end) {
                break;
            }
        }
    }
    Ok((code, line.trim_end().to_string()))
}

/// Sends `line` and reads the reply; fails unless the code's first digit is in `ok`.
async fn command<S>(s: &mut BufReader<S>, line: &str, ok: &[u8]) -> Result<(u16, String)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.context("sending a command")?;
    s.get_mut().flush().await?;
    let (code, text) = read_reply(s).await?;
    let verb = line.split(' ').next().unwrap_or(line);
    if !ok.contains(&((code / 100) as u8)) {
        bail!("{verb}: {text}");
    }
    Ok((code, text))
}

/// One logged-in FTPS session.
pub struct Ftps {
    ctl: BufReader<TlsStream<TcpStream>>,
    connector: TlsConnector,
    name: ServerName<'static>,
    peer: IpAddr,
    /// TLS data connections opened.
    pub data_connections: u64,
    /// Of those, how many the server resumed (abbreviated handshake with our ticket).
    pub data_resumed: u64,
    /// Data connections the server closed without a TLS close_notify (tolerated, counted).
    pub unclean_closes: u64,
}

impl Ftps {
    /// Connects, upgrades with `AUTH TLS` and logs in. `data` also sends `PBSZ 0`, `PROT P`
    /// and `TYPE I` (RFC 4217 section 9: PBSZ before PROT) for transfers; a login-only cycle
    /// (W9) leaves them out.
    pub async fn login(
        addr: SocketAddr,
        user: &str,
        pass: &str,
        config: Arc<ClientConfig>,
        data: bool,
    ) -> Result<Self> {
        let tcp = TcpStream::connect(addr).await.with_context(|| format!("connect {addr}"))?;
        tcp.set_nodelay(true)?;
        let mut plain = BufReader::new(tcp);
        let (code, text) = read_reply(&mut plain).await.context("greeting")?;
        if code != 220 {
            bail!("greeting: {text}");
        }
        command(&mut plain, "AUTH TLS", &[2]).await?;
        if !plain.buffer().is_empty() {
            bail!("the server sent bytes after 234, before the TLS handshake");
        }
        let name = ServerName::IpAddress(addr.ip().into());
        let connector = TlsConnector::from(config);
        let tls = connector
            .connect(name.clone(), plain.into_inner())
            .await
            .context("TLS handshake on the control connection")?;
        let mut ctl = BufReader::new(tls);
        let (code, text) = command(&mut ctl, &format!("USER {user}"), &[2, 3]).await?;
        if code == 331 {
            command(&mut ctl, &format!("PASS {pass}"), &[2]).await.context("login")?;
        } else if code != 230 {
            bail!("USER: {text}");
        }
        let mut s = Ftps {
            ctl,
            connector,
            name,
            peer: addr.ip(),
            data_connections: 0,
            data_resumed: 0,
            unclean_closes: 0,
        };
        if data {
            command(&mut s.ctl, "PBSZ 0", &[2]).await?;
            command(&mut s.ctl, "PROT P", &[2]).await?;
            command(&mut s.ctl, "TYPE I", &[2]).await?;
        }
        Ok(s)
    }

    /// The control connection's TLS version, e.g. "TLSv1_3".
    pub fn tls_version(&self) -> String {
        self.ctl
            .get_ref()
            .get_ref()
            .1
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default()
    }

    /// PASV, connect, send `verb_line`, wait for 150/125, then the data connection's TLS
    /// handshake (offering the shared session store's ticket). The handshake runs beside the
    /// wait for the 1xx reply because servers differ on the order (vsftpd replies 150 first,
    /// others may accept TLS first); if the reply is an error the handshake is dropped.
    async fn open_data(&mut self, verb_line: &str) -> Result<TlsStream<TcpStream>> {
        let (_, text) = command(&mut self.ctl, "PASV", &[2]).await?;
        // RFC 959 section 4.1.2: 227 ... (h1,h2,h3,h4,p1,p2); only the port is used, the
        // host is the control connection's (what FileZilla does by default).
        let inside = text
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(n, _)| n)
            .ok_or_else(|| anyhow!("PASV: no address in {text:?}"))?;
        let n: Vec<u16> = inside.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        if n.len() != 6 {
            bail!("PASV: cannot parse {text:?}");
        }
        let port = n[4] * 256 + n[5];
        let tcp = TcpStream::connect((self.peer, port))
            .await
            .with_context(|| format!("data connect to port {port}"))?;
        tcp.set_nodelay(true)?;
        let handshake = tokio::spawn(self.connector.connect(self.name.clone(), tcp));
        let verb = verb_line.split(' ').next().unwrap_or(verb_line).to_string();
        let reply = command(&mut self.ctl, verb_line, &[1]).await;
        if let Err(e) = reply {
            handshake.abort();
            return Err(e);
        }
        let tls = handshake
            .await
            .context("handshake task")?
            .with_context(|| format!("{verb}: TLS handshake on the data connection"))?;
        self.data_connections += 1;
        if tls.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed) {
            self.data_resumed += 1;
        }
        Ok(tls)
    }

    /// RETR `name` over a protected data connection; returns the bytes read.
    pub async fn retr(&mut self, name: &str, buf: &mut [u8]) -> Result<u64> {
        let mut data = self.open_data(&format!("RETR {name}")).await?;
        let mut n = 0u64;
        loop {
            match data.read(buf).await {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                // A server that closes without close_notify: the bytes all came (the 226
                // below still has to confirm it), so count it instead of failing.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.unclean_closes += 1;
                    break;
                }
                Err(e) => return Err(e).context("reading the data connection"),
            }
        }
        drop(data);
        self.finish("RETR").await?;
        Ok(n)
    }

    /// STOR `bytes` bytes to `name`, repeating `pattern`; ends with close_notify and FIN.
    pub async fn stor(&mut self, name: &str, pattern: &[u8], bytes: u64) -> Result<()> {
        let mut data = self.open_data(&format!("STOR {name}")).await?;
        let mut left = bytes;
        while left > 0 {
            let k = left.min(pattern.len() as u64) as usize;
            data.write_all(&pattern[..k]).await.context("writing the data connection")?;
            left -= k as u64;
        }
        data.shutdown().await.context("closing the data connection")?;
        // Then read to the server's end before closing, as FileZilla does: the server's TLS 1.3
        // session tickets (and its close_notify) sit unread in our receive buffer, and closing a
        // socket with unread bytes sends a reset instead of a FIN, which vsftpd reports as a
        // failed upload (426) although every byte came.
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Ok(k) = data.read(&mut sink).await {
                if k == 0 {
                    break;
                }
            }
        })
        .await;
        drop(data);
        self.finish("STOR").await
    }

    /// The transfer's completion reply (226/250).
    async fn finish(&mut self, verb: &str) -> Result<()> {
        let (code, text) = read_reply(&mut self.ctl).await?;
        if code / 100 != 2 {
            bail!("{verb} completion: {text}");
        }
        Ok(())
    }

    /// DELE `name`.
    pub async fn dele(&mut self, name: &str) -> Result<()> {
        command(&mut self.ctl, &format!("DELE {name}"), &[2]).await.map(|_| ())
    }

    /// QUIT (reply awaited: the server has then seen the whole session).
    pub async fn quit(mut self) -> Result<()> {
        command(&mut self.ctl, "QUIT", &[2]).await.map(|_| ())
    }
}

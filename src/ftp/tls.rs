//! FTPS (RFC 4217): the TLS configurations of the control and data connections, their
//! handshakes and the orderly close of a protected data connection.
//!
//! Two rustls configurations share one server-side session store, so that a data connection
//! can resume the TLS session of its control connection (RFC 4217 section 10.2 recommends it;
//! FileZilla warns without it and vsftpd's `require_ssl_reuse` demands it):
//!
//! - TLS 1.2 resumes by session id: the id stored by the control handshake is looked up by the
//!   data handshake.
//! - TLS 1.3 resumes by ticket (RFC 8446 section 4.6.1). Tickets are stateful here: a ticket is
//!   only the key of an entry in the shared store. The control connection sends tickets (the
//!   client reads the control channel, so they are consumed); data connections send none,
//!   because a ticket written on a data connection sits unread in an uploading client's socket
//!   and the client's close then sends RST, which cuts the upload short.
//! - FTP clients (OpenSSL's and GnuTLS's) offer the control connection's ticket again for every
//!   data connection, so the data configuration does not delete a ticket it accepts: it stays
//!   usable for the next transfer until it is [`SESSION_MAX_AGE`] old or evicted. Single-use
//!   tickets are an anti-replay measure for 0-RTT data (RFC 8446 section 8), which is never
//!   accepted here, and the control configuration still treats its tickets as single-use.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::StoresServerSessions;
use rustls::{HandshakeKind, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::tls_store::SessionStore;
pub use super::tls_store::{SESSION_CACHE_SIZE, SESSION_MAX_AGE};

/// TLS 1.3 tickets sent after a control handshake: each lets the client open one more control
/// connection by resumption, and the data connections reuse them (see the module doc).
const CONTROL_TICKETS: usize = 2;

/// Why the certificate or key could not be loaded. The messages name the settings to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or is not PEM.
    #[error("cannot read the TLS certificate {path} (setting tls_cert): {source}")]
    Cert {
        /// The certificate file as configured (`(memory)` for a built-in pair).
        path: PathBuf,
        /// Why it is not a readable PEM file.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error(
        "the TLS certificate file {0} holds no PEM certificate (setting tls_cert: a file with \
         -----BEGIN CERTIFICATE-----, the server's certificate first, then its chain)"
    )]
    NoCertificate(PathBuf),
    /// The key file could not be read or holds no private key.
    #[error(
        "cannot read a private key from {path} (setting tls_key: a PEM file with a PKCS#8, \
         PKCS#1 or SEC1 private key): {source}"
    )]
    Key {
        /// The key file as configured (`(memory)` for a built-in pair).
        path: PathBuf,
        /// Why no private key could be read from it.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the pair: an unsupported key, or a key that does not belong to the
    /// certificate.
    #[error(
        "the TLS certificate and key do not make a usable pair (check that tls_key is the \
         private key of the first certificate in tls_cert): {0}"
    )]
    Config(#[source] rustls::Error),
}

/// The TLS configurations for control and data connections; cheap to clone (the clones share
/// the configurations, so [`Tls::reload_pem_files`] on one changes them all).
#[derive(Clone)]
pub struct Tls {
    /// The configurations in force. Each handshake takes the current pair when it starts, so
    /// a reload (certbot renewed the certificate) applies to the next handshake while
    /// connections already protected keep theirs.
    configs: Arc<RwLock<Configs>>,
    /// The session store of both configurations, kept across reloads so that data
    /// connections of sessions opened before a reload still resume (RFC 4217 section 10.2).
    cache: Arc<SessionStore>,
}

/// One generation of the control and data configurations (same certificate, same store).
struct Configs {
    control: Arc<ServerConfig>,
    data: Arc<ServerConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads a PEM certificate chain and private key. TLS 1.2 and 1.3.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let (chain, key_der) = read_pem_files(cert, key)?;
        Self::from_der(chain, key_der)
    }

    /// Reads the certificate chain and key again (a renewed certificate, e.g. by certbot) and
    /// uses them for every handshake that starts from now on, in all clones of this `Tls`.
    /// Connections already protected keep the certificate they were made with, and the
    /// session store stays, so their data connections still resume. On error nothing
    /// changes: the certificate in use stays.
    pub fn reload_pem_files(&self, cert: &Path, key: &Path) -> Result<(), TlsError> {
        let (chain, key_der) = read_pem_files(cert, key)?;
        self.replace(chain, key_der)
    }

    /// Like [`Tls::reload_pem_files`], from PEM text in memory.
    pub fn reload_pem(&self, cert: &[u8], key: &[u8]) -> Result<(), TlsError> {
        let (chain, key_der) = read_pem(cert, key)?;
        self.replace(chain, key_der)
    }

    /// Puts configurations for `chain` and `key` in force, over the same session store.
    fn replace(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), TlsError> {
        let configs = build(chain, key, &self.cache)?;
        // A poisoned lock only means a reader panicked; the pair inside is still whole.
        *self.configs.write().unwrap_or_else(PoisonError::into_inner) = configs;
        Ok(())
    }

    /// The control configuration in force.
    fn control(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.configs.read().unwrap_or_else(PoisonError::into_inner).control)
    }

    /// The data configuration in force.
    fn data(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.configs.read().unwrap_or_else(PoisonError::into_inner).data)
    }

    /// Like [`Tls::from_pem_files`], from PEM text in memory (tests, generated certificates).
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Tls, TlsError> {
        let (chain, key_der) = read_pem(cert, key)?;
        Self::from_der(chain, key_der)
    }

    /// Builds both configurations from a DER chain and key, over a new session store.
    fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Tls, TlsError> {
        let cache = Arc::new(SessionStore::new(SESSION_CACHE_SIZE));
        let configs = build(chain, key, &cache)?;
        Ok(Tls { configs: Arc::new(RwLock::new(configs)), cache })
    }

    /// Accepts a TLS handshake on the control connection.
    pub async fn accept_control(
        &self,
        stream: TcpStream,
        timeout: Duration,
    ) -> io::Result<TlsStream<TcpStream>> {
        handshake(self.control(), stream, timeout).await
    }

    /// Accepts a TLS handshake on a data connection; `require_reuse` refuses one that did not
    /// resume a session (vsftpd's require_ssl_reuse) with an io error saying so.
    ///
    /// The resumed session can be any session of the shared store: the client then proved
    /// that it completed a handshake with this server. rustls does not tell which session was
    /// resumed, so "the control connection's own session" cannot be checked more tightly.
    pub async fn accept_data(
        &self,
        stream: TcpStream,
        timeout: Duration,
        require_reuse: bool,
    ) -> io::Result<TlsStream<TcpStream>> {
        let tls = handshake(self.data(), stream, timeout).await?;
        if require_reuse && !is_resumed(&tls) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the data connection's TLS session does not resume the control connection's \
                 (require_tls_session_reuse is on; the client must reuse its TLS session)",
            ));
        }
        Ok(tls)
    }
}

/// Whether the handshake of `stream` resumed an earlier session.
pub fn is_resumed(stream: &TlsStream<TcpStream>) -> bool {
    stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed)
}

/// A PEM certificate chain and private key as read (DER).
type Pair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads a PEM certificate chain and private key from files.
fn read_pem_files(cert: &Path, key: &Path) -> Result<Pair, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert).and_then(|certs| certs.collect());
    checked_pair(cert, chain, key, || PrivateKeyDer::from_pem_file(key))
}

/// Reads a PEM certificate chain and private key from memory.
fn read_pem(cert: &[u8], key: &[u8]) -> Result<Pair, TlsError> {
    let memory = Path::new("(memory)");
    let chain = CertificateDer::pem_slice_iter(cert).collect();
    checked_pair(memory, chain, memory, || PrivateKeyDer::from_pem_slice(key))
}

/// The pair once its chain (read from `cert_path`) holds a certificate and its key (read
/// from `key_path` only then) is found; errors name the place each came from.
fn checked_pair(
    cert_path: &Path,
    chain: Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error>,
    key_path: &Path,
    key: impl FnOnce() -> Result<PrivateKeyDer<'static>, rustls::pki_types::pem::Error>,
) -> Result<Pair, TlsError> {
    let chain = chain.map_err(|source| TlsError::Cert { path: cert_path.to_path_buf(), source })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_path_buf()));
    }
    let key_der = key().map_err(|source| TlsError::Key { path: key_path.to_path_buf(), source })?;
    Ok((chain, key_der))
}

/// Builds the control and data configurations for `chain` and `key` over the shared `cache`.
fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cache: &Arc<SessionStore>,
) -> Result<Configs, TlsError> {
    let base = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;

    let mut control = base.clone();
    control.session_storage = Arc::new(SharedSessions { cache: Arc::clone(cache), reuse: false });
    control.send_tls13_tickets = CONTROL_TICKETS;

    let mut data = base;
    data.session_storage = Arc::new(SharedSessions { cache: Arc::clone(cache), reuse: true });
    data.send_tls13_tickets = 0;

    Ok(Configs { control: Arc::new(control), data: Arc::new(data) })
}

/// Runs one server handshake within `timeout`; failures are io errors, never panics.
async fn handshake(
    config: Arc<ServerConfig>,
    stream: TcpStream,
    timeout: Duration,
) -> io::Result<TlsStream<TcpStream>> {
    let acceptor = TlsAcceptor::from(config);
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
    }
}

/// Ends a TLS data connection properly: send close_notify, then wait (at most `timeout`,
/// e.g. 5 s) for the client's close_notify / EOF, so uploads by clients that wait for the
/// server's close_notify (Python ftplib storbinary) succeed. Never panics; returns errors.
///
/// RFC 4217 section 12.7 (and RFC 8446 section 6.1) want both sides to send close_notify
/// before the TCP close. Bytes the client still sends are read and dropped. A client that
/// closes TCP without close_notify ends the wait just as well (`Ok`): the transfer itself was
/// complete before this call. A timeout is `Err(TimedOut)`; the data was written and flushed
/// by then, so the caller may treat it as a warning.
pub async fn close_data(stream: &mut TlsStream<TcpStream>, timeout: Duration) -> io::Result<()> {
    let close = async {
        // close_notify, flush, then the TCP FIN of our half.
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        loop {
            match stream.read(&mut sink).await {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    };
    match tokio::time::timeout(timeout, close).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not close the TLS data connection in time",
        )),
    }
}

/// The session store as one configuration sees it: the data configuration's `take` leaves
/// the session in the store (see the module doc).
#[derive(Debug)]
struct SharedSessions {
    cache: Arc<SessionStore>,
    /// Whether `take` leaves the session in the store (data connections).
    reuse: bool,
}

impl StoresServerSessions for SharedSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.cache.put(&key, &value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.cache.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        if self.reuse { self.cache.get(key) } else { self.cache.take(key) }
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::ClientConfig;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsConnector;

    const T: Duration = Duration::from_secs(5);

    /// A server configuration and a root store that trusts its self-signed certificate.
    fn setup() -> (Tls, rustls::RootCertStore) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let tls =
            Tls::from_pem(ck.cert.pem().as_bytes(), ck.signing_key.serialize_pem().as_bytes())
                .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ck.cert.der().clone()).unwrap();
        (tls, roots)
    }

    fn client(
        roots: &rustls::RootCertStore,
        v: &'static rustls::SupportedProtocolVersion,
    ) -> TlsConnector {
        let config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(&[v])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    fn name() -> ServerName<'static> {
        ServerName::try_from("localhost").unwrap()
    }

    /// A control handshake whose session the client keeps (it reads the server's line, which
    /// also makes it process TLS 1.3 tickets).
    async fn control(tls: &Tls, connector: &TlsConnector) {
        let (s, c) = pair().await;
        let server = async {
            let mut s = tls.accept_control(s, T).await.unwrap();
            assert!(!is_resumed(&s));
            s.write_all(b"234 ready\r\n").await.unwrap();
            s.flush().await.unwrap();
            let mut b = [0u8; 1];
            let _ = s.read(&mut b).await;
        };
        let client = async {
            let c = connector.connect(name(), c).await.unwrap();
            let mut lines = BufReader::new(c);
            let mut line = String::new();
            lines.read_line(&mut line).await.unwrap();
            assert_eq!(line, "234 ready\r\n");
            lines.into_inner().shutdown().await.unwrap();
        };
        tokio::join!(server, client);
    }

    /// A data handshake; returns the server's result.
    async fn data(
        tls: &Tls,
        connector: &TlsConnector,
        require_reuse: bool,
    ) -> io::Result<TlsStream<TcpStream>> {
        let (s, c) = pair().await;
        let (server, _client) =
            tokio::join!(tls.accept_data(s, T, require_reuse), connector.connect(name(), c));
        server
    }

    async fn resumption(v: &'static rustls::SupportedProtocolVersion) {
        let (tls, roots) = setup();
        let connector = client(&roots, v);
        control(&tls, &connector).await;
        // Several transfers in a row all resume (the ticket stays usable for data connections
        // only as long as the client keeps it; rustls clients use each TLS 1.3 ticket once).
        let s = data(&tls, &connector, true).await.expect("data connection resumes");
        assert!(is_resumed(&s));
        let s = data(&tls, &connector, true).await.expect("second data connection resumes");
        assert!(is_resumed(&s));

        // A client with a fresh cache does not resume: refused when reuse is required...
        let fresh = client(&roots, v);
        let err = data(&tls, &fresh, true).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        // ...and accepted when it is not.
        let s = data(&tls, &client(&roots, v), false).await.unwrap();
        assert!(!is_resumed(&s));
    }

    #[tokio::test]
    async fn data_resumes_control_session_tls12() {
        resumption(&rustls::version::TLS12).await;
    }

    #[tokio::test]
    async fn data_resumes_control_session_tls13() {
        resumption(&rustls::version::TLS13).await;
    }

    async fn upload_then_close(v: &'static rustls::SupportedProtocolVersion) {
        let (tls, roots) = setup();
        let connector = client(&roots, v);
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (s, c) = pair().await;
        let server = async {
            let mut s = tls.accept_data(s, T, false).await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            close_data(&mut s, T).await.unwrap();
            got
        };
        let client = async {
            let mut c = connector.connect(name(), c).await.unwrap();
            c.write_all(&payload).await.unwrap();
            // As Python's unwrap(): close_notify, then wait for the server's.
            c.shutdown().await.unwrap();
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).await.expect("clean close_notify from the server");
            rest
        };
        let (got, rest) = tokio::join!(server, client);
        assert_eq!(got, payload);
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn upload_and_close_notify_tls12() {
        upload_then_close(&rustls::version::TLS12).await;
    }

    #[tokio::test]
    async fn upload_and_close_notify_tls13() {
        upload_then_close(&rustls::version::TLS13).await;
    }

    #[tokio::test]
    async fn download_then_close() {
        let (tls, roots) = setup();
        let connector = client(&roots, &rustls::version::TLS13);
        let (s, c) = pair().await;
        let server = async {
            let mut s = tls.accept_data(s, T, false).await.unwrap();
            s.write_all(b"file contents").await.unwrap();
            close_data(&mut s, T).await
        };
        let client = async {
            let mut c = connector.connect(name(), c).await.unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).await.unwrap();
            c.shutdown().await.unwrap();
            got
        };
        let (closed, got) = tokio::join!(server, client);
        closed.unwrap();
        assert_eq!(got, b"file contents");
    }

    #[tokio::test]
    async fn close_data_times_out_on_a_silent_client() {
        let (tls, roots) = setup();
        let connector = client(&roots, &rustls::version::TLS13);
        let (s, c) = pair().await;
        let (server, client) =
            tokio::join!(tls.accept_data(s, T, false), connector.connect(name(), c));
        let mut s = server.unwrap();
        let _keep_open = client.unwrap();
        let err = close_data(&mut s, Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn failed_handshakes_are_errors() {
        let (tls, _) = setup();
        // Plain text instead of a ClientHello.
        let (s, mut c) = pair().await;
        c.write_all(b"USER alice\r\n").await.unwrap();
        assert!(tls.accept_data(s, T, false).await.is_err());
        // A client that does not trust the certificate aborts the handshake.
        let (s, c) = pair().await;
        let untrusted = client(&rustls::RootCertStore::empty(), &rustls::version::TLS13);
        let (server, client) = tokio::join!(tls.accept_control(s, T), untrusted.connect(name(), c));
        assert!(server.is_err());
        assert!(client.is_err());
        // Silence: timeout.
        let (s, _c) = pair().await;
        let err = tls.accept_control(s, Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    /// A renewed certificate: new handshakes show it at once (in every clone), a session made
    /// before the reload still resumes on its data connections, and a bad pair changes nothing.
    #[tokio::test]
    async fn reload_serves_the_new_certificate_and_keeps_sessions() {
        let (tls, roots_a) = setup();
        let renewed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let mut roots_b = rustls::RootCertStore::empty();
        roots_b.add(renewed.cert.der().clone()).unwrap();
        let mut roots_both = roots_a.clone();
        roots_both.add(renewed.cert.der().clone()).unwrap();
        let v = &rustls::version::TLS13;
        let old_client = client(&roots_both, v);
        control(&tls, &old_client).await;

        let handle = tls.clone();
        handle
            .reload_pem(
                renewed.cert.pem().as_bytes(),
                renewed.signing_key.serialize_pem().as_bytes(),
            )
            .unwrap();
        // Only the new certificate is served now.
        control(&tls, &client(&roots_b, v)).await;
        let (s, c) = pair().await;
        let (server, old_only) =
            tokio::join!(tls.accept_control(s, T), client(&roots_a, v).connect(name(), c));
        assert!(server.is_err() && old_only.is_err(), "the old certificate is still served");
        // The session from before the reload goes on: its data connection resumes.
        let s = data(&tls, &old_client, true).await.expect("old session resumes after reload");
        assert!(is_resumed(&s));

        // A pair that does not load leaves the renewed certificate in force.
        let err = tls.reload_pem(b"not pem", b"not pem").unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
        control(&tls, &client(&roots_b, v)).await;
    }

    #[test]
    fn load_errors_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = Tls::from_pem_files(&missing, &missing).unwrap_err();
        assert!(err.to_string().contains("tls_cert"), "{err}");

        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        Tls::from_pem_files(&cert, &key).unwrap();

        let err = Tls::from_pem_files(&key, &key).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
        let err = Tls::from_pem_files(&cert, &cert).unwrap_err();
        assert!(err.to_string().contains("tls_key"), "{err}");

        // A key that is not the certificate's.
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&key, other.serialize_pem()).unwrap();
        let err = Tls::from_pem_files(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::Config(_)), "{err}");
    }

    /// Python's ssl module (OpenSSL), as ftplib uses it: uploads end with `unwrap()`, which
    /// waits for our close_notify. With `session=` it offers the control connection's session
    /// for every data connection, as curl and lftp do: all of them must resume. Skipped
    /// where python3 is missing.
    async fn python_client(version: &str) {
        let ((tls, ca), _dir) = setup_with_ca_file();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = r#"
import socket, ssl, sys
port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
control = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
control.recv(100)
for i in range(3):
    d = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost", session=control.session)
    reused = d.session_reused
    d.sendall(b"x" * 300000)
    d.unwrap().close()
    print("reused" if reused else "full")
control.close()
"#;
        let child = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(port.to_string())
            .arg(&ca)
            .arg(version)
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(child) = child else {
            eprintln!("python3 not found: skipped");
            return;
        };
        let (s, _) = listener.accept().await.unwrap();
        let mut control = tls.accept_control(s, T).await.unwrap();
        control.write_all(b"234 ready\r\n").await.unwrap();
        for _ in 0..3 {
            let (s, _) = listener.accept().await.unwrap();
            let mut d = tls.accept_data(s, T, true).await.expect("python resumes");
            let mut got = Vec::new();
            d.read_to_end(&mut got).await.unwrap();
            assert_eq!(got.len(), 300_000);
            close_data(&mut d, T).await.unwrap();
        }
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "reused\nreused\nreused\n");
    }

    /// [`setup`]'s server, and its certificate in a file (kept alive with the directory).
    fn setup_with_ca_file() -> ((Tls, PathBuf), tempfile::TempDir) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let tls =
            Tls::from_pem(ck.cert.pem().as_bytes(), ck.signing_key.serialize_pem().as_bytes())
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ck.cert.pem()).unwrap();
        ((tls, ca), dir)
    }

    #[tokio::test]
    async fn python_ftplib_style_tls12() {
        python_client("1.2").await;
    }

    #[tokio::test]
    async fn python_ftplib_style_tls13() {
        python_client("1.3").await;
    }
}

//! Login and security: USER, PASS, REIN (RFC 959 4.1.1), HOST (RFC 7151), AUTH, PBSZ, PROT
//! and CCC (RFC 2228, RFC 4217).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::command::Prot;
use super::super::control::Control;
use super::super::guard::Verdict;
use super::super::session::{Flow, LoggedIn, Login, Presence, Session};
use super::super::{AuthError, Backend, Event, LOGIN_LINE_LIMIT, Reply, TlsPolicy};

/// How long a TLS handshake or close may take on the control connection.
const TLS_TIMEOUT: Duration = Duration::from_secs(15);

impl<B: Backend> Session<B> {
    /// Whether this session must protect its control connection before logging in.
    fn tls_missing_for_login(&self) -> bool {
        self.shared.options.tls_policy != TlsPolicy::Optional && !self.control.is_tls()
    }

    pub(super) fn user(&mut self, name: String) -> Reply {
        if self.logged_in().is_some() {
            return Reply::new(530, "Already logged in: use REIN to log in as someone else");
        }
        // RFC 4217 section 9: policy refusal is 534. It applies to every account name,
        // `anonymous` included.
        if self.tls_missing_for_login() {
            return Reply::new(534, "TLS required by policy: use AUTH TLS before USER");
        }
        self.login = Login::User(name);
        Reply::new(331, "Password required")
    }

    pub(super) async fn pass(&mut self, password: String) -> Reply {
        let name = match &self.login {
            Login::User(n) => n.clone(),
            Login::Done(_) => return Reply::new(503, "Already logged in"),
            Login::Fresh => return Reply::new(503, "Send USER first"),
        };
        if self.tls_missing_for_login() {
            return Reply::new(534, "TLS required by policy: use AUTH TLS before USER");
        }
        self.login = Login::Fresh;
        let ip = self.client.addr.ip();
        let shown: String = name.chars().take(64).collect();
        // The policy is checked before the password: during a block, right and wrong guesses
        // get the same reply after the same (short) time.
        let guard = self.shared.guard.clone();
        let verdict = match &guard {
            Some(guard) => guard.check(ip, &name).await,
            None => Verdict::Clear,
        };
        if verdict == Verdict::Blocked {
            self.shared.backend.event(Event::LoginFailed {
                client: &self.client,
                user: &shown,
                blocked: true,
            });
            return Reply::new(530, "Login incorrect");
        }
        let backend = Arc::clone(&self.shared.backend);
        let user = match backend.login(&name, &password, &self.client).await {
            Ok(u) => u,
            Err(AuthError::BadCredentials) => {
                if let Some(guard) = &guard {
                    guard.failed(ip, &name).await;
                }
                backend.event(Event::LoginFailed {
                    client: &self.client,
                    user: &shown,
                    blocked: false,
                });
                return Reply::new(530, "Login incorrect");
            }
            Err(AuthError::Refused(reason)) => return Reply::new(530, reason),
            Err(AuthError::Unavailable) => {
                return Reply::new(
                    421,
                    "Service not available (the account database does not answer), closing \
                     control connection: try again later",
                );
            }
        };
        let storage = match backend.storage(&user).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(session = self.client.session, user = %B::name(&user), cause = %e, "cannot open the user's storage");
                backend.login_abandoned(&user, &self.client).await;
                return Reply::new(
                    530,
                    "Your home folder cannot be opened: contact the administrator",
                );
            }
        };
        // Nothing on record at the check: nothing to clear (a shared store is not written at
        // every login).
        if let Some(guard) = &guard
            && verdict != Verdict::Clear
        {
            guard.succeeded(ip, &name).await;
        }
        let username = B::name(&user).to_string();
        self.shared.stats.sessions.fetch_add(1, Ordering::Relaxed);
        backend.event(Event::LoggedIn { client: &self.client, user: &username });
        backend.events_recorded().await;
        // The login's work (the password check, the database) is done: memory was freed.
        self.shared.stats.ended.fetch_add(1, Ordering::Relaxed);
        let presence = Presence {
            backend: Arc::clone(&backend),
            stats: Arc::clone(&self.shared.stats),
            client: self.client.clone(),
            user: username.clone(),
        };
        self.login = Login::Done(Box::new(LoggedIn {
            user,
            storage: Arc::new(storage),
            _presence: presence,
        }));
        self.cwd = "/".to_string();
        self.reader.set_limit(self.shared.options.line_limit);
        Reply::new(230, format!("User {} logged in", super::super::reply::clean(&username)))
    }

    /// REIN (RFC 959 4.1.1): log out, keep the connection (and its TLS) for a new USER.
    pub(super) fn rein(&mut self) -> Reply {
        self.login = Login::Fresh;
        self.cwd = "/".to_string();
        self.rest = 0;
        self.rename_from = None;
        self.ascii = false;
        self.pending = None;
        self.epsv_all = false;
        self.range = None;
        self.reader.set_limit(LOGIN_LINE_LIMIT);
        Reply::new(220, "Logged out: ready for a new user")
    }

    /// HOST (RFC 7151): one host only, so any name is accepted before login.
    pub(super) fn host(&mut self) -> Reply {
        if matches!(self.login, Login::Fresh) {
            Reply::new(220, "Host accepted")
        } else {
            Reply::new(503, "HOST must come before USER")
        }
    }

    /// AUTH TLS (RFC 4217 section 4): 234, then the handshake on the same connection. Nothing
    /// the client sent after AUTH may be read as plain text, so pipelined bytes refuse it.
    pub(super) async fn auth(&mut self, mechanism: &str) -> std::io::Result<Flow> {
        let Some(tls) = self.shared.options.tls.clone() else {
            self.answer("AUTH", Reply::new(502, "TLS is not configured on this server")).await?;
            return Ok(Flow::Continue);
        };
        if !matches!(mechanism, "TLS" | "TLS-C" | "SSL" | "TLS-P") {
            self.answer("AUTH", Reply::new(504, "Unknown mechanism: use AUTH TLS")).await?;
            return Ok(Flow::Continue);
        }
        if self.control.is_tls() {
            self.answer("AUTH", Reply::new(503, "Already protected by TLS")).await?;
            return Ok(Flow::Continue);
        }
        if self.reader.buffered() > 0 {
            self.reader.clear();
            self.answer(
                "AUTH",
                Reply::new(503, "Commands sent after AUTH before its reply: send AUTH alone"),
            )
            .await?;
            return Ok(Flow::Continue);
        }
        self.answer("AUTH", Reply::new(234, "Proceed with TLS negotiation")).await?;
        let Control::Plain(tcp) = std::mem::replace(&mut self.control, Control::Switching) else {
            return Err(std::io::Error::other("control connection not plain"));
        };
        let stream = tls.accept_control(tcp, TLS_TIMEOUT).await?;
        self.control = Control::Tls(Box::new(stream));
        self.client.tls = true;
        // RFC 4217 section 8: PBSZ/PROT start over with a new security exchange.
        self.pbsz = false;
        self.protect_data = false;
        Ok(Flow::Continue)
    }

    /// CCC (RFC 4217 section 12.3): back to a clear control connection after login. Refused
    /// when the policy protects everything.
    pub(super) async fn ccc(&mut self) -> std::io::Result<Flow> {
        if !self.control.is_tls() {
            self.answer("CCC", Reply::new(533, "The control connection is not protected")).await?;
            return Ok(Flow::Continue);
        }
        if self.shared.options.tls_policy == TlsPolicy::All {
            self.answer("CCC", Reply::new(534, "Policy requires TLS on the control connection"))
                .await?;
            return Ok(Flow::Continue);
        }
        self.answer("CCC", Reply::new(200, "Control connection in clear from now on")).await?;
        let Control::Tls(mut tls) = std::mem::replace(&mut self.control, Control::Switching) else {
            return Err(std::io::Error::other("control connection not TLS"));
        };
        // Our close_notify, without closing TCP (tokio-rustls' shutdown would send FIN too).
        tls.get_mut().1.send_close_notify();
        tokio::time::timeout(TLS_TIMEOUT, tls.flush())
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let (mut tcp, _) = tls.into_inner();
        // The client's close_notify arrives as a TLS record before its next plain command:
        // skip records by their headers, never reading a byte of plain text.
        skip_tls_records(&mut tcp, self.shared.options.idle_timeout).await?;
        self.control = Control::Plain(tcp);
        self.client.tls = false;
        Ok(Flow::Continue)
    }

    /// PBSZ (RFC 4217 section 8): only 0 makes sense for TLS.
    pub(super) fn pbsz(&mut self, _size: u64) -> Reply {
        if !self.control.is_tls() {
            return Reply::new(503, "PBSZ needs AUTH TLS first");
        }
        self.pbsz = true;
        Reply::new(200, "PBSZ=0")
    }

    /// PROT C or P (RFC 4217 section 9).
    pub(super) fn prot(&mut self, level: Prot) -> Reply {
        if !self.control.is_tls() {
            return Reply::new(503, "PROT needs AUTH TLS first");
        }
        if !self.pbsz {
            return Reply::new(503, "PROT needs PBSZ first");
        }
        match level {
            Prot::Private => {
                self.protect_data = true;
                Reply::new(200, "Data connections will be protected")
            }
            Prot::Clear if self.shared.options.tls_policy == TlsPolicy::All => {
                Reply::new(534, "Policy requires protected data connections: use PROT P")
            }
            Prot::Clear => {
                self.protect_data = false;
                Reply::new(200, "Data connections will be in clear")
            }
        }
    }
}

/// Skips whole TLS records (RFC 8446 section 5.1: type 20-23, version, 16-bit length) at the
/// start of `tcp`, up to the first byte that cannot start one; gives up quietly after `wait`
/// without data.
async fn skip_tls_records(tcp: &mut tokio::net::TcpStream, wait: Duration) -> std::io::Result<()> {
    let mut header = [0u8; 5];
    loop {
        let seen = match tokio::time::timeout(wait, tcp.peek(&mut header)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if seen == 0 || !(20..=23).contains(&header[0]) {
            return Ok(());
        }
        if seen < header.len() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        tcp.read_exact(&mut header).await?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0u8; len];
        tokio::time::timeout(TLS_TIMEOUT, tcp.read_exact(&mut body))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    }
}

//! Setting up the next data connection: PASV and PORT (RFC 959 4.1.2), EPSV and EPRT (RFC
//! 2428). A session holds at most one passive listener: a new PASV/EPSV replaces it, so no
//! session can take the whole passive range. Active mode connects only to the client's own
//! address and to ports >= 1024 (RFC 2577, bounce attacks).

use std::net::{IpAddr, SocketAddr};

use super::super::command::Epsv;
use super::super::data::{self, check_active_target};
use super::super::session::{Pending, Session};
use super::super::{Backend, Reply};

impl<B: Backend> Session<B> {
    fn listen(&mut self) -> Result<u16, Reply> {
        // Free the old port first: it may be the only one left.
        self.pending = None;
        let ip = self.client.local.ip();
        match self.shared.ports.bind(ip) {
            Ok(l) => {
                let port = l.port();
                self.pending = Some(Pending::Passive(l));
                Ok(port)
            }
            Err(e) => {
                tracing::warn!(session = self.client.session, cause = %e, "no passive port free");
                Err(Reply::new(425, "No passive port free, try again shortly"))
            }
        }
    }

    pub(super) async fn pasv(&mut self) -> Reply {
        if self.epsv_all {
            return Reply::new(503, "EPSV ALL in force: use EPSV");
        }
        let ip = match data::passive_ipv4(&self.shared.options.passive_host, self.client.local.ip())
            .await
        {
            Ok(ip) => ip,
            Err(e) => {
                tracing::warn!(session = self.client.session, cause = %e, "no IPv4 address for PASV");
                return Reply::new(425, "PASV needs an IPv4 address: use EPSV");
            }
        };
        match self.listen() {
            Ok(port) => Reply::new(227, data::pasv_text(ip, port)),
            Err(r) => r,
        }
    }

    pub(super) async fn epsv(&mut self, arg: Epsv) -> Reply {
        let family =
            if self.client.local.is_ipv4() || is_mapped(self.client.local.ip()) { 1 } else { 2 };
        match arg {
            Epsv::All => {
                self.epsv_all = true;
                self.pending = None;
                Reply::new(200, "EPSV ALL accepted: only EPSV from now on")
            }
            Epsv::Protocol(p) if p != family => {
                Reply::new(522, format!("Network protocol not supported, use ({family})"))
            }
            Epsv::Protocol(_) | Epsv::Any => match self.listen() {
                Ok(port) => Reply::new(229, data::epsv_text(port)),
                Err(r) => r,
            },
        }
    }

    pub(super) fn port(&mut self, target: SocketAddr, extended: bool) -> Reply {
        if self.epsv_all {
            return Reply::new(503, "EPSV ALL in force: use EPSV");
        }
        if !self.shared.options.active_mode {
            return Reply::new(502, "Active mode is off on this server: use PASV or EPSV");
        }
        if extended && !self.client.addr.is_ipv6() && target.is_ipv6() {
            return Reply::new(522, "Network protocol not supported, use (1)");
        }
        if let Err(reason) = check_active_target(self.client.addr.ip(), target) {
            return Reply::new(
                501,
                format!("{} command refused: {reason}", if extended { "EPRT" } else { "PORT" }),
            );
        }
        self.pending = Some(Pending::Active(target));
        Reply::new(200, format!("{} command successful", if extended { "EPRT" } else { "PORT" }))
    }
}

fn is_mapped(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}

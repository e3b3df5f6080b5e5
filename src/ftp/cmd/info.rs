//! Commands that only answer: FEAT and OPTS (RFC 2389), HELP, STAT (RFC 959 4.1.3), TYPE
//! (RFC 959 3.1.1), RANG (draft-bryan-ftp-range; here it sets the range of the next HASH only, so FEAT does not
//! offer `RANG STREAM`), and SITE, which the backend answers.

use super::super::command::{Opts, TransferType};
use super::super::hash::Algo;
use super::super::listing::{self, Dates, Facts};
use super::super::reply::clean;
use super::super::session::{Pending, Session};
use super::super::{Backend, Reply, SiteRequest, Storage};

/// Every verb the engine knows, for HELP.
const VERBS: &[&str] = &[
    "ABOR", "ACCT", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CLNT", "CWD", "DELE", "EPRT", "EPSV",
    "FEAT", "HASH", "HELP", "HOST", "LANG", "LIST", "MDTM", "MFMT", "MKD", "MLSD", "MLST", "MODE",
    "NLST", "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "RANG", "REIN",
    "REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "STAT", "STOR", "STOU", "STRU", "SYST",
    "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
];

impl<B: Backend> Session<B> {
    /// FEAT (RFC 2389 section 3): one feature per line, each starting with a space.
    pub(super) fn feat(&self) -> Reply {
        let mut lines = vec!["Extensions supported:".to_string()];
        if self.shared.options.tls.is_some() {
            lines.push(" AUTH TLS".into());
            lines.push(" PBSZ".into());
            lines.push(" PROT".into());
            lines.push(" CCC".into());
        }
        for f in [
            "EPRT",
            "EPSV",
            "HOST",
            "LANG EN*",
            "MDTM",
            "MFMT",
            "REST STREAM",
            "SIZE",
            "TVFS",
            "UTF8",
        ] {
            lines.push(format!(" {f}"));
        }
        lines.push(format!(" {}", self.facts.feat_line()));
        lines.push(format!(" {}", Algo::feat_line(self.hash_algo)));
        lines.push("End".into());
        Reply::multi(211, lines)
    }

    /// OPTS (RFC 2389 section 4).
    pub(super) fn opts(&mut self, opts: Opts) -> Reply {
        match opts {
            // RFC 2640 section 3.1: UTF-8 is always on; OFF is accepted and changes nothing.
            Opts::Utf8(_) => Reply::new(200, "UTF8 is always on"),
            // RFC 3659 section 7.9: unknown facts are ignored; the reply lists the active ones.
            Opts::Mlst(requested) => {
                self.facts = Facts::from_opts(&requested);
                Reply::new(200, format!("MLST OPTS {}", self.facts.opts_reply()))
            }
            Opts::Hash(None) => Reply::new(200, self.hash_algo.name()),
            Opts::Hash(Some(name)) => match Algo::parse(&name) {
                Some(a) => {
                    self.hash_algo = a;
                    Reply::new(200, a.name())
                }
                None => Reply::new(501, "Unknown algorithm: use SHA-256, SHA-1 or MD5"),
            },
            Opts::Other(what) => {
                Reply::new(501, format!("Option not understood: {}", clean(&what)))
            }
        }
    }

    /// HELP (RFC 959 4.1.3): 214 with the verbs, or one verb's status.
    pub(super) fn help(&self, topic: Option<&str>) -> Reply {
        match topic {
            Some(t) if t.eq_ignore_ascii_case("SITE") => {
                Reply::new(214, "Send SITE HELP for the SITE commands of this server")
            }
            Some(t) => {
                let t = t.trim().to_ascii_uppercase();
                if VERBS.contains(&t.as_str()) {
                    Reply::new(214, format!("{t} is supported"))
                } else {
                    Reply::new(502, format!("Unknown command {}", clean(&t)))
                }
            }
            None => {
                let mut lines = vec!["The following commands are recognized:".to_string()];
                for chunk in VERBS.chunks(12) {
                    lines.push(format!(" {}", chunk.join(" ")));
                }
                lines.push("Help OK".to_string());
                Reply::multi(214, lines)
            }
        }
    }

    /// STAT without an argument (RFC 959 4.1.3): the session's status, nothing internal.
    pub(super) fn status(&self) -> Reply {
        let mut lines = vec!["multiftp status:".to_string()];
        lines.push(format!("Connected from {}", self.client.addr.ip()));
        match self.logged_in() {
            Some(l) => lines.push(format!("Logged in as {}", clean(B::name(&l.user)))),
            None => lines.push("Not logged in".to_string()),
        }
        lines.push(format!("TYPE: {}", if self.ascii { "ASCII" } else { "BINARY" }));
        lines.push(format!(
            "Control connection: {}; data connections: {}",
            if self.control.is_tls() { "TLS" } else { "plain" },
            if self.protect_data { "TLS" } else { "plain" }
        ));
        lines.push(match &self.pending {
            None => "No data connection".to_string(),
            Some(Pending::Passive(l)) => format!("Passive mode, port {}", l.port()),
            Some(Pending::Active(a)) => format!("Active mode to {a}"),
        });
        lines.push("End of status".to_string());
        Reply::multi(211, lines)
    }

    /// STAT <path> (RFC 959 4.1.3): a LIST of the path on the control connection (213).
    pub(super) async fn stat_path(&mut self, arg: &str) -> Reply {
        let Some(l) = self.logged_in() else {
            return Reply::new(530, "Please log in with USER and PASS first");
        };
        let storage = std::sync::Arc::clone(&l.storage);
        let path = self.resolve(arg);
        let meta = match storage.stat(&path).await {
            Ok(m) => m,
            Err(e) => return Reply::new(550, clean(&e.message).into_owned()),
        };
        let mut out = Vec::new();
        let mut dates = Dates::new();
        if meta.is_dir() {
            match storage.list(&path).await {
                Ok(mut entries) => {
                    entries.sort_by(|a, b| a.name.cmp(&b.name));
                    for e in &entries {
                        listing::list_line(&mut out, &e.name, &e.meta, &mut dates);
                    }
                }
                Err(e) => return Reply::new(550, clean(&e.message).into_owned()),
            }
        } else {
            listing::list_line(&mut out, super::super::path::file_name(&path), &meta, &mut dates);
        }
        let text = String::from_utf8_lossy(&out);
        let mut lines = vec![format!("Status of {path}:")];
        lines.extend(text.lines().map(|l| format!(" {l}")));
        lines.push("End of status".to_string());
        Reply::multi(213, lines)
    }

    /// TYPE (RFC 959 3.1.1): A converts line ends, I and L 8 do not.
    pub(super) fn set_type(&mut self, t: TransferType) -> Reply {
        match t {
            TransferType::Ascii => {
                self.ascii = true;
                Reply::new(200, "Type set to A")
            }
            TransferType::Image => {
                self.ascii = false;
                Reply::new(200, "Type set to I")
            }
        }
    }

    /// RANG (draft-bryan-ftp-range): the byte range of the next HASH.
    pub(super) fn rang(&mut self, range: Option<(u64, u64)>) -> Reply {
        match range {
            None => {
                self.range = None;
                Reply::new(350, "Range reset")
            }
            Some((start, end)) if start > end => {
                Reply::new(501, "The range must start before it ends")
            }
            Some((start, end)) => {
                self.range = Some((start, end));
                Reply::new(350, format!("Restarting at {start}. Ending byte {end}."))
            }
        }
    }

    /// SITE: answered by the backend with the session's real working directory.
    pub(super) async fn site(&mut self, command: &str, args: &str) -> Reply {
        let Some(l) = self.logged_in() else {
            return Reply::new(530, "Please log in with USER and PASS first");
        };
        let request = SiteRequest { command, args, cwd: &self.cwd, client: &self.client };
        self.shared.backend.site(&l.user, request).await
    }
}

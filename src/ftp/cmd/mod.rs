//! The command handlers, grouped by what they touch: [`login`] (USER, PASS, REIN, AUTH, PBSZ,
//! PROT, CCC), [`info`] (FEAT, OPTS, STAT, HELP and the other commands that only answer),
//! [`files`] (the working directory and file operations on the control connection),
//! [`port`] (PASV, EPSV, PORT, EPRT), and the data transfers: [`retr`] (RETR, and HASH, which
//! reads a file without a data connection), [`store`] (STOR, APPE, STOU) and [`list`] (LIST,
//! NLST, MLSD) over what [`transfer`] gives them all (the data connection, ABOR, the closing
//! replies). [`Session::dispatch`] routes a parsed command to its handler.

mod files;
mod info;
mod list;
mod login;
mod port;
mod retr;
mod store;
mod transfer;

use super::Backend;
use super::command::Command;
use super::reply::Reply;
use super::session::{Flow, Session};

impl<B: Backend> Session<B> {
    /// Runs one parsed command, sending its reply (or replies).
    pub(crate) async fn dispatch(&mut self, command: Command) -> std::io::Result<Flow> {
        let verb = command.verb();
        let reply = match command {
            Command::User(name) => self.user(name),
            Command::Pass(password) => {
                let reply = self.pass(password).await;
                // 421 closes the control connection (RFC 959 section 4.2): the client connects
                // again later, through a balancer perhaps to another node.
                if reply.code == 421 {
                    self.answer(verb, reply).await?;
                    return Ok(Flow::Close);
                }
                reply
            }
            Command::Acct(_) => Reply::new(202, "ACCT not needed"),
            Command::Quit => {
                self.answer(verb, Reply::new(221, "Goodbye")).await?;
                return Ok(Flow::Close);
            }
            Command::Rein => self.rein(),
            Command::Auth(mechanism) => return self.auth(&mechanism).await,
            Command::Ccc => return self.ccc().await,
            Command::Pbsz(size) => self.pbsz(size),
            Command::Prot(level) => self.prot(level),
            Command::Host(_) => self.host(),
            Command::Noop => Reply::new(200, "NOOP ok"),
            Command::Syst => Reply::new(215, "UNIX Type: L8"),
            Command::Feat => self.feat(),
            Command::Opts(opts) => self.opts(opts),
            Command::Help(topic) => self.help(topic.as_deref()),
            Command::Stat(None) => self.status(),
            Command::Stat(Some(path)) => self.stat_path(&path).await,
            Command::Clnt(_) => Reply::new(200, "Noted"),
            Command::Lang(lang) => lang_reply(lang.as_deref()),
            Command::Allo => Reply::new(202, "ALLO not needed: space is allocated as files grow"),
            Command::Type(t) => self.set_type(t),
            Command::Mode => Reply::new(200, "Mode S (stream) in use"),
            Command::Stru => Reply::new(200, "Structure F (file) in use"),
            Command::Rest(offset) => {
                self.rest = offset;
                Reply::new(350, format!("Restarting at {offset}: send STOR, APPE or RETR"))
            }
            Command::Abor => {
                // No transfer is running (one that runs is aborted inside the transfer loop):
                // RFC 959 4.1.3, "no action, 226".
                self.pending = None;
                Reply::new(226, "No transfer to abort")
            }
            Command::Pwd => Reply::path(257, &self.cwd, "is the current directory"),
            Command::Cwd(path) => self.cwd(&path).await,
            Command::Cdup => self.cwd("..").await,
            Command::Mkd(path) => self.mkd(&path).await,
            Command::Rmd(path) => self.rmd(&path).await,
            Command::Dele(path) => self.dele(&path).await,
            Command::Rnfr(path) => self.rnfr(&path).await,
            Command::Rnto(path) => self.rnto(&path).await,
            Command::Size(path) => self.size(&path).await,
            Command::Mdtm(path) => self.mdtm(&path).await,
            Command::Mfmt { modified, path } => self.mfmt(modified, &path).await,
            Command::Mlst(path) => self.mlst(path.as_deref()).await,
            Command::Site { command, args } => self.site(&command, &args).await,
            Command::Pasv => self.pasv().await,
            Command::Epsv(arg) => self.epsv(arg).await,
            Command::Port(addr) => self.port(addr, false),
            Command::Eprt(addr) => self.port(addr, true),
            Command::Rang(range) => self.rang(range),
            Command::Retr(path) => return self.retr(&path).await,
            Command::Stor(path) => return self.store_cmd(verb, Some(path), StoreKind::Stor).await,
            Command::Appe(path) => return self.store_cmd(verb, Some(path), StoreKind::Appe).await,
            Command::Stou(path) => return self.store_cmd(verb, path, StoreKind::Stou).await,
            Command::List(path) => return self.listing(verb, path, ListKind::List).await,
            Command::Nlst(path) => return self.listing(verb, path, ListKind::Nlst).await,
            Command::Mlsd(path) => return self.listing(verb, path, ListKind::Mlsd).await,
            Command::Hash(path) => self.hash(&path).await,
        };
        self.answer(verb, reply).await?;
        Ok(Flow::Continue)
    }
}

/// Which listing a data command sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// `ls -l` lines.
    List,
    /// Names only.
    Nlst,
    /// RFC 3659 facts.
    Mlsd,
}

/// Which upload command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// STOR.
    Stor,
    /// APPE.
    Appe,
    /// STOU.
    Stou,
}

fn lang_reply(lang: Option<&str>) -> Reply {
    match lang {
        None => Reply::new(200, "Using the default language EN"),
        Some(l) if l.eq_ignore_ascii_case("EN") || l.to_ascii_uppercase().starts_with("EN-") => {
            Reply::new(200, "Using EN")
        }
        Some(_) => Reply::new(504, "Only EN is available"),
    }
}

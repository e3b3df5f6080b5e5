//! `ftpadm cert ...`: TLS certificates for FTPS. Needs no database.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;

use crate::output::Output;
use crate::owner::lookup_owner;

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Write a self-signed certificate and key (PEM) for trying FTPS; clients will warn that it
    /// is not trusted. Use a certificate from a real CA in production.
    SelfSigned {
        /// Host name (or IP) clients connect to; goes in the certificate's subject alt names.
        #[arg(long, value_name = "NAME")]
        host: String,
        /// Folder to write cert.pem and key.pem into.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out_dir: PathBuf,
        /// Give both files to this user and their group (a name from /etc/passwd, or
        /// UID[:GID]), e.g. the daemon's service user, which must read the key (0600). Needs
        /// root.
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
    },
}

impl CertCommand {
    /// Runs the command.
    pub fn run(self, out: &mut Output<impl Write>) -> Result<()> {
        match self {
            CertCommand::SelfSigned { host, out_dir, owner } => {
                let (cert, key) = self_signed(&host, &out_dir, owner.as_deref())?;
                let text = format!(
                    "wrote {} and {}\nstart the daemon with: multiftpd --tls-cert {} --tls-key {}",
                    cert.display(),
                    key.display(),
                    cert.display(),
                    key.display()
                );
                out.done(text, json!({"cert": cert, "key": key}))
            }
        }
    }
}

/// Writes `cert.pem` and `key.pem` (mode 0600) for `host` into `dir`, refusing to overwrite;
/// with `owner`, gives both to that user (and removes them again if that fails). Returns the
/// two paths.
fn self_signed(host: &str, dir: &Path, owner: Option<&str>) -> Result<(PathBuf, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    // The owner is looked up first: a wrong name writes nothing.
    let owner = owner.map(lookup_owner).transpose()?;
    let pair = rcgen::generate_simple_self_signed(vec![host.to_string()])
        .with_context(|| format!("cannot make a certificate for '{host}'"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let mut written = Vec::new();
    for (path, pem, mode) in
        [(&cert_path, pair.cert.pem(), 0o644), (&key_path, pair.signing_key.serialize_pem(), 0o600)]
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .with_context(|| format!("cannot write {} (it must not exist yet)", path.display()))?;
        written.push(path.clone());
        let done = f.write_all(pem.as_bytes()).context("writing").and_then(|()| match owner {
            Some((uid, gid)) => std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                .with_context(|| format!("cannot give it to uid {uid} (run ftpadm as root)")),
            None => Ok(()),
        });
        if let Err(e) = done {
            // Half a pair is worse than none: the next run would refuse to overwrite it.
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.context(format!("{} not written", path.display())));
        }
    }
    Ok((cert_path, key_path))
}

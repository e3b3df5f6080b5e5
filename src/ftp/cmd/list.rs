//! The listing commands: LIST, NLST (RFC 959 4.1.3) and MLSD (RFC 3659 section 7). The listing
//! is formatted first (on a blocking thread when long), then sent whole over the data
//! connection.

use std::time::Instant;

use tokio::io::AsyncWriteExt;

use super::super::listing::{self, Dates};
use super::super::session::{Flow, Session};
use super::super::{Backend, Entry, ErrorKind, Reply, Storage, StorageError};
use super::ListKind;
use super::files::error_reply;
use super::transfer::{DataConn, close_tls};

/// Listings longer than this are formatted on a blocking thread.
const BIG_LISTING: usize = 2000;

impl<B: Backend> Session<B> {
    /// LIST, NLST and MLSD.
    pub(super) async fn listing(
        &mut self,
        verb: &'static str,
        arg: Option<String>,
        kind: ListKind,
    ) -> std::io::Result<Flow> {
        let Some((storage, _)) = self.begin_transfer(verb).await? else {
            return Ok(Flow::Continue);
        };
        let path = match arg.as_deref() {
            Some(a) => self.resolve(a),
            None => self.cwd.clone(),
        };
        let entries = match self.entries(&*storage, &path, kind).await {
            Ok(e) => e,
            Err(r) => return self.refuse_transfer(verb, r).await,
        };
        let facts = self.facts;
        let text = if entries.len() > BIG_LISTING {
            tokio::task::spawn_blocking(move || format_listing(&entries, kind, facts))
                .await
                .map_err(|_| std::io::Error::other("listing task failed"))?
        } else {
            format_listing(&entries, kind, facts)
        };
        let opening = Reply::new(150, "Here comes the directory listing");
        let Some(conn) = self.connect_data(verb, opening).await? else {
            return Ok(Flow::Continue);
        };
        let started = Instant::now();
        let timeout = self.data_timeout();
        let outcome = self
            .watch(async move {
                let sent = async {
                    match conn {
                        DataConn::Plain(mut tcp) => {
                            tcp.write_all(&text).await?;
                            tcp.shutdown().await?;
                        }
                        DataConn::Tls(mut s) => {
                            s.write_all(&text).await?;
                            close_tls(&mut s, true).await?;
                        }
                    }
                    Ok::<u64, std::io::Error>(text.len() as u64)
                };
                match tokio::time::timeout(timeout, sent).await {
                    Ok(r) => r.map_err(StorageError::from),
                    Err(_) => {
                        Err(StorageError::new(ErrorKind::ConnectionLost, "data connection stalled"))
                    }
                }
            })
            .await?;
        self.finish(verb, &path, None, started, outcome).await
    }

    /// The entries a listing shows: a folder's content, or the one file named.
    async fn entries(
        &self,
        storage: &B::Storage,
        path: &str,
        kind: ListKind,
    ) -> Result<Vec<Entry>, Reply> {
        let meta = storage.stat(path).await.map_err(|e| error_reply(&e))?;
        if !meta.is_dir() {
            if kind == ListKind::Mlsd {
                // RFC 3659 7.1: MLSD of a file is an error; MLST describes one entry.
                return Err(Reply::new(501, "Not a folder: use MLST for a file"));
            }
            let name = super::super::path::file_name(path).to_string();
            return Ok(vec![Entry { name, meta }]);
        }
        let mut entries = storage.list(path).await.map_err(|e| error_reply(&e))?;
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}

/// Formats a listing for the data connection.
fn format_listing(entries: &[Entry], kind: ListKind, facts: listing::Facts) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * if kind == ListKind::Nlst { 24 } else { 80 });
    let mut dates = Dates::new();
    for e in entries {
        match kind {
            ListKind::List => listing::list_line(&mut out, &e.name, &e.meta, &mut dates),
            ListKind::Nlst => listing::nlst_line(&mut out, &e.name),
            ListKind::Mlsd => listing::mlsx_line(&mut out, &e.name, &e.meta, facts, None),
        }
    }
    out
}

//! The commands that read a file: RETR (RFC 959 4.1.3), from the REST offset (RFC 3659
//! section 5), and HASH (draft-bryan-ftpext-hash-02), which digests a file, or its RANG range,
//! without a data connection.

use super::super::hash::Hasher;
use super::super::session::{Flow, Session};
use super::super::{Backend, Data, FileKind, Reply, Storage};
use super::files::error_reply;
use super::transfer::Op;

impl<B: Backend> Session<B> {
    /// RETR (RFC 959 4.1.3), from the REST offset.
    pub(super) async fn retr(&mut self, arg: &str) -> std::io::Result<Flow> {
        let Some((storage, offset)) = self.begin_transfer("RETR").await? else {
            return Ok(Flow::Continue);
        };
        let path = self.resolve(arg);
        let meta = match storage.stat(&path).await {
            Ok(m) if m.kind == FileKind::Dir => {
                return self.refuse_transfer("RETR", Reply::new(550, "Not a plain file")).await;
            }
            Ok(m) => m,
            Err(e) => return self.refuse_transfer("RETR", error_reply(&e)).await,
        };
        let mode = if self.ascii { "ASCII" } else { "BINARY" };
        let name = super::super::path::file_name(&path).to_string();
        let opening = Reply::new(
            150,
            format!("Opening {mode} mode data connection for {name} ({} bytes)", meta.len),
        );
        let Some(conn) = self.connect_data("RETR", opening).await? else {
            return Ok(Flow::Continue);
        };
        self.transfer_file("RETR", storage, path, Op::Retrieve { offset }, conn, || true).await
    }

    /// HASH (draft-bryan-ftpext-hash-02 section 3): the digest of a file or of the RANG range.
    pub(super) async fn hash(&mut self, arg: &str) -> Reply {
        let range = self.range.take();
        let Some(storage) = self.storage() else { return super::files::not_logged_in() };
        let path = self.resolve(arg);
        let meta = match storage.stat(&path).await {
            Ok(m) if m.is_dir() => return Reply::new(550, "Not a plain file"),
            Ok(m) => m,
            Err(e) => return error_reply(&e),
        };
        let (start, end) = match range {
            Some((s, e)) => (s, e.min(meta.len.saturating_sub(1))),
            None => (0, meta.len.saturating_sub(1)),
        };
        let limit = if meta.len == 0 { 0 } else { end.saturating_sub(start) + 1 };
        let mut hasher = Hasher::new(self.hash_algo, Some(limit));
        if limit > 0
            && let Err(e) = storage.retrieve(&path, start, Data::Stream(&mut hasher)).await
        {
            return error_reply(&e);
        }
        let digest = hasher.finish();
        Reply::new(
            213,
            format!(
                "{} {start}-{end} {digest} {}",
                self.hash_algo.name(),
                super::super::reply::clean(&path)
            ),
        )
    }
}

//! `SITE SHARES`: a multi-line 200 reply listing what you share (path, with whom) and what is
//! shared with you (owner, path, and where it appears). Any logged-in user may run it.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply};
use crate::account::LoggedIn;
use crate::share::Shares;

/// The handler.
#[derive(Debug)]
pub struct List {
    /// The share service.
    pub shares: Shares,
}

#[async_trait]
impl SiteHandler for List {
    async fn handle(&self, user: &LoggedIn, _req: &SiteRequest<'_>) -> Reply {
        let rows = match self.shares.list(Some(&user.username)).await {
            Ok(rows) => rows,
            Err(e) => return error_reply(&e),
        };
        let (mine, theirs): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|r| r.owner == user.username);
        let mut lines = vec![format!("You share {} item(s):", mine.len())];
        lines.extend(mine.iter().map(|r| format!("  {}  with {}", r.path, r.recipient)));
        lines.push(format!("Shared with you, {} item(s):", theirs.len()));
        lines.extend(
            theirs.iter().map(|r| {
                format!("  {}  from {}  at /shared/{}{}", r.path, r.owner, r.owner, r.path)
            }),
        );
        lines.push("End of shares".to_string());
        Reply::multi(200, lines)
    }
}

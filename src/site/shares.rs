//! `SITE SHARES`: a multi-line 200 reply listing what you share (path, with whom) and what is
//! shared with you (owner, path, and where it appears). Any logged-in user may run it;
//! arguments are ignored.

use async_trait::async_trait;

use super::{Call, SiteCommand, Syntax};
use crate::error::Result;
use crate::ftp::Reply;

/// `SITE SHARES`.
#[derive(Debug)]
pub(super) struct Shares {
    pub(super) shares: crate::share::Shares,
}

#[async_trait]
impl SiteCommand for Shares {
    const NAME: &'static str = "SHARES";
    const SYNTAX: &'static [Syntax] =
        &[Syntax { args: "", summary: "what you share, and what is shared with you" }];
    type Request<'a> = ();

    fn parse(_args: &str) -> Option<()> {
        Some(())
    }

    async fn run(&self, (): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let me = &call.user.username;
        let rows = self.shares.list(Some(me)).await?;
        let (mine, theirs): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.owner == *me);
        let mut lines = vec![format!("You share {} item(s):", mine.len())];
        lines.extend(mine.iter().map(|r| format!("  {}  with {}", r.path, r.recipient)));
        lines.push(format!("Shared with you, {} item(s):", theirs.len()));
        lines.extend(
            theirs.iter().map(|r| {
                format!("  {}  from {}  at /shared/{}{}", r.path, r.owner, r.owner, r.path)
            }),
        );
        lines.push("End of shares".to_string());
        Ok(Reply::multi(200, lines))
    }
}

//! `SITE SHARE <user> <path>` and `SITE UNSHARE <user> <path>`: grant or revoke another user's
//! read access to a file or folder of your home. The path is the last argument and may contain
//! spaces; a relative path is taken from the current directory. Any logged-in user may run it;
//! 200 on success, 501 on bad syntax, 550 when refused (yourself, unknown or disabled user,
//! missing path, a path under /shared).

use async_trait::async_trait;

use super::{Call, SiteCommand, Syntax, ok, resolve_path, split_word};
use crate::error::Result;
use crate::ftp::Reply;
use crate::share::Shares;

/// `SITE SHARE`.
#[derive(Debug)]
pub(super) struct Share {
    pub(super) shares: Shares,
}

/// `SITE UNSHARE`.
#[derive(Debug)]
pub(super) struct Unshare {
    pub(super) shares: Shares,
}

#[async_trait]
impl SiteCommand for Share {
    const NAME: &'static str = "SHARE";
    const SYNTAX: &'static [Syntax] = &[Syntax {
        args: "<user> <path>",
        summary: "share a file or folder of your home with <user>",
    }];
    /// The recipient and the path as given (the rest of the line).
    type Request<'a> = (&'a str, &'a str);

    fn parse(args: &str) -> Option<(&str, &str)> {
        split_word(args)
    }

    async fn run(&self, (recipient, path): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let me = &call.user.username;
        let path = resolve_path(call.cwd, path);
        Ok(match self.shares.grant(me, &path, recipient).await? {
            (p, true) => ok(format!("Shared {p} with {recipient}; they see it as /shared/{me}{p}")),
            (p, false) => ok(format!("{p} was already shared with {recipient}")),
        })
    }
}

#[async_trait]
impl SiteCommand for Unshare {
    const NAME: &'static str = "UNSHARE";
    const SYNTAX: &'static [Syntax] =
        &[Syntax { args: "<user> <path>", summary: "revoke a share" }];
    /// The recipient and the path as given (the rest of the line).
    type Request<'a> = (&'a str, &'a str);

    fn parse(args: &str) -> Option<(&str, &str)> {
        split_word(args)
    }

    async fn run(&self, (recipient, path): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let path = resolve_path(call.cwd, path);
        let p = self.shares.revoke(&call.user.username, &path, recipient).await?;
        Ok(ok(format!("No longer sharing {p} with {recipient}")))
    }
}

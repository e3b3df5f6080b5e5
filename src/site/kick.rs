//! `SITE KICK <user>`: ends every open session of `<user>`, in every daemon on this database,
//! without disabling the account (the same as `ftpadm kick`). Each session gets `530` at its
//! next command, at most [`ACCESS_RECHECK`](crate::account::ACCESS_RECHECK) after the kick; the
//! user may log in again (disable the account to keep them out). Admins only, checked in the
//! database at each use; 200, 501 on bad syntax, 550 for non-admins and unknown users.

use async_trait::async_trait;

use super::{Audience, Call, SiteCommand, Syntax, ok};
use crate::account::{ACCESS_RECHECK, Accounts, validate_username};
use crate::error::Result;
use crate::ftp::Reply;

/// `SITE KICK`.
#[derive(Debug)]
pub(super) struct Kick {
    pub(super) accounts: Accounts,
}

#[async_trait]
impl SiteCommand for Kick {
    const NAME: &'static str = "KICK";
    const SYNTAX: &'static [Syntax] = &[Syntax {
        args: "<user>",
        summary: "end <user>'s sessions on every server (they may log in again)",
    }];
    const AUDIENCE: Audience = Audience::Admins;
    type Request<'a> = &'a str;

    /// Exactly one word.
    fn parse(args: &str) -> Option<&str> {
        let name = args.trim();
        (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
    }

    async fn run(&self, name: Self::Request<'_>, _call: &Call<'_>) -> Result<Reply> {
        validate_username(name)?;
        self.accounts.kick(name).await?;
        Ok(ok(format!(
            "Sessions of {name} end at their next command (within {} s)",
            ACCESS_RECHECK.as_secs()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_one_name() {
        assert_eq!(Kick::parse(" alice "), Some("alice"));
        assert_eq!(Kick::parse(""), None);
        assert_eq!(Kick::parse("a b"), None);
    }
}

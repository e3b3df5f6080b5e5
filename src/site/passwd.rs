//! `SITE PASSWD <current> <new>`: change your own password. The current password must match
//! and the new one pass the policy (at least 8 characters); new logins need the new password at
//! once. Passwords cannot contain spaces here (FTP arguments are space-separated). Neither is
//! ever logged or echoed. Any logged-in user; 200, 501 on bad syntax, 550 when refused.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, usage};
use crate::account::Accounts;
use crate::auth::FtpUser;

/// The handler.
#[derive(Debug)]
pub struct Passwd {
    /// The account service.
    pub accounts: Accounts,
}

/// Parses `<current> <new>`: exactly two words.
pub fn parse(args: &str) -> Option<(&str, &str)> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(current), Some(new), None) => Some((current, new)),
        _ => None,
    }
}

#[async_trait]
impl SiteHandler for Passwd {
    async fn handle(&self, me: &FtpUser, req: &SiteRequest<'_>) -> Reply {
        let Some((current, new)) = parse(req.args) else {
            return usage("PASSWD <current> <new>");
        };
        match self.accounts.change_own_password(&me.username, current, new).await {
            Ok(()) => ok("Password changed; use the new one from your next login".into()),
            Err(e) => error_reply(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_needs_exactly_two_words() {
        assert_eq!(parse("old1pass new2pass"), Some(("old1pass", "new2pass")));
        assert_eq!(parse("  a   b  "), Some(("a", "b")));
        assert_eq!(parse("only"), None);
        assert_eq!(parse("a b c"), None);
        assert_eq!(parse(""), None);
    }
}

//! `SITE PROFILE [<user>]` shows your profile or another user's public profile (username, full
//! name, email, bio, role, member since, last login) as a multi-line 200 reply.
//! `SITE SETPROFILE <field> <value>` changes your own `full_name`, `email` or `bio` (the value
//! is the rest of the line and may hold spaces). Any logged-in user; 501 on bad syntax, 550 for
//! an unknown user, field or invalid value.

use async_trait::async_trait;
use libunftp::options::{Reply, ReplyCode, SiteCommandHandler};

use super::{Ctx, error_reply, ok, one_line, split_word, usage, user};
use crate::account::{Account, Accounts};
use crate::auth::FtpUser;
use crate::storage::UserStorage;

/// `SITE PROFILE`.
#[derive(Debug)]
pub struct Show {
    /// The account service.
    pub accounts: Accounts,
}

/// `SITE SETPROFILE`.
#[derive(Debug)]
pub struct Set {
    /// The account service.
    pub accounts: Accounts,
}

/// Parses `SITE PROFILE` arguments: nothing (yourself) or one username.
pub fn parse_show(args: &str) -> Option<Option<&str>> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => Some(None),
        (Some(name), None) => Some(Some(name)),
        _ => None,
    }
}

/// The lines of a profile listing.
pub fn profile_lines(a: &Account) -> Vec<String> {
    vec![
        format!("Profile of {}", a.username),
        format!("  username:     {}", a.username),
        format!("  full name:    {}", one_line(&a.full_name)),
        format!("  email:        {}", a.email),
        format!("  bio:          {}", one_line(&a.bio)),
        format!("  role:         {}", a.role.as_str()),
        format!("  member since: {}", a.created_at),
        format!("  last login:   {}", a.last_login_at.as_deref().unwrap_or("never")),
        "End of profile".to_string(),
    ]
}

#[async_trait]
impl SiteCommandHandler<UserStorage, FtpUser> for Show {
    async fn handle(&self, ctx: &Ctx) -> Reply {
        let me = match user(ctx) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let Some(who) = parse_show(&ctx.arguments) else {
            return usage("PROFILE [<user>]");
        };
        match self.accounts.get(who.unwrap_or(&me.username)).await {
            Ok(account) => Reply::new_multiline(ReplyCode::CommandOkay, profile_lines(&account)),
            Err(e) => error_reply(&e),
        }
    }
}

#[async_trait]
impl SiteCommandHandler<UserStorage, FtpUser> for Set {
    async fn handle(&self, ctx: &Ctx) -> Reply {
        let me = match user(ctx) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let Some((field, value)) = split_word(&ctx.arguments) else {
            return usage("SETPROFILE <full_name|email|bio> <value>");
        };
        match self.accounts.set_profile_field(&me.username, field, value).await {
            Ok(_) => ok(format!("{} updated", field.to_ascii_lowercase())),
            Err(e) => error_reply(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_show_takes_zero_or_one_name() {
        assert_eq!(parse_show(""), Some(None));
        assert_eq!(parse_show("  bob "), Some(Some("bob")));
        assert_eq!(parse_show("bob alice"), None);
    }
}

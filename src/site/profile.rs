//! `SITE PROFILE [<user>]` shows your profile or another user's public profile (username, full
//! name, email, bio, role, member since, last login) as a multi-line 200 reply.
//! `SITE SETPROFILE <field> <value>` changes your own `full_name`, `email` or `bio` (the value
//! is the rest of the line and may hold spaces). Any logged-in user; 501 on bad syntax, 550 for
//! an unknown user, field or invalid value.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, one_line, split_word, usage};
use crate::account::{Account, Accounts};
use crate::auth::FtpUser;

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
impl SiteHandler for Show {
    async fn handle(&self, me: &FtpUser, req: &SiteRequest<'_>) -> Reply {
        let Some(who) = parse_show(req.args) else {
            return usage("PROFILE [<user>]");
        };
        match self.accounts.get(who.unwrap_or(&me.username)).await {
            Ok(account) => Reply::multi(200, profile_lines(&account)),
            Err(e) => error_reply(&e),
        }
    }
}

#[async_trait]
impl SiteHandler for Set {
    async fn handle(&self, me: &FtpUser, req: &SiteRequest<'_>) -> Reply {
        let Some((field, value)) = split_word(req.args) else {
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

//! `SITE PROFILE [<user>]` shows your profile or another user's public profile (username, full
//! name, email, bio, role, member since, last login) as a multi-line 200 reply. The email is
//! private unless its owner made it public: others see `(private)`, only the user and admins
//! see the address.
//! `SITE SETPROFILE <field> <value>` changes your own `full_name`, `email`, `bio` or
//! `email_public` (`yes`/`no`; the value is the rest of the line and may hold spaces). Any
//! logged-in user; 501 on bad syntax, 550 for an unknown user, field or invalid value.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, one_line, split_word, usage};
use crate::account::LoggedIn;
use crate::account::{Account, Accounts};

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

/// The lines of a profile listing; `full` for the user themselves and admins (the email, and
/// whether it is public), otherwise the email only if it is public.
pub fn profile_lines(a: &Account, full: bool) -> Vec<String> {
    let email = if full || a.email_public { a.email.as_str() } else { "(private)" };
    let mut lines = vec![
        format!("Profile of {}", a.username),
        format!("  username:     {}", a.username),
        format!("  full name:    {}", one_line(&a.full_name)),
        format!("  email:        {email}"),
    ];
    if full {
        let public = if a.email_public { "yes" } else { "no" };
        lines.push(format!("  email public: {public}"));
    }
    lines.extend([
        format!("  bio:          {}", one_line(&a.bio)),
        format!("  role:         {}", a.role.as_str()),
        format!("  member since: {}", a.created_at),
        format!("  last login:   {}", a.last_login_at.as_deref().unwrap_or("never")),
        "End of profile".to_string(),
    ]);
    lines
}

#[async_trait]
impl SiteHandler for Show {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        let Some(who) = parse_show(req.args) else {
            return usage("PROFILE [<user>]");
        };
        let account = match self.accounts.get(who.unwrap_or(&me.username)).await {
            Ok(account) => account,
            Err(e) => return error_reply(&e),
        };
        // The admin check reads the current role, so a demoted admin stops seeing addresses.
        let full = account.username == me.username
            || match self.accounts.is_admin(&me.username).await {
                Ok(admin) => admin,
                Err(e) => return error_reply(&e),
            };
        Reply::multi(200, profile_lines(&account, full))
    }
}

#[async_trait]
impl SiteHandler for Set {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        let Some((field, value)) = split_word(req.args) else {
            return usage("SETPROFILE <full_name|email|bio|email_public> <value>");
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

//! `SITE PROFILE [<user>]` shows your profile or another user's public profile (username, full
//! name, email, bio, role, member since, last login) as a multi-line 200 reply. The email is
//! private unless its owner made it public: others see `(private)`, only the user and admins
//! see the address.
//! `SITE SETPROFILE <field> <value>` changes your own `full_name`, `email`, `bio` or
//! `email_public` (`yes`/`no`; the value is the rest of the line and may hold spaces). Any
//! logged-in user; 501 on bad syntax, 550 for an unknown user, field or invalid value.

use async_trait::async_trait;

use super::{Call, SiteCommand, Syntax, ok, one_line, split_word};
use crate::account::{Account, Accounts};
use crate::error::Result;
use crate::ftp::Reply;

/// `SITE PROFILE`.
#[derive(Debug)]
pub(super) struct Profile {
    pub(super) accounts: Accounts,
}

/// `SITE SETPROFILE`.
#[derive(Debug)]
pub(super) struct SetProfile {
    pub(super) accounts: Accounts,
}

/// Parses `SITE PROFILE` arguments: nothing (yourself) or one username.
fn parse_show(args: &str) -> Option<Option<&str>> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => Some(None),
        (Some(name), None) => Some(Some(name)),
        _ => None,
    }
}

/// The lines of a profile listing; `full` for the user themselves and admins (the email, and
/// whether it is public), otherwise the email only if it is public.
fn profile_lines(a: &Account, full: bool) -> Vec<String> {
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
impl SiteCommand for Profile {
    const NAME: &'static str = "PROFILE";
    const SYNTAX: &'static [Syntax] = &[Syntax { args: "[<user>]", summary: "show a profile" }];
    /// Whose profile: `None` for the caller's.
    type Request<'a> = Option<&'a str>;

    fn parse(args: &str) -> Option<Option<&str>> {
        parse_show(args)
    }

    async fn run(&self, who: Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let me = &call.user.username;
        let account = self.accounts.get(who.unwrap_or(me)).await?;
        // The admin check reads the current role, so a demoted admin stops seeing addresses.
        let full = account.username == *me || call.is_admin().await?;
        Ok(Reply::multi(200, profile_lines(&account, full)))
    }
}

#[async_trait]
impl SiteCommand for SetProfile {
    const NAME: &'static str = "SETPROFILE";
    const SYNTAX: &'static [Syntax] = &[Syntax {
        args: "<field> <value>",
        summary: "set your full_name, email, bio or email_public (yes/no)",
    }];
    /// The field and its value (the rest of the line).
    type Request<'a> = (&'a str, &'a str);

    fn parse(args: &str) -> Option<(&str, &str)> {
        split_word(args)
    }

    async fn run(&self, (field, value): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        self.accounts.set_profile_field(&call.user.username, field, value).await?;
        Ok(ok(format!("{} updated", field.to_ascii_lowercase())))
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

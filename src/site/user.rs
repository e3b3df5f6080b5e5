//! `SITE USER ...`: user management over FTP for admins, with the same rules and results as
//! `ftpadm` (it calls the same service functions):
//!
//! - `SITE USER LIST`
//! - `SITE USER ADD <name> <password> [admin]`
//! - `SITE USER DEL <name>` (keeps the user's files, like `ftpadm user delete`; never the
//!   caller's own account, so an admin cannot lock themselves out by a typo)
//! - `SITE USER SET <name> <field> <value>`, field one of full_name, email, bio, role
//!   (admin|user), enabled (yes|no), password
//!
//! The caller's role is read from the database at each command, so a demoted admin loses these
//! at once. 200 on success, 501 on bad syntax, 550 for non-admins and refusals (including
//! deleting or demoting the last admin).

use async_trait::async_trait;

use super::{Audience, Call, SiteCommand, Syntax, ok, one_line};
use crate::account::{AccountChanges, Accounts, NewAccount, Role, parse_yes_no};
use crate::error::{Error, Result};
use crate::ftp::Reply;

/// `SITE USER`.
#[derive(Debug)]
pub(super) struct User {
    pub(super) accounts: Accounts,
}

/// A parsed `SITE USER` command.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum UserCmd<'a> {
    /// `LIST`.
    List,
    /// `ADD <name> <password> [admin]`.
    Add {
        name: &'a str,
        password: &'a str,
        /// `admin` given: the new user is an admin.
        admin: bool,
    },
    /// `DEL <name>`.
    Del { name: &'a str },
    /// `SET <name> <field> <value>`.
    Set {
        name: &'a str,
        field: &'a str,
        /// The rest of the line, spaces inside kept.
        value: &'a str,
    },
}

/// Parses the arguments of `SITE USER`.
fn parse(args: &str) -> Option<UserCmd<'_>> {
    let args = args.trim();
    let (verb, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let words: Vec<&str> = rest.split_whitespace().collect();
    match (verb.to_ascii_uppercase().as_str(), words.as_slice()) {
        ("LIST", []) => Some(UserCmd::List),
        ("ADD", [name, password]) => Some(UserCmd::Add { name, password, admin: false }),
        ("ADD", [name, password, flag]) if flag.eq_ignore_ascii_case("admin") => {
            Some(UserCmd::Add { name, password, admin: true })
        }
        ("DEL", [name]) => Some(UserCmd::Del { name }),
        ("SET", [name, field, _, ..]) => {
            // The value is everything after the field, spaces included.
            let after_name = rest.trim_start()[name.len()..].trim_start();
            let value = after_name[field.len()..].trim();
            Some(UserCmd::Set { name, field, value })
        }
        _ => None,
    }
}

#[async_trait]
impl SiteCommand for User {
    const NAME: &'static str = "USER";
    const SYNTAX: &'static [Syntax] = &[
        Syntax { args: "LIST", summary: "list users" },
        Syntax { args: "ADD <name> <password> [admin]", summary: "add a user" },
        Syntax { args: "DEL <name>", summary: "delete a user (files kept)" },
        Syntax {
            args: "SET <name> <field> <value>",
            summary: "set full_name, email, bio, role, enabled or password",
        },
    ];
    const AUDIENCE: Audience = Audience::Admins;
    type Request<'a> = UserCmd<'a>;

    fn parse(args: &str) -> Option<UserCmd<'_>> {
        parse(args)
    }

    async fn run(&self, cmd: Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        match cmd {
            UserCmd::List => {
                let users = self.accounts.list().await?;
                let mut lines = vec![format!("{} user(s):", users.len())];
                lines.extend(users.iter().map(|u| {
                    format!(
                        "  {:<20} {:<6} {:<9} {} <{}>",
                        u.username,
                        u.role.as_str(),
                        if u.enabled { "enabled" } else { "disabled" },
                        one_line(&u.full_name),
                        u.email
                    )
                }));
                lines.push("End of list".into());
                Ok(Reply::multi(200, lines))
            }
            UserCmd::Add { name, password, admin } => {
                let account = self
                    .accounts
                    .add(NewAccount {
                        username: name.into(),
                        password: password.into(),
                        role: if admin { Role::Admin } else { Role::User },
                        enabled: true,
                        full_name: String::new(),
                        email: String::new(),
                    })
                    .await?;
                Ok(ok(format!("User {} added ({})", account.username, account.role.as_str())))
            }
            UserCmd::Del { name } => {
                if name == call.user.username {
                    return Err(Error::Forbidden(
                        "you cannot delete your own account: ask another admin, or use ftpadm"
                            .into(),
                    ));
                }
                self.accounts.delete(name, false).await?;
                Ok(ok(format!("User {name} deleted; their files are kept")))
            }
            UserCmd::Set { name, field, value } => {
                let changes = match field.to_ascii_lowercase().as_str() {
                    "password" => {
                        self.accounts.set_password(name, value.to_string()).await?;
                        return Ok(ok(format!("Password of {name} changed")));
                    }
                    "role" => {
                        AccountChanges { role: Some(Role::parse(value)?), ..Default::default() }
                    }
                    "enabled" => {
                        AccountChanges { enabled: Some(parse_yes_no(value)?), ..Default::default() }
                    }
                    // A profile field, or none the service knows: then the error lists what
                    // an admin may set, which is more than the user's own profile fields.
                    _ => match self.accounts.set_profile_field(name, field, value).await {
                        Ok(_) => return Ok(ok(format!("{field} of {name} updated"))),
                        Err(Error::UnknownField { .. }) => {
                            return Err(Error::UnknownField {
                                what: "field",
                                name: field.to_string(),
                                expected: "full_name, email, bio, role, enabled or password",
                            });
                        }
                        Err(e) => return Err(e),
                    },
                };
                self.accounts.update(name, changes).await?;
                Ok(ok(format!("{field} of {name} updated")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        assert_eq!(parse("list"), Some(UserCmd::List));
        assert_eq!(parse("LIST extra"), None);
        assert_eq!(
            parse("ADD eve secret123"),
            Some(UserCmd::Add { name: "eve", password: "secret123", admin: false })
        );
        assert_eq!(
            parse("add eve secret123 ADMIN"),
            Some(UserCmd::Add { name: "eve", password: "secret123", admin: true })
        );
        assert_eq!(parse("ADD eve secret123 root"), None);
        assert_eq!(parse("ADD eve"), None);
        assert_eq!(parse("DEL eve"), Some(UserCmd::Del { name: "eve" }));
        assert_eq!(parse("DEL"), None);
        assert_eq!(
            parse("SET eve full_name Eve  van Dijk "),
            Some(UserCmd::Set { name: "eve", field: "full_name", value: "Eve  van Dijk" })
        );
        assert_eq!(parse("SET eve role"), None);
        assert_eq!(parse("FROB"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn booleans() {
        assert!(parse_yes_no("YES").unwrap());
        assert!(!parse_yes_no("no").unwrap());
        assert!(parse_yes_no("maybe").is_err());
    }
}

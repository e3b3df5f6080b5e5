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

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, one_line, usage};
use crate::account::LoggedIn;
use crate::account::{AccountChanges, Accounts, NewAccount, Role};
use crate::error::{Error, Result};

/// The handler.
#[derive(Debug)]
pub struct User {
    /// The account service.
    pub accounts: Accounts,
}

/// A parsed `SITE USER` command.
#[derive(Debug, PartialEq, Eq)]
pub enum UserCmd<'a> {
    /// `LIST`.
    List,
    /// `ADD <name> <password> [admin]`.
    Add {
        /// Username.
        name: &'a str,
        /// Password.
        password: &'a str,
        /// Make an admin.
        admin: bool,
    },
    /// `DEL <name>`.
    Del {
        /// Username.
        name: &'a str,
    },
    /// `SET <name> <field> <value>`.
    Set {
        /// Username.
        name: &'a str,
        /// Field.
        field: &'a str,
        /// Value (rest of the line).
        value: &'a str,
    },
}

const SYNTAX: &str =
    "USER LIST | ADD <name> <password> [admin] | DEL <name> | SET <name> <field> <value>";

/// Parses the arguments of `SITE USER`.
pub fn parse(args: &str) -> Option<UserCmd<'_>> {
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

fn parse_bool(value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" => Ok(true),
        "no" | "false" | "0" | "off" => Ok(false),
        _ => Err(Error::InvalidInput(format!("invalid value '{value}': use yes or no"))),
    }
}

impl User {
    async fn run(&self, me: &LoggedIn, cmd: UserCmd<'_>) -> Result<Reply> {
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
                if name == me.username {
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
                        AccountChanges { enabled: Some(parse_bool(value)?), ..Default::default() }
                    }
                    _ => {
                        self.accounts.set_profile_field(name, field, value).await.map_err(|e| {
                            match e {
                                Error::InvalidInput(m)
                                    if m.starts_with("unknown profile field") =>
                                {
                                    Error::InvalidInput(format!(
                                        "unknown field '{field}': use full_name, email, bio, role, \
                                     enabled or password"
                                    ))
                                }
                                e => e,
                            }
                        })?;
                        return Ok(ok(format!("{field} of {name} updated")));
                    }
                };
                self.accounts.update(name, changes).await?;
                Ok(ok(format!("{field} of {name} updated")))
            }
        }
    }
}

#[async_trait]
impl SiteHandler for User {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        match self.accounts.is_admin(&me.username).await {
            Ok(true) => {}
            Ok(false) => {
                return Reply::new(550, "SITE USER is for admins only");
            }
            Err(e) => return error_reply(&e),
        }
        let Some(cmd) = parse(req.args) else {
            return usage(SYNTAX);
        };
        match self.run(me, cmd).await {
            Ok(reply) => reply,
            Err(e) => error_reply(&e),
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
        assert!(parse_bool("YES").unwrap());
        assert!(!parse_bool("no").unwrap());
        assert!(parse_bool("maybe").is_err());
    }
}

//! Custom `SITE` subcommands (RFC 959 section 4.1.3: "SITE ... services specific to this
//! system"), one file per command, each a [`SiteHandler`] in the [`Registry`] the daemon's
//! backend dispatches to. The engine only passes SITE on for logged-in sessions; unknown names
//! answer 502 (RFC 959 section 4.2: command not implemented).
//!
//! Replies follow RFC 959 section 4.2: 200 on success (multi-line for listings), 501 for bad
//! syntax, 550 when the action is refused, 451 when the database fails, 530 without a user.

mod help;
mod kick;
mod msg;
mod passwd;
mod profile;
mod share;
mod shares;
mod user;
mod who;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::account::Accounts;
use crate::account::LoggedIn;
use crate::error::Error;
use crate::ftp::{Reply, SiteRequest};
use crate::message::Messages;
use crate::session::Sessions;
use crate::share::Shares;
use crate::storage::paths::normalise;

/// One SITE subcommand.
#[async_trait]
pub trait SiteHandler: Send + Sync {
    /// Runs the subcommand for `user` (logged in) and returns the reply.
    async fn handle(&self, user: &LoggedIn, req: &SiteRequest<'_>) -> Reply;
}

/// One line of `SITE HELP`: syntax, description, and whether only admins see it.
pub struct HelpEntry {
    /// `NAME <args>`.
    pub syntax: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Only shown to (and usable by) admins.
    pub admin: bool,
}

/// Every custom SITE command, in `SITE HELP` order.
pub const COMMANDS: &[HelpEntry] = &[
    HelpEntry { syntax: "HELP", summary: "list these commands", admin: false },
    HelpEntry {
        syntax: "SHARE <user> <path>",
        summary: "share a file or folder of your home with <user>",
        admin: false,
    },
    HelpEntry { syntax: "UNSHARE <user> <path>", summary: "revoke a share", admin: false },
    HelpEntry {
        syntax: "SHARES",
        summary: "what you share, and what is shared with you",
        admin: false,
    },
    HelpEntry { syntax: "PROFILE [<user>]", summary: "show a profile", admin: false },
    HelpEntry {
        syntax: "SETPROFILE <field> <value>",
        summary: "set your full_name, email, bio or email_public (yes/no)",
        admin: false,
    },
    HelpEntry { syntax: "PASSWD <current> <new>", summary: "change your password", admin: false },
    HelpEntry { syntax: "WHO", summary: "who is online now", admin: false },
    HelpEntry { syntax: "MSG <user> <text>", summary: "send a short message", admin: false },
    HelpEntry { syntax: "INBOX", summary: "read your messages", admin: false },
    HelpEntry { syntax: "USER LIST", summary: "list users", admin: true },
    HelpEntry { syntax: "USER ADD <name> <password> [admin]", summary: "add a user", admin: true },
    HelpEntry { syntax: "USER DEL <name>", summary: "delete a user (files kept)", admin: true },
    HelpEntry {
        syntax: "USER SET <name> <field> <value>",
        summary: "set full_name, email, bio, role, enabled or password",
        admin: true,
    },
    HelpEntry {
        syntax: "KICK <user>",
        summary: "end <user>'s sessions on every server (they may log in again)",
        admin: true,
    },
];

/// Every custom SITE command by name (upper case), built from the services they use.
pub struct Registry {
    handlers: HashMap<&'static str, Box<dyn SiteHandler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.handlers.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("commands", &names).finish()
    }
}

impl Registry {
    /// The handlers over these services.
    pub fn new(
        accounts: &Accounts,
        shares: &Shares,
        messages: &Messages,
        sessions: &Sessions,
    ) -> Self {
        let mut handlers: HashMap<&'static str, Box<dyn SiteHandler>> = HashMap::new();
        handlers.insert("HELP", Box::new(help::Help));
        handlers.insert("SHARE", Box::new(share::Share { shares: shares.clone(), revoke: false }));
        handlers.insert("UNSHARE", Box::new(share::Share { shares: shares.clone(), revoke: true }));
        handlers.insert("SHARES", Box::new(shares::List { shares: shares.clone() }));
        handlers.insert("PROFILE", Box::new(profile::Show { accounts: accounts.clone() }));
        handlers.insert("SETPROFILE", Box::new(profile::Set { accounts: accounts.clone() }));
        handlers.insert(
            "PASSWD",
            Box::new(passwd::Passwd {
                accounts: accounts.clone(),
                limit: passwd::GuessLimit::new(passwd::DEFAULT_MAX, passwd::DEFAULT_BLOCK),
            }),
        );
        handlers.insert(
            "WHO",
            Box::new(who::Who { sessions: sessions.clone(), accounts: accounts.clone() }),
        );
        handlers.insert("MSG", Box::new(msg::Send { messages: messages.clone() }));
        handlers.insert("INBOX", Box::new(msg::Inbox { messages: messages.clone() }));
        handlers.insert("USER", Box::new(user::User { accounts: accounts.clone() }));
        handlers.insert("KICK", Box::new(kick::Kick { accounts: accounts.clone() }));
        Self { handlers }
    }

    /// Sets how many wrong current passwords `SITE PASSWD` takes (0: no limit) before it is
    /// blocked for `block` (the default is that of the login policy): the daemon passes its
    /// `failed_logins_max` / `failed_logins_block`.
    pub fn with_passwd_limit(mut self, accounts: &Accounts, max: u32, block: Duration) -> Self {
        self.handlers.insert(
            "PASSWD",
            Box::new(passwd::Passwd {
                accounts: accounts.clone(),
                limit: passwd::GuessLimit::new(max, block),
            }),
        );
        self
    }

    /// Runs `req` for `user`: its handler's reply, or 502 for a name we do not know.
    pub async fn dispatch(&self, user: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        match self.handlers.get(req.command.to_ascii_uppercase().as_str()) {
            Some(handler) => handler.handle(user, req).await,
            None => Reply::new(
                502,
                format!("Unknown SITE command {}: try SITE HELP", one_line(req.command)),
            ),
        }
    }
}

/// A 501 reply showing the expected syntax.
pub(crate) fn usage(syntax: &str) -> Reply {
    Reply::new(501, format!("Usage: SITE {syntax}"))
}

/// A 200 reply.
pub(crate) fn ok(text: String) -> Reply {
    Reply::new(200, text)
}

/// The one place service errors become reply codes.
pub(crate) fn error_reply(e: &Error) -> Reply {
    match e {
        Error::InvalidInput(_)
        | Error::NotFound { .. }
        | Error::AlreadyExists { .. }
        | Error::Forbidden(_) => Reply::new(550, one_line(&e.to_string())),
        _ => {
            tracing::error!(cause = %e, "SITE command failed");
            Reply::new(451, "Internal error, please try again later")
        }
    }
}

/// Keeps a reply on one line whatever the text holds.
pub(crate) fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Resolves a path argument against the session's working directory `cwd`, the way FTP
/// commands resolve relative paths.
pub(crate) fn resolve_path(cwd: &str, arg: &str) -> String {
    if arg.starts_with('/') {
        normalise(std::path::Path::new(arg))
    } else {
        normalise(&std::path::Path::new(cwd).join(arg))
    }
}

/// Splits `"<word> <rest>"`: the first word and the rest (trimmed), which may hold spaces.
pub(crate) fn split_word(args: &str) -> Option<(&str, &str)> {
    let args = args.trim();
    let (word, rest) = args.split_once(char::is_whitespace)?;
    let rest = rest.trim();
    if word.is_empty() || rest.is_empty() { None } else { Some((word, rest)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_word_keeps_spaces_in_the_rest() {
        assert_eq!(split_word("bob my file.txt"), Some(("bob", "my file.txt")));
        assert_eq!(split_word("  bob   /a b/c  "), Some(("bob", "/a b/c")));
        assert_eq!(split_word("bob"), None);
        assert_eq!(split_word(""), None);
        assert_eq!(split_word("bob   "), None);
    }

    #[test]
    fn service_errors_map_to_550_or_451() {
        assert_eq!(error_reply(&Error::InvalidInput("no".into())).code, 550);
        assert_eq!(error_reply(&Error::Config("x".into())).code, 451);
    }

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        assert_eq!(resolve_path("/docs", "a b.txt"), "/docs/a b.txt");
        assert_eq!(resolve_path("/docs", "../x"), "/x");
        assert_eq!(resolve_path("/docs", "/abs/./y/"), "/abs/y");
        assert_eq!(resolve_path("/", ".."), "/");
    }
}

//! Custom `SITE` subcommands (RFC 959 section 4.1.3: "SITE ... services specific to this
//! system"), one file per command, registered with libunftp's `site_command`. libunftp only
//! dispatches them for logged-in sessions and answers 502 for unknown names.
//!
//! Replies follow RFC 959 section 4.2: 200 on success (multi-line for listings), 501 for bad
//! syntax, 550 when the action is refused, 451 when the database fails, 530 without a user.

mod help;
mod msg;
mod passwd;
mod profile;
mod share;
mod shares;
mod user;
mod who;

use libunftp::ServerBuilder;
use libunftp::options::{Reply, ReplyCode, SiteCommandContext};

use crate::auth::FtpUser;
use crate::error::Error;
use crate::server::App;
use crate::storage::UserStorage;
use crate::storage::paths::normalise;

/// The SITE context as our handlers see it.
pub type Ctx = SiteCommandContext<UserStorage, FtpUser>;

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
        summary: "set your full_name, email or bio",
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
];

/// Registers every custom SITE command on `builder`.
pub fn register(
    builder: ServerBuilder<UserStorage, FtpUser>,
    app: &App,
) -> ServerBuilder<UserStorage, FtpUser> {
    builder
        .site_command("HELP", help::Help)
        .site_command("SHARE", share::Share { shares: app.shares.clone(), revoke: false })
        .site_command("UNSHARE", share::Share { shares: app.shares.clone(), revoke: true })
        .site_command("SHARES", shares::List { shares: app.shares.clone() })
        .site_command("PROFILE", profile::Show { accounts: app.accounts.clone() })
        .site_command("SETPROFILE", profile::Set { accounts: app.accounts.clone() })
        .site_command("PASSWD", passwd::Passwd { accounts: app.accounts.clone() })
        .site_command(
            "WHO",
            who::Who { sessions: app.sessions.clone(), accounts: app.accounts.clone() },
        )
        .site_command("MSG", msg::Send { messages: app.messages.clone() })
        .site_command("INBOX", msg::Inbox { messages: app.messages.clone() })
        .site_command("USER", user::User { accounts: app.accounts.clone() })
}

/// The logged-in user, or the 530 reply.
pub(crate) fn user(ctx: &Ctx) -> Result<&FtpUser, Reply> {
    (*ctx.user).as_ref().ok_or_else(|| Reply::new(ReplyCode::NotLoggedIn, "Please log in first"))
}

/// A 501 reply showing the expected syntax.
pub(crate) fn usage(syntax: &str) -> Reply {
    Reply::new_with_string(ReplyCode::ParameterSyntaxError, format!("Usage: SITE {syntax}"))
}

/// A 200 reply.
pub(crate) fn ok(text: String) -> Reply {
    Reply::new_with_string(ReplyCode::CommandOkay, text)
}

/// The one place service errors become reply codes.
pub(crate) fn error_reply(e: &Error) -> Reply {
    match e {
        Error::InvalidInput(_)
        | Error::NotFound { .. }
        | Error::AlreadyExists { .. }
        | Error::Forbidden(_) => {
            Reply::new_with_string(ReplyCode::FileError, one_line(&e.to_string()))
        }
        _ => {
            tracing::error!(cause = %e, "SITE command failed");
            Reply::new(ReplyCode::LocalError, "Internal error, please try again later")
        }
    }
}

/// Keeps a reply on one line whatever the text holds.
pub(crate) fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Resolves a path argument against the session's working directory (as the storage backend
/// saw it at the last CWD), the way FTP commands resolve relative paths.
pub(crate) fn resolve_path(ctx: &Ctx, arg: &str) -> String {
    if arg.starts_with('/') {
        normalise(std::path::Path::new(arg))
    } else {
        let cwd = ctx.storage.cwd();
        normalise(&std::path::Path::new(&cwd).join(arg))
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
        let refused = error_reply(&Error::InvalidInput("no".into()));
        assert!(matches!(refused, Reply::CodeAndMsg { code: ReplyCode::FileError, .. }));
        let failed = error_reply(&Error::Config("x".into()));
        assert!(matches!(failed, Reply::CodeAndMsg { code: ReplyCode::LocalError, .. }));
    }
}

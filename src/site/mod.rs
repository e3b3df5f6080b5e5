//! Custom `SITE` subcommands (RFC 959 section 4.1.3: "SITE ... services specific to this
//! system"), one file per command. Each is a [`SiteCommand`]: its name, syntax and who may run
//! it are constants, from which `SITE HELP`, the usage replies and the [`Registry`] the
//! daemon's backend dispatches to are all derived. The engine only passes SITE on for
//! logged-in sessions; unknown names answer 502 (RFC 959 section 4.2: command not
//! implemented).
//!
//! Replies follow RFC 959 section 4.2: 200 on success (multi-line for listings), 501 for bad
//! syntax, 550 when the action is refused, 451 when the database fails, 530 without a user.
//!
//! A new command: a file here with a `//!` doc (syntax, replies, who may run it), a type that
//! implements [`SiteCommand`] with a pure `parse` and its unit tests, and one line in
//! [`Registry::new`]. This module holds the helpers commands share.

mod command;
mod help;
mod kick;
mod msg;
mod passwd;
mod profile;
mod registry;
mod share;
mod shares;
mod user;
mod who;

pub use command::{Audience, Call, SiteCommand, Syntax};
pub use passwd::GuessLimit;
pub use registry::Registry;

use crate::error::Error;
use crate::ftp::Reply;
use crate::storage::paths::normalise;

/// A 200 reply.
fn ok(text: String) -> Reply {
    Reply::new(200, text)
}

/// The one place service errors become reply codes.
fn error_reply(e: &Error) -> Reply {
    match e {
        Error::InvalidInput(_)
        | Error::UnknownField { .. }
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
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Resolves a path argument against the session's working directory `cwd`, the way FTP
/// commands resolve relative paths.
fn resolve_path(cwd: &str, arg: &str) -> String {
    if arg.starts_with('/') {
        normalise(std::path::Path::new(arg))
    } else {
        normalise(&std::path::Path::new(cwd).join(arg))
    }
}

/// Splits `"<word> <rest>"`: the first word and the rest (trimmed), which may hold spaces.
fn split_word(args: &str) -> Option<(&str, &str)> {
    let args = args.trim();
    let (word, rest) = args.split_once(char::is_whitespace)?;
    let rest = rest.trim();
    if word.is_empty() || rest.is_empty() { None } else { Some((word, rest)) }
}

/// Accepts no arguments at all.
fn no_args(args: &str) -> Option<()> {
    args.trim().is_empty().then_some(())
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
        let unknown = Error::UnknownField { what: "field", name: "x".into(), expected: "y" };
        assert_eq!(error_reply(&unknown).code, 550);
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

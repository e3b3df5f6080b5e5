//! [`SiteCommand`]: what one SITE command declares (name, syntax, who may run it) and does
//! (parse its arguments, run), and the [`Call`] it runs for.

use async_trait::async_trait;

use crate::account::{Accounts, LoggedIn};
use crate::error::Result;
use crate::ftp::{Client, Reply};

/// Who may run a SITE command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every logged-in user.
    Anyone,
    /// Enabled admins only, as the database says at each use (a demotion counts at once);
    /// `SITE HELP` lists these to admins only.
    Admins,
}

/// One form of a command as `SITE HELP` lists it: `NAME args`, and what it does. A command
/// with subcommands (`USER`) has one form per subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Syntax {
    /// The arguments after the name, e.g. `<user> <path>`; empty for none.
    pub args: &'static str,
    /// What this form does, one short line.
    pub summary: &'static str,
}

/// Who runs a command, and from where.
#[derive(Debug)]
pub struct Call<'a> {
    /// The logged-in user.
    pub user: &'a LoggedIn,
    /// The session's working directory (absolute, normalised).
    pub cwd: &'a str,
    /// Where the session comes from (address, session id), for logs and `SITE WHO`.
    pub client: &'a Client,
    pub(super) accounts: &'a Accounts,
}

impl Call<'_> {
    /// Whether the caller is an enabled admin right now. The role a session carries is that of
    /// its login; this reads the database, so a demoted admin loses admin views at once.
    ///
    /// # Errors
    ///
    /// [`Error::Query`](crate::Error::Query) on database failure.
    pub async fn is_admin(&self) -> Result<bool> {
        self.accounts.is_admin(&self.user.username).await
    }
}

/// One SITE command. The [`Registry`](super::Registry) looks it up by [`NAME`](Self::NAME), refuses it to
/// non-admins when [`AUDIENCE`](Self::AUDIENCE) says so, answers 501 with the
/// [`SYNTAX`](Self::SYNTAX) when [`parse`](Self::parse) fails, and turns the errors of
/// [`run`](Self::run) into replies: a command only says what it does.
#[async_trait]
pub trait SiteCommand: Send + Sync {
    /// The name, upper case (`SHARE`).
    const NAME: &'static str;
    /// Its forms, in `SITE HELP` order.
    const SYNTAX: &'static [Syntax];
    /// Who may run it.
    const AUDIENCE: Audience = Audience::Anyone;

    /// The arguments, parsed.
    type Request<'a>: Send;

    /// Parses the arguments (everything after the name, trimmed); `None` for bad syntax.
    fn parse(args: &str) -> Option<Self::Request<'_>>;

    /// Runs a parsed request for `call`'s user. An error becomes 550 when the user can act on
    /// it (bad input, not found, refused) and 451 otherwise.
    async fn run(&self, request: Self::Request<'_>, call: &Call<'_>) -> Result<Reply>;
}

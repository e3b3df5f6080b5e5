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
//! [`Registry::new`].

mod help;
mod kick;
mod msg;
mod passwd;
mod profile;
mod share;
mod shares;
mod user;
mod who;

use async_trait::async_trait;

pub use passwd::GuessLimit;

use crate::account::{Accounts, LoggedIn};
use crate::error::{Error, Result};
use crate::ftp::{Client, Reply, SiteRequest};
use crate::message::Messages;
use crate::session::Sessions;
use crate::share::Shares;
use crate::storage::paths::normalise;

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
    /// The client.
    pub client: &'a Client,
    accounts: &'a Accounts,
}

impl Call<'_> {
    /// Whether the caller is an enabled admin right now. The role a session carries is that of
    /// its login; this reads the database, so a demoted admin loses admin views at once.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn is_admin(&self) -> Result<bool> {
        self.accounts.is_admin(&self.user.username).await
    }
}

/// One SITE command. The [`Registry`] looks it up by [`NAME`](Self::NAME), refuses it to
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

/// What the registry keeps of a command: its description and a way to run it with its
/// request type erased.
#[async_trait]
trait Entry: Send + Sync {
    fn name(&self) -> &'static str;
    fn syntax(&self) -> &'static [Syntax];
    fn audience(&self) -> Audience;
    /// Parses and runs; `None` when the arguments do not parse.
    async fn parse_and_run(&self, args: &str, call: &Call<'_>) -> Option<Result<Reply>>;
}

#[async_trait]
impl<C: SiteCommand> Entry for C {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn syntax(&self) -> &'static [Syntax] {
        C::SYNTAX
    }

    fn audience(&self) -> Audience {
        C::AUDIENCE
    }

    async fn parse_and_run(&self, args: &str, call: &Call<'_>) -> Option<Result<Reply>> {
        let request = C::parse(args)?;
        Some(self.run(request, call).await)
    }
}

/// Every custom SITE command, in `SITE HELP` order, built from the services they use.
pub struct Registry {
    commands: Vec<Box<dyn Entry>>,
    accounts: Accounts,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.commands.iter().map(|c| c.name()).collect();
        f.debug_struct("Registry").field("commands", &names).finish()
    }
}

impl Registry {
    /// The commands over these services; `passwd_limit` throttles wrong current passwords in
    /// `SITE PASSWD` (the daemon passes its `failed_logins_max` / `failed_logins_block`).
    pub fn new(
        accounts: &Accounts,
        shares: &Shares,
        messages: &Messages,
        sessions: &Sessions,
        passwd_limit: GuessLimit,
    ) -> Self {
        let mut commands: Vec<Box<dyn Entry>> = vec![
            Box::new(share::Share { shares: shares.clone() }),
            Box::new(share::Unshare { shares: shares.clone() }),
            Box::new(shares::Shares { shares: shares.clone() }),
            Box::new(profile::Profile { accounts: accounts.clone() }),
            Box::new(profile::SetProfile { accounts: accounts.clone() }),
            Box::new(passwd::Passwd { accounts: accounts.clone(), limit: passwd_limit }),
            Box::new(who::Who { sessions: sessions.clone() }),
            Box::new(msg::Msg { messages: messages.clone() }),
            Box::new(msg::Inbox { messages: messages.clone() }),
            Box::new(user::User { accounts: accounts.clone() }),
            Box::new(kick::Kick { accounts: accounts.clone() }),
        ];
        // HELP lists every command, itself first.
        let mut lines =
            help::Help::lines_of(help::Help::NAME, help::Help::SYNTAX, Audience::Anyone);
        for c in &commands {
            lines.extend(help::Help::lines_of(c.name(), c.syntax(), c.audience()));
        }
        commands.insert(0, Box::new(help::Help { lines }));
        Self { commands, accounts: accounts.clone() }
    }

    /// Runs `req` for `user`: 502 for a name we do not know, 550 for an admin command run by
    /// someone else, 501 with the syntax when the arguments do not parse, else the command's
    /// reply.
    pub async fn dispatch(&self, user: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        let Some(command) =
            self.commands.iter().find(|c| c.name().eq_ignore_ascii_case(req.command))
        else {
            return Reply::new(
                502,
                format!("Unknown SITE command {}: try SITE HELP", one_line(req.command)),
            );
        };
        let call = Call { user, cwd: req.cwd, client: req.client, accounts: &self.accounts };
        if command.audience() == Audience::Admins {
            match call.is_admin().await {
                Ok(true) => {}
                Ok(false) => {
                    return Reply::new(550, format!("SITE {} is for admins only", command.name()));
                }
                Err(e) => return error_reply(&e),
            }
        }
        match command.parse_and_run(req.args, &call).await {
            Some(Ok(reply)) => reply,
            Some(Err(e)) => error_reply(&e),
            None => usage(command.name(), command.syntax()),
        }
    }
}

/// A 501 reply showing every form of the command: `Usage: SITE USER LIST | DEL <name>`.
fn usage(name: &str, syntax: &[Syntax]) -> Reply {
    let forms: Vec<&str> = syntax.iter().map(|s| s.args).filter(|a| !a.is_empty()).collect();
    if forms.is_empty() {
        Reply::new(501, format!("Usage: SITE {name}"))
    } else {
        Reply::new(501, format!("Usage: SITE {name} {}", forms.join(" | ")))
    }
}

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
    use std::collections::BTreeSet;

    use super::*;
    use crate::account::{NewAccount, Role};

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

    #[test]
    fn usage_lists_every_form() {
        const FORMS: &[Syntax] =
            &[Syntax { args: "LIST", summary: "" }, Syntax { args: "DEL <name>", summary: "" }];
        assert_eq!(usage("USER", FORMS).lines, ["Usage: SITE USER LIST | DEL <name>"]);
        assert_eq!(usage("WHO", &[Syntax { args: "", summary: "" }]).lines, ["Usage: SITE WHO"]);
        assert_eq!(usage("WHO", &[Syntax { args: "", summary: "" }]).code, 501);
    }

    /// A registry over a fresh database with a user `alice` and an admin `root1`.
    async fn registry(dir: &std::path::Path) -> (Registry, LoggedIn, LoggedIn) {
        let pool = crate::db::open(&dir.join("multiftp.db")).await.unwrap();
        let accounts = Accounts::new(pool.clone(), dir);
        let messages = Messages::new(pool.clone(), accounts.clone());
        let shares = Shares::new(pool.clone(), accounts.clone(), messages.clone());
        let sessions = Sessions::new(pool);
        let mut users = Vec::new();
        for (name, role) in [("alice", Role::User), ("root1", Role::Admin)] {
            let a = accounts
                .add(NewAccount { role, ..NewAccount::user(name, "password123") })
                .await
                .unwrap();
            users.push(LoggedIn {
                id: a.id,
                username: a.username,
                role: a.role,
                home: accounts.home_of(name),
                session_generation: 0,
            });
        }
        let limit = GuessLimit::new(3, std::time::Duration::from_secs(300));
        let registry = Registry::new(&accounts, &shares, &messages, &sessions, limit);
        let root1 = users.pop().unwrap();
        (registry, users.pop().unwrap(), root1)
    }

    fn client() -> Client {
        Client {
            session: 1,
            addr: "198.51.100.7:40000".parse().unwrap(),
            local: "127.0.0.1:2121".parse().unwrap(),
            tls: false,
        }
    }

    /// The `NAME args` entries of a `SITE HELP` reply.
    fn listed(reply: &Reply) -> BTreeSet<String> {
        assert_eq!(reply.code, 214);
        assert_eq!(reply.lines.first().map(String::as_str), Some("Custom SITE commands:"));
        assert_eq!(reply.lines.last().map(String::as_str), Some("End of list"));
        let entries = &reply.lines[1..reply.lines.len() - 1];
        entries
            .iter()
            .map(|l| {
                let l = l.strip_prefix("  SITE ").unwrap_or_else(|| panic!("{l}"));
                // The syntax column is padded, so two spaces end it (a syntax as wide as the
                // column would fail here, and misalign the listing).
                let (syntax, summary) = l.split_once("  ").unwrap_or_else(|| panic!("{l}"));
                assert!(!summary.trim().is_empty(), "{l}");
                syntax.to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn help_lists_exactly_the_registered_commands_with_their_syntax() {
        let tmp = tempfile::tempdir().unwrap();
        let (registry, alice, root1) = registry(tmp.path()).await;
        let c = client();
        let help = SiteRequest { command: "help", args: "", cwd: "/", client: &c };
        let for_admin = listed(&registry.dispatch(&root1, &help).await);
        let for_user = listed(&registry.dispatch(&alice, &help).await);

        let mut all = BTreeSet::new();
        let mut anyone = BTreeSet::new();
        for command in &registry.commands {
            for s in command.syntax() {
                let line = if s.args.is_empty() {
                    command.name().to_string()
                } else {
                    format!("{} {}", command.name(), s.args)
                };
                if command.audience() == Audience::Anyone {
                    anyone.insert(line.clone());
                }
                all.insert(line);
            }
        }
        assert_eq!(for_admin, all, "admins see every form");
        assert_eq!(for_user, anyone, "users see theirs only");
        assert!(for_user.contains("SHARE <user> <path>") && !for_user.contains("KICK <user>"));

        // Every name HELP shows is one the registry runs (a 501 for missing arguments, never
        // 502), and admin ones refuse a user before looking at the arguments.
        for line in &for_admin {
            let name = line.split(' ').next().unwrap();
            let req = SiteRequest { command: name, args: "x y z w v", cwd: "/", client: &c };
            assert_ne!(registry.dispatch(&root1, &req).await.code, 502, "{line}");
        }
        let kick = SiteRequest { command: "KICK", args: "", cwd: "/", client: &c };
        let refused = registry.dispatch(&alice, &kick).await;
        assert_eq!(
            (refused.code, refused.lines[0].as_str()),
            (550, "SITE KICK is for admins only")
        );
        assert_eq!(registry.dispatch(&root1, &kick).await.lines, ["Usage: SITE KICK <user>"]);
        let frob = SiteRequest { command: "FROB", args: "", cwd: "/", client: &c };
        assert_eq!(registry.dispatch(&alice, &frob).await.code, 502);
    }

    #[tokio::test]
    async fn an_unknown_field_names_the_fields_of_each_command() {
        let tmp = tempfile::tempdir().unwrap();
        let (registry, alice, root1) = registry(tmp.path()).await;
        let c = client();
        let set = SiteRequest { command: "SETPROFILE", args: "Colour blue", cwd: "/", client: &c };
        let reply = registry.dispatch(&alice, &set).await;
        assert_eq!(
            (reply.code, reply.lines[0].as_str()),
            (550, "unknown profile field 'colour': use full_name, email, bio or email_public")
        );
        let set =
            SiteRequest { command: "USER", args: "SET alice Colour blue", cwd: "/", client: &c };
        let reply = registry.dispatch(&root1, &set).await;
        assert_eq!(
            (reply.code, reply.lines[0].as_str()),
            (550, "unknown field 'Colour': use full_name, email, bio, role, enabled or password")
        );
        let set = SiteRequest { command: "USER", args: "SET alice bio jazz", cwd: "/", client: &c };
        assert_eq!(registry.dispatch(&root1, &set).await.lines, ["bio of alice updated"]);
    }
}

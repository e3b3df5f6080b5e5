//! [`Registry`]: every SITE command in `SITE HELP` order, and the one dispatcher that finds a
//! command by name, refuses admin commands to others, answers bad syntax with the command's
//! usage and turns service errors into replies.

use async_trait::async_trait;

use super::command::{Audience, Call, SiteCommand, Syntax};
use super::passwd::GuessLimit;
use super::{error_reply, help, kick, msg, one_line, passwd, profile, share, shares, user, who};
use crate::account::{Accounts, LoggedIn};
use crate::error::Result;
use crate::ftp::{Reply, SiteRequest};
use crate::message::Messages;
use crate::session::Sessions;
use crate::share::Shares;

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::account::{NewAccount, Role};
    use crate::ftp::Client;

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
        let pool = crate::db::open_sqlite(&dir.join("multiftp.db")).await.unwrap();
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

//! [`AccessWatch`]: whether a logged-in session may go on. The engine asks before every
//! command ([`crate::ftp::Backend::still_allowed`]); the answer is no once the account was
//! disabled, deleted (also deleted and added again: the id differs) or kicked
//! ([`crate::account::Accounts::kick`]), by this daemon, another daemon or `ftpadm`.
//!
//! The check sits on the hot path, so it does not read the user's row each time. The
//! database keeps one counter (`user_access_version`) that triggers raise on exactly those
//! changes. Each daemon reads that counter at most once per [`RECHECK`], and reads a user's
//! row again only after it moved; in between, answers come from memory. A change therefore
//! reaches every session within [`RECHECK`] (plus one query), at its next command.
//!
//! When the database cannot be read within a second, sessions go on (a warning is
//! logged): a busy or broken database must not end or stall every session, and logins are
//! checked on their own.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::account::Accounts;
use crate::account::LoggedIn;
use crate::account::store::Standing;

use crate::account::ACCESS_RECHECK as RECHECK;

/// The longest one check waits for the database before letting the session go on.
const QUERY_LIMIT: Duration = Duration::from_secs(1);

/// Which sessions may go on, for one daemon; shared by all its sessions.
#[derive(Debug)]
pub struct AccessWatch {
    accounts: Accounts,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the counter was last read; `None` before the first read.
    checked: Option<Instant>,
    /// The counter as last read.
    version: i64,
    /// Users' standings read since the counter last moved (`None`: no such user).
    standings: HashMap<String, Option<Standing>>,
}

impl AccessWatch {
    /// A watch over `store`'s users.
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts, state: Mutex::new(State::default()) }
    }

    /// Whether `user`'s session may run its next command: the account still exists with the
    /// same id, is enabled, and was not kicked since the session logged in.
    pub async fn allows(&self, user: &LoggedIn) -> bool {
        // One lock for the whole check: when the counter is due, one session reads it and the
        // others wait for that one query instead of all querying at once.
        let mut state = self.state.lock().await;
        if state.checked.is_none_or(|at| at.elapsed() >= RECHECK) {
            // Whatever the outcome, the next try is one RECHECK away: a failing database costs
            // one query a second, not one per command.
            state.checked = Some(Instant::now());
            match bounded(self.accounts.access_version()).await {
                Ok(version) => {
                    if version != state.version {
                        state.standings.clear();
                        state.version = version;
                    }
                }
                Err(cause) => {
                    tracing::warn!(%cause, "cannot check whether accounts changed");
                    return true;
                }
            }
        }
        let cached = state.standings.get(&user.username).copied();
        let standing = match cached {
            Some(known) => known,
            None => match bounded(self.accounts.standing(&user.username)).await {
                // Read after the counter: it is at least as new, so keeping it under this
                // version never hides a change.
                Ok(read) => {
                    state.standings.insert(user.username.clone(), read);
                    read
                }
                Err(cause) => {
                    tracing::warn!(user = %user.username, %cause, "cannot check the account");
                    return true;
                }
            },
        };
        standing.is_some_and(|s| {
            s.id == user.id && s.enabled && s.session_generation == user.session_generation
        })
    }
}

/// Runs a query for at most [`QUERY_LIMIT`]: every session's next command waits for it, so a
/// database stuck behind another process's lock must not hold them all.
async fn bounded<T>(query: impl Future<Output = crate::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(QUERY_LIMIT, query).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            // The error and its causes on one line (the top one alone says little).
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            Err(text)
        }
        Err(_) => Err(format!("no answer within {} ms", QUERY_LIMIT.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountChanges, NewAccount};
    use crate::app::App;
    use crate::config::RawConfig;

    async fn app(dir: &std::path::Path) -> App {
        let raw = RawConfig { root: Some(dir.join("root")), ..Default::default() };
        let app = App::open(crate::Settings::load(None, raw).unwrap()).await.unwrap();
        for name in ["alice", "bob"] {
            app.accounts.add(NewAccount::user(name, "password123")).await.unwrap();
        }
        app
    }

    async fn logged_in(app: &App, name: &str) -> LoggedIn {
        let a = app.accounts.get(name).await.unwrap();
        LoggedIn {
            id: a.id,
            username: a.username,
            role: a.role,
            home: app.accounts.home_of(name),
            session_generation: a.session_generation,
        }
    }

    /// Waits out the recheck interval, so the next answer reflects the database.
    async fn later() {
        tokio::time::sleep(RECHECK + Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn disable_delete_and_kick_end_sessions_and_profile_edits_do_not() {
        let tmp = tempfile::tempdir().unwrap();
        let app = app(tmp.path()).await;
        let watch = AccessWatch::new(app.accounts.clone());
        let alice = logged_in(&app, "alice").await;
        let bob = logged_in(&app, "bob").await;
        assert!(watch.allows(&alice).await && watch.allows(&bob).await);

        // A profile edit names `enabled` in its UPDATE but changes nothing that matters.
        let before = app.accounts.access_version().await.unwrap();
        app.accounts.set_profile_field("alice", "bio", "hello").await.unwrap();
        assert_eq!(app.accounts.access_version().await.unwrap(), before);

        app.accounts.kick("alice").await.unwrap();
        later().await;
        assert!(!watch.allows(&alice).await, "kicked");
        assert!(watch.allows(&bob).await, "others go on");
        // A login after the kick carries the new counter and may go on.
        assert!(watch.allows(&logged_in(&app, "alice").await).await);

        let off = AccountChanges { enabled: Some(false), ..Default::default() };
        app.accounts.update("bob", off).await.unwrap();
        later().await;
        assert!(!watch.allows(&bob).await, "disabled");

        app.accounts.delete("bob", true).await.unwrap();
        app.accounts.add(NewAccount::user("bob", "password123")).await.unwrap();
        later().await;
        assert!(!watch.allows(&bob).await, "deleted and added again: another account");
        assert!(watch.allows(&logged_in(&app, "bob").await).await);
    }
}

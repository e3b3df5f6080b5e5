//! [`LoggedIn`]: a logged-in user as a session carries it, from login to the last command.

use std::fmt;
use std::path::PathBuf;

use crate::account::Role;

/// A logged-in user: identity, role, the absolute path of their home folder, and what the
/// session's access check compares (see `crate::auth::access`).
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// Database id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role at login time.
    pub role: Role,
    /// Absolute home folder, `<root>/home/<username>`.
    pub home: PathBuf,
    /// The account's kick counter at login: the session ends once it moves on.
    pub session_generation: i64,
}

impl fmt::Display for LoggedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.username)
    }
}

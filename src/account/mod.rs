//! The account service: the rules for users, roles, profiles and passwords. `ftpadm`, the SITE
//! handlers and the login path all call these functions, so a rule lives in one place.

use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod cache;
pub mod password;
pub mod store;
mod user;

pub use user::LoggedIn;

use crate::db::Pool;
use crate::error::{Error, Result};
use cache::CredentialCache;
pub use store::Role;
use store::{UserRow, UserStore};

/// How soon a change that ends sessions (disable, delete, kick) reaches every daemon on the
/// database: the longest a daemon answers "may this session go on" from memory before looking at
/// the database's access counter again.
pub const ACCESS_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Longest username.
const MAX_USERNAME_LEN: usize = 32;
/// Longest full name or email.
const MAX_FIELD_LEN: usize = 128;
/// Longest bio.
const MAX_BIO_LEN: usize = 1000;

/// The account a first start creates.
pub const FIRST_ADMIN: &str = "admin";

/// The file in the data root that keeps the first admin's generated password until that
/// password is changed, so a first start that fails (port in use) does not lose it.
const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// `<root>/initial-admin-password`.
pub fn initial_password_path(root: &Path) -> PathBuf {
    root.join(INITIAL_PASSWORD_FILE)
}

/// A user as shown to admins and `ftpadm` (everything but the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Database id.
    #[serde(skip)]
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Whether the account may log in.
    pub enabled: bool,
    /// Display name.
    pub full_name: String,
    /// Contact address.
    pub email: String,
    /// Free text.
    pub bio: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last successful login.
    pub last_login_at: Option<String>,
    /// RFC 3339 time of the last password change.
    pub password_changed_at: String,
    /// The kick counter when this was read: a session keeps the value it logged in with and
    /// ends once the account's counter moves on ([`Accounts::kick`]).
    #[serde(skip)]
    pub session_generation: i64,
    /// Whether other users see `email` in their profile view (only the user and admins do
    /// otherwise).
    pub email_public: bool,
}

impl From<UserRow> for Account {
    fn from(row: UserRow) -> Self {
        Account {
            id: row.id,
            role: row.role,
            username: row.username,
            enabled: row.enabled,
            full_name: row.full_name,
            email: row.email,
            bio: row.bio,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
            password_changed_at: row.password_changed_at,
            session_generation: row.session_generation,
            email_public: row.email_public,
        }
    }
}

/// What `add` needs to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login name (validated).
    pub username: String,
    /// Plain password (policy-checked, then hashed).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Whether it may log in at once.
    pub enabled: bool,
    /// Display name.
    pub full_name: String,
    /// Contact address (validated when not empty).
    pub email: String,
}

#[cfg(test)]
impl NewAccount {
    /// An enabled ordinary user with an empty profile, for tests.
    pub(crate) fn user(username: &str, password: &str) -> Self {
        NewAccount {
            username: username.into(),
            password: password.into(),
            role: Role::User,
            enabled: true,
            full_name: String::new(),
            email: String::new(),
        }
    }
}

/// A profile field a user may change about themselves ([`Accounts::set_profile_field`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileField {
    /// `full_name` (also `fullname`, `name`).
    FullName,
    /// `email`.
    Email,
    /// `bio`.
    Bio,
    /// `email_public`: `yes`/`no`, whether other users see the email.
    EmailPublic,
}

impl ProfileField {
    /// The field named `name` (any case), or `None`: callers that accept more fields than
    /// these (`SITE USER SET`) tell an unknown name apart without reading an error's text.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "full_name" | "fullname" | "name" => Some(ProfileField::FullName),
            "email" => Some(ProfileField::Email),
            "bio" => Some(ProfileField::Bio),
            "email_public" => Some(ProfileField::EmailPublic),
            _ => None,
        }
    }
}

/// Changes to an account; `None` leaves a field alone. The same fields as the columns the
/// store updates, so one type serves both: the service validates, the store writes.
pub use store::UserChanges as AccountChanges;

/// The account service over one database and one data root.
#[derive(Debug, Clone)]
pub struct Accounts {
    store: UserStore,
    homes: PathBuf,
    /// Recently verified logins (see [`CredentialCache`]); shared by all clones.
    cache: std::sync::Arc<CredentialCache>,
}

/// Checks the username rules: a lowercase letter first, then lowercase letters, digits, `_`,
/// `.` or `-`, at most 32 characters. These names become folder names, so the rule also keeps
/// them safe on disk.
///
/// # Errors
///
/// [`Error::InvalidInput`] saying which rule is broken.
pub fn validate_username(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidInput(format!("invalid username '{name}': {why}")));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > MAX_USERNAME_LEN {
        return bad("use at most 32 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return bad("use only lowercase letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

/// Checks an email address: empty (no address) or `local@domain.tld` without spaces.
///
/// # Errors
///
/// [`Error::InvalidInput`] when it does not look like an address.
fn validate_email(email: &str) -> Result<()> {
    if email.is_empty() {
        return Ok(());
    }
    let ok = email.len() <= MAX_FIELD_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.contains('@') && domain.contains('.')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("invalid email '{email}': use the form name@example.org")))
    }
}

/// Parses a yes/no setting: `yes`, `true`, `1`, `on` or `no`, `false`, `0`, `off`.
///
/// # Errors
///
/// [`Error::InvalidInput`] for anything else.
pub fn parse_yes_no(value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" => Ok(true),
        "no" | "false" | "0" | "off" => Ok(false),
        _ => Err(Error::InvalidInput(format!("invalid value '{value}': use yes or no"))),
    }
}

fn validate_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::InvalidInput(format!("{field} too long: use at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!("{field} must not contain control characters")));
    }
    Ok(())
}

/// Gives `path` the owner and group of the data root `root` when this process runs as root,
/// `path` belongs to root and the data root does not: what root creates under a root owned by
/// the service user must stay writable for the daemon. A no-op for any other user (who cannot
/// give files away, and whose files are the daemon's when it runs as the root's owner).
///
/// # Errors
///
/// [`Error::Io`] when the owners cannot be read or changed.
pub fn give_to_root_owner(root: &Path, path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |cause| Error::io(what, path, cause)
    };
    let owner = std::fs::metadata(root).map_err(io("cannot read the data root's owner", root))?;
    let have = std::fs::symlink_metadata(path).map_err(io("cannot read the owner", path))?;
    if owner.uid() == 0 || have.uid() != 0 {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(owner.uid()), Some(owner.gid()))
        .map_err(io("cannot give it to the data root's owner", path))
}

impl Accounts {
    /// The service over `pool`, with homes under `root/home`.
    pub fn new(pool: Pool, root: &Path) -> Self {
        Self {
            store: UserStore::new(pool),
            homes: root.join("home"),
            cache: std::sync::Arc::default(),
        }
    }

    /// The home folder of `username` (not checked for existence).
    pub fn home_of(&self, username: &str) -> PathBuf {
        self.homes.join(username)
    }

    /// Creates the home folder of `username` if it is missing. Homes belong to the owner of
    /// the data root: run as root (`sudo ftpadm user add`), this hands the home and the homes
    /// folder to that owner, or the daemon's service user could not write them.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the folder cannot be created or handed over.
    pub fn ensure_home(&self, username: &str) -> Result<PathBuf> {
        let home = self.home_of(username);
        std::fs::create_dir_all(&home)
            .map_err(|cause| Error::io("cannot create the home folder", &home, cause))?;
        if let Some(root) = self.homes.parent() {
            give_to_root_owner(root, &self.homes)?;
            give_to_root_owner(root, &home)?;
        }
        Ok(home)
    }

    /// The number of accounts.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn count(&self) -> Result<i64> {
        self.store.count().await
    }

    /// Creates an account and its home folder. Refuses when a folder of that name is already
    /// in the homes folder (left by a deleted account, whose files would silently go to the
    /// new one); see [`Accounts::add_with`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name, password or email or an existing home;
    /// [`Error::AlreadyExists`] for a taken name; [`Error::Io`] when the home cannot be created.
    pub async fn add(&self, new: NewAccount) -> Result<Account> {
        self.add_with(new, false).await
    }

    /// [`Accounts::add`], and with `reuse_home` an existing home folder of that name becomes
    /// the new account's home, files and all (`ftpadm user add --reuse-home`).
    ///
    /// # Errors
    ///
    /// As [`Accounts::add`].
    pub async fn add_with(&self, new: NewAccount, reuse_home: bool) -> Result<Account> {
        validate_username(&new.username)?;
        password::check_policy(&new.password)?;
        validate_email(&new.email)?;
        validate_text("full name", &new.full_name, MAX_FIELD_LEN)?;
        if self.store.find(&new.username).await?.is_some() {
            return Err(Error::AlreadyExists { what: "user", name: new.username });
        }
        let home = self.home_of(&new.username);
        // symlink_metadata: a dangling symlink in its place counts as taken too.
        if !reuse_home && std::fs::symlink_metadata(&home).is_ok() {
            return Err(Error::InvalidInput(format!(
                "the home folder {} of an earlier account '{}' still exists: move it away, or \
                 give its files to the new user with 'ftpadm user add {} --reuse-home'",
                home.display(),
                new.username,
                new.username
            )));
        }
        let hash = password::hash(new.password).await?;
        let row = self
            .store
            .insert(&new.username, &hash, new.role, new.enabled, &new.full_name, &new.email)
            .await?;
        self.ensure_home(&row.username)?;
        tracing::info!(user = %row.username, role = row.role.as_str(), "user added");
        Ok(row.into())
    }

    /// All accounts, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn list(&self) -> Result<Vec<Account>> {
        Ok(self.store.list().await?.into_iter().map(Account::from).collect())
    }

    /// One account.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when there is no such user.
    pub async fn get(&self, username: &str) -> Result<Account> {
        self.find_row(username).await.map(Account::from)
    }

    async fn find_row(&self, username: &str) -> Result<UserRow> {
        self.store
            .find(username)
            .await?
            .ok_or_else(|| Error::NotFound { what: "user", name: username.to_string() })
    }

    /// Updates an account. Refuses to demote or disable the last enabled admin, so the
    /// installation always keeps someone who can manage it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::InvalidInput`] or [`Error::Forbidden`] (last admin).
    pub async fn update(&self, username: &str, changes: AccountChanges) -> Result<Account> {
        if let Some(email) = &changes.email {
            validate_email(email)?;
        }
        if let Some(name) = &changes.full_name {
            validate_text("full name", name, MAX_FIELD_LEN)?;
        }
        if let Some(bio) = &changes.bio {
            validate_text("bio", bio, MAX_BIO_LEN)?;
        }
        let current = self.find_row(username).await?;
        let loses_admin = current.role == Role::Admin
            && current.enabled
            && (changes.role == Some(Role::User) || changes.enabled == Some(false));
        if loses_admin && self.store.count_enabled_admins().await? <= 1 {
            return Err(Error::Forbidden(format!(
                "'{username}' is the last enabled admin; make another user admin first"
            )));
        }
        let row = self
            .store
            .update(username, &changes)
            .await?
            .ok_or_else(|| Error::NotFound { what: "user", name: username.to_string() })?;
        tracing::info!(user = %username, "user updated");
        Ok(row.into())
    }

    /// Sets a new password after checking the policy. Logins with the old password fail from
    /// now on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (policy) or [`Error::NotFound`].
    pub async fn set_password(&self, username: &str, new_password: String) -> Result<()> {
        password::check_policy(&new_password)?;
        self.find_row(username).await?;
        let hash = password::hash(new_password).await?;
        self.cache.forget(username);
        if !self.store.set_password_hash(username, &hash).await? {
            return Err(Error::NotFound { what: "user", name: username.to_string() });
        }
        tracing::info!(user = %username, "password changed");
        if username == FIRST_ADMIN {
            // The generated first password is no longer valid: its copy on disk goes.
            let file = initial_password_path(self.root());
            match std::fs::remove_file(&file) {
                Ok(()) => tracing::info!(file = %file.display(), "initial admin password removed"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(file = %file.display(), cause = %e,
                    "cannot remove the initial admin password file; delete it by hand"),
            }
        }
        Ok(())
    }

    /// Deletes an account (its shares and messages go with it). Keeps the home folder unless
    /// `purge_files`; returns the home path either way. Refuses to delete the last enabled admin.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Forbidden`] (last admin) or [`Error::Io`] (purge failed).
    pub async fn delete(&self, username: &str, purge_files: bool) -> Result<PathBuf> {
        let current = self.find_row(username).await?;
        if current.role == Role::Admin
            && current.enabled
            && self.store.count_enabled_admins().await? <= 1
        {
            return Err(Error::Forbidden(format!(
                "'{username}' is the last enabled admin; make another user admin first"
            )));
        }
        self.cache.forget(username);
        if !self.store.delete(username).await? {
            return Err(Error::NotFound { what: "user", name: username.to_string() });
        }
        let home = self.home_of(username);
        if purge_files && home.exists() {
            std::fs::remove_dir_all(&home).map_err(|cause| Error::Io {
                what: "user deleted, but cannot remove their files",
                path: home.clone(),
                cause,
                hint: Some("remove the folder by hand"),
            })?;
        }
        tracing::info!(user = %username, purged = purge_files, "user deleted");
        Ok(home)
    }

    /// Checks credentials for a login. Returns the account when the user exists, is enabled and
    /// the password matches; `None` otherwise, after the same amount of hashing work in every
    /// case so response times do not reveal which names exist.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<Option<Account>> {
        let row = if validate_username(username).is_ok() && password.len() <= 4 * 256 {
            self.store.find(username).await?
        } else {
            None
        };
        let row = row.filter(|r| r.enabled);
        if let Some(r) = &row
            && self.cache.check(username, password, &r.password_hash)
        {
            // A repeat login within the cache's lifetime: last_login_at was set by the
            // verified login that filled the entry, at most a few minutes ago.
            return Ok(row.map(Account::from));
        }
        let phc = row.as_ref().map(|r| r.password_hash.clone());
        if !password::verify(password.to_string(), phc).await {
            return Ok(None);
        }
        let Some(row) = row else { return Ok(None) };
        self.cache.remember(username, password, &row.password_hash);
        // The credentials are right whatever happens to this bookkeeping write: on a full disk
        // the user still gets in, and the engine does not count a failed login (issue 11,
        // item 5).
        if let Err(e) = self.store.touch_login(row.id).await {
            tracing::warn!(user = %username, cause = %e, "could not record the login time");
        }
        Ok(Some(row.into()))
    }

    /// Sets one profile field of `username`: `full_name`, `email`, `bio` or `email_public`
    /// (`yes`/`no`: whether other users see the email), the fields a user may change about
    /// themselves.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] for an unknown field, [`Error::InvalidInput`] for a bad value,
    /// [`Error::NotFound`].
    pub async fn set_profile_field(
        &self,
        username: &str,
        field: &str,
        value: &str,
    ) -> Result<Account> {
        let Some(field) = ProfileField::parse(field) else {
            return Err(Error::UnknownField {
                what: "profile field",
                name: field.to_ascii_lowercase(),
                expected: "full_name, email, bio or email_public",
            });
        };
        let value = value.to_string();
        let changes = match field {
            ProfileField::FullName => {
                AccountChanges { full_name: Some(value), ..Default::default() }
            }
            ProfileField::Email => AccountChanges { email: Some(value), ..Default::default() },
            ProfileField::Bio => AccountChanges { bio: Some(value), ..Default::default() },
            ProfileField::EmailPublic => {
                AccountChanges { email_public: Some(parse_yes_no(&value)?), ..Default::default() }
            }
        };
        self.update(username, changes).await
    }

    /// A user changes their own password: the current one must match and the new one pass the
    /// policy. New logins need the new password at once.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] when the current password is wrong, [`Error::InvalidInput`] for the
    /// policy, [`Error::NotFound`].
    pub async fn change_own_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
    ) -> Result<()> {
        let row = self.find_row(username).await?;
        if !password::verify(current.to_string(), Some(row.password_hash)).await {
            tracing::warn!(user = %username, "password change refused: wrong current password");
            return Err(Error::Forbidden("the current password is wrong".into()));
        }
        if current == new {
            return Err(Error::InvalidInput(
                "the new password must differ from the current one".into(),
            ));
        }
        self.set_password(username, new.to_string()).await
    }

    /// Ends every open session of `username`, in every daemon on this database, without
    /// disabling the account (they may log in again). Each daemon notices within
    /// [`ACCESS_RECHECK`] and answers the session's next command with `530`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when there is no such user, [`Error::Query`] on database failure.
    pub async fn kick(&self, username: &str) -> Result<()> {
        if !self.store.bump_session_generation(username).await? {
            return Err(Error::NotFound { what: "user", name: username.to_string() });
        }
        tracing::info!(user = %username, "sessions ended (kick)");
        Ok(())
    }

    /// A counter that moves whenever any account is disabled, deleted or kicked: while it
    /// stays the same, no open session has to end (read by [`crate::auth::access`]).
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn access_version(&self) -> Result<i64> {
        self.store.access_version().await
    }

    /// What decides whether `username`'s open sessions may go on: id, enabled flag and kick
    /// counter; `None` when there is no such user.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn standing(&self, username: &str) -> Result<Option<store::Standing>> {
        self.store.standing(username).await
    }

    /// Whether `username` is an enabled admin right now (checked at each admin command, so a
    /// demotion takes effect in running sessions too).
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn is_admin(&self, username: &str) -> Result<bool> {
        Ok(self.store.find(username).await?.is_some_and(|r| r.enabled && r.role == Role::Admin))
    }

    /// On a first start with no users, creates `admin` with a random password, writes the
    /// password to `<root>/initial-admin-password` (mode 0600; removed when the password of
    /// `admin` changes) and returns it so the caller can show it once it is serving.
    ///
    /// The file is written next to its place first and renamed into place only once the
    /// account exists: a start that fails afterwards (port in use) leaves the password on
    /// disk, and of two first starts at once only the one whose account was created writes it.
    ///
    /// # Errors
    ///
    /// As [`Accounts::add`], and [`Error::Io`] when the file cannot be written.
    pub async fn bootstrap_admin(&self) -> Result<Option<String>> {
        if self.store.count().await? > 0 {
            return Ok(None);
        }
        let password = password::generate();
        let path = initial_password_path(self.root());
        let draft = path.with_file_name(format!(".{INITIAL_PASSWORD_FILE}.{}", std::process::id()));
        // A draft left by a crashed start with the same process id would block create_new.
        let _ = std::fs::remove_file(&draft);
        write_private(&draft, &password)
            .map_err(|cause| Error::io("cannot write the first admin's password", &draft, cause))?;
        let added = self
            .add_with(
                NewAccount {
                    username: FIRST_ADMIN.into(),
                    password: password.clone(),
                    role: Role::Admin,
                    enabled: true,
                    full_name: "Administrator".into(),
                    email: String::new(),
                },
                // The whole data root is the operator's: an `admin` folder from an earlier
                // installation stays theirs.
                true,
            )
            .await;
        if let Err(e) = added {
            let _ = std::fs::remove_file(&draft);
            return Err(e);
        }
        std::fs::rename(&draft, &path)
            .map_err(|cause| Error::io("cannot write the first admin's password", &path, cause))?;
        Ok(Some(password))
    }

    /// The data root (the folder holding `home/`).
    fn root(&self) -> &Path {
        self.homes.parent().unwrap_or(&self.homes)
    }

    /// The number of enabled admins (a start with users but none says how to make one).
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn enabled_admins(&self) -> Result<i64> {
        self.store.count_enabled_admins().await
    }
}

/// Writes `text` to a new file at `path` readable and writable by its owner only (0600 from the
/// start, so no other user can read it in between).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        for ok in ["alice", "a", "bob_2", "j.doe", "x-y", &"a".repeat(32)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "Alice", "1abc", "_a", "a b", "a/b", "..", "a\\b", "é", &"a".repeat(33), "shared!"]
        {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_checked() {
        for ok in ["", "a@b.org", "first.last+x@sub.example.com"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "a@b", "@b.org", "a@@b.org", "a b@c.org", "a@.org", "a@b.org."] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_fields_parse() {
        assert_eq!(ProfileField::parse("Full_Name"), Some(ProfileField::FullName));
        assert_eq!(ProfileField::parse("name"), Some(ProfileField::FullName));
        assert_eq!(ProfileField::parse("EMAIL_public"), Some(ProfileField::EmailPublic));
        assert_eq!(ProfileField::parse("role"), None);
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("ADMIN").unwrap(), Role::Admin);
        assert_eq!(Role::parse("user").unwrap(), Role::User);
        assert!(Role::parse("root").is_err());
    }
}

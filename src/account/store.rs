//! `UserStore`: every SQL statement about users, profiles and password hashes.
//!
//! One statement per method; the service layer (`crate::account`) holds the rules.

use sqlx::SqlitePool;
use tracing::instrument;

use crate::db::now;
use crate::error::{Error, Result};

/// One row of `users`, including the password hash: never leaves the library.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Primary key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `admin` or `user`.
    pub role: String,
    /// Whether the account may log in.
    pub enabled: bool,
    /// Display name.
    pub full_name: String,
    /// Contact address.
    pub email: String,
    /// Free text about the user.
    pub bio: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// RFC 3339 time of the last successful login.
    pub last_login_at: Option<String>,
    /// RFC 3339 time of the last password change.
    pub password_changed_at: String,
    /// Raised by every kick: sessions that logged in with another value must end.
    pub session_generation: i64,
    /// Whether other users may see `email` (otherwise only the user and admins).
    pub email_public: bool,
}

/// What decides whether a user's open sessions may go on (see [`crate::auth::access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Standing {
    /// The row's id: a user deleted and added again under the same name gets a new one.
    pub id: i64,
    /// Whether the account may log in.
    pub enabled: bool,
    /// The kick counter.
    pub session_generation: i64,
}

/// The columns a profile or admin update may change; `None` leaves a column alone.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New display name.
    pub full_name: Option<String>,
    /// New email.
    pub email: Option<String>,
    /// New bio.
    pub bio: Option<String>,
    /// New role.
    pub role: Option<String>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New e-mail visibility.
    pub email_public: Option<bool>,
}

/// The text the triggers of migration `20261201000300_keep_an_enabled_admin` abort with when a
/// change would leave no enabled admin.
const LAST_ADMIN_ABORT: &str = "multiftp: last enabled admin";

/// Maps the last-admin trigger's abort to [`Error::Forbidden`] (the same refusal the service
/// layer gives when it sees the case first), anything else to [`Error::Query`].
fn last_admin_guard(username: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |e| match e {
        sqlx::Error::Database(d) if d.message().contains(LAST_ADMIN_ABORT) => Error::Forbidden(
            format!("'{username}' is the last enabled admin; make another user admin first"),
        ),
        e => Error::Query(e),
    }
}

/// SQL access to `users`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UserStore {
    pool: SqlitePool,
}

impl UserStore {
    /// Wraps a pool.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The number of users.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    /// The number of enabled admins.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn count_enabled_admins(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND enabled = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Inserts a user.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyExists`] when the name is taken, [`Error::Query`] otherwise.
    #[instrument(skip_all, fields(user = %username))]
    #[allow(clippy::too_many_arguments)]
    pub async fn insert(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        enabled: bool,
        full_name: &str,
        email: &str,
    ) -> Result<UserRow> {
        let now = now();
        sqlx::query_as(
            "INSERT INTO users (username, password_hash, role, enabled, full_name, email, \
             created_at, updated_at, password_changed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7) RETURNING *",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(enabled)
        .bind(full_name)
        .bind(email)
        .bind(&now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Error::AlreadyExists { what: "user", name: username.to_string() }
            }
            e => Error::Query(e),
        })
    }

    /// Finds a user by name.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn find(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = ?1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// All users, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn list(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users ORDER BY username").fetch_all(&self.pool).await?)
    }

    /// Applies `changes` to a user and returns the new row, or `None` if there is no such user.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] when it would leave no enabled admin (checked by the database, so
    /// two changes at once cannot both pass), [`Error::Query`] on database failure.
    #[instrument(skip_all, fields(user = %username))]
    pub async fn update(&self, username: &str, changes: &UserChanges) -> Result<Option<UserRow>> {
        sqlx::query_as(
            "UPDATE users SET full_name = COALESCE(?2, full_name), email = COALESCE(?3, email), \
             bio = COALESCE(?4, bio), role = COALESCE(?5, role), \
             enabled = COALESCE(?6, enabled), updated_at = ?7, \
             email_public = COALESCE(?8, email_public) \
             WHERE username = ?1 RETURNING *",
        )
        .bind(username)
        .bind(&changes.full_name)
        .bind(&changes.email)
        .bind(&changes.bio)
        .bind(&changes.role)
        .bind(changes.enabled)
        .bind(now())
        .bind(changes.email_public)
        .fetch_optional(&self.pool)
        .await
        .map_err(last_admin_guard(username))
    }

    /// Stores a new password hash; returns false if there is no such user.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    #[instrument(skip_all, fields(user = %username))]
    pub async fn set_password_hash(&self, username: &str, password_hash: &str) -> Result<bool> {
        let now = now();
        let done = sqlx::query(
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3, updated_at = ?3 \
             WHERE username = ?1",
        )
        .bind(username)
        .bind(password_hash)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a successful login.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn touch_login(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_login_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a user (their shares and messages go by cascade); false if there was none.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] when it would leave no enabled admin (checked by the database, so
    /// two changes at once cannot both pass), [`Error::Query`] on database failure.
    #[instrument(skip_all, fields(user = %username))]
    pub async fn delete(&self, username: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE username = ?1")
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(last_admin_guard(username))?;
        Ok(done.rows_affected() == 1)
    }

    /// The counter the migration's triggers raise whenever an account is disabled, deleted or
    /// kicked: while it stays the same, no open session has to end.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn access_version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT version FROM user_access_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The id, enabled flag and kick counter of a user, or `None` if there is no such user.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn standing(&self, username: &str) -> Result<Option<Standing>> {
        Ok(sqlx::query_as("SELECT id, enabled, session_generation FROM users WHERE username = ?1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Raises a user's kick counter, which ends their open sessions; false if there is no
    /// such user.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    #[instrument(skip_all, fields(user = %username))]
    pub async fn bump_session_generation(&self, username: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET session_generation = session_generation + 1 WHERE username = ?1",
        )
        .bind(username)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

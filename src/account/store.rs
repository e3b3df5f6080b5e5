//! `UserStore`: every SQL statement about users, profiles and password hashes.
//!
//! One statement per method; the service layer (`crate::account`) holds the rules.

use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Any, Database};
use tracing::instrument;

use crate::db::{DbFailure, Flag, Pool, classify, now};
use crate::error::{Error, Result};

/// A user's role, stored as the TEXT `admin` or `user` (sqlx's derive knows no `Any`, hence
/// the impls below).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May manage other users.
    Admin,
    /// An ordinary user.
    User,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    /// Parses `admin` or `user`, in any case.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            other => {
                Err(Error::InvalidInput(format!("unknown role '{other}': use 'admin' or 'user'")))
            }
        }
    }
}

impl sqlx::Type<Any> for Role {
    fn type_info() -> AnyTypeInfo {
        <str as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <str as sqlx::Type<Any>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Any> for Role {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <&str as sqlx::Encode<Any>>::encode(self.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Role {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as sqlx::Decode<Any>>::decode(value)?;
        Ok(Role::parse(text)?)
    }
}

/// One row of `users`, including the password hash: never leaves the library.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Primary key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Admin or ordinary user.
    pub role: Role,
    /// Whether the account may log in.
    #[sqlx(try_from = "Flag")]
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
    #[sqlx(try_from = "Flag")]
    pub email_public: bool,
}

/// What decides whether a user's open sessions may go on (see [`crate::auth::access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Standing {
    /// The row's id: a user deleted and added again under the same name gets a new one.
    pub id: i64,
    /// Whether the account may log in.
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    /// The kick counter.
    pub session_generation: i64,
}

/// The columns a profile or admin update may change; `None` leaves a column alone.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New display name.
    pub full_name: Option<String>,
    /// New email (the service validates it when not empty).
    pub email: Option<String>,
    /// New bio.
    pub bio: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New e-mail visibility.
    pub email_public: Option<bool>,
}

/// Maps the abort of the last-admin triggers (migration `20261201000300_keep_an_enabled_admin`)
/// to [`Error::Forbidden`] (the same refusal the service layer gives when it sees the case
/// first), anything else to [`Error::Query`].
///
/// The result code alone identifies the abort: those triggers are the only ones in the schema
/// that `RAISE` (a test below keeps it so), so a `SQLITE_CONSTRAINT_TRIGGER` from a change to
/// `users` cannot come from anywhere else and the message text need not be read.
fn last_admin_guard(username: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |e| match classify(&e) {
        DbFailure::Trigger => Error::Forbidden(format!(
            "'{username}' is the last enabled admin; make another user admin first"
        )),
        _ => Error::Query(e),
    }
}

/// SQL access to `users`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UserStore {
    pool: Pool,
}

impl UserStore {
    /// Wraps a pool.
    pub fn new(pool: Pool) -> Self {
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
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1 AND enabled = TRUE")
            .bind(Role::Admin)
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
        role: Role,
        enabled: bool,
        full_name: &str,
        email: &str,
    ) -> Result<UserRow> {
        let now = now();
        sqlx::query_as(
            "INSERT INTO users (username, password_hash, role, enabled, full_name, email, \
             created_at, updated_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) RETURNING *",
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
        .map_err(|e| match classify(&e) {
            DbFailure::Unique => Error::AlreadyExists { what: "user", name: username.to_string() },
            _ => Error::Query(e),
        })
    }

    /// Finds a user by name.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] on database failure.
    pub async fn find(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = $1")
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
            "UPDATE users SET full_name = COALESCE($2, full_name), email = COALESCE($3, email), \
             bio = COALESCE($4, bio), role = COALESCE($5, role), \
             enabled = COALESCE($6, enabled), updated_at = $7, \
             email_public = COALESCE($8, email_public) \
             WHERE username = $1 RETURNING *",
        )
        .bind(username)
        .bind(&changes.full_name)
        .bind(&changes.email)
        .bind(&changes.bio)
        .bind(changes.role)
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
            "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3 \
             WHERE username = $1",
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
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
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
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
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
        Ok(sqlx::query_as("SELECT id, enabled, session_generation FROM users WHERE username = $1")
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
            "UPDATE users SET session_generation = session_generation + 1 WHERE username = $1",
        )
        .bind(username)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`last_admin_guard`] tells the last-admin abort by its result code (SQLite) or SQLSTATE
    /// (PostgreSQL) alone, which is right only while no other trigger raises: a new `RAISE`
    /// must come with a way to tell them apart.
    #[test]
    fn only_the_last_admin_triggers_raise() {
        let mut raises = Vec::new();
        for backend in ["postgres", "sqlite"] {
            let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<_> =
                std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for path in files {
                let sql = std::fs::read_to_string(&path).unwrap().to_ascii_uppercase();
                if sql.contains("RAISE(") || sql.contains("RAISE (") || sql.contains("RAISE ") {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    raises.push(format!("{backend}/{name}"));
                }
            }
        }
        assert_eq!(
            raises,
            [
                "postgres/20261201000300_keep_an_enabled_admin.sql",
                "sqlite/20261201000300_keep_an_enabled_admin.sql"
            ]
        );
    }

    #[tokio::test]
    async fn roles_are_stored_as_text_and_the_last_admin_abort_is_forbidden() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open_sqlite(&dir.path().join("db")).await.unwrap();
        let store = UserStore::new(pool.clone());
        let row = store.insert("root", "x", Role::Admin, true, "", "").await.unwrap();
        assert_eq!(row.role, Role::Admin);
        let text: String = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
            .bind(row.id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, "admin");
        assert!(matches!(
            store.insert("root", "x", Role::User, true, "", "").await,
            Err(Error::AlreadyExists { .. })
        ));
        // Straight to the store: only the database's triggers stand in the way.
        let demote = UserChanges { role: Some(Role::User), ..Default::default() };
        assert!(matches!(store.update("root", &demote).await, Err(Error::Forbidden(_))));
        assert!(matches!(store.delete("root").await, Err(Error::Forbidden(_))));
        store.insert("second", "x", Role::Admin, true, "", "").await.unwrap();
        let row = store.update("root", &demote).await.unwrap().unwrap();
        assert_eq!(row.role, Role::User);
        assert_eq!(store.count_enabled_admins().await.unwrap(), 1);
    }
}

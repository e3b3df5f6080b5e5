//! `ftpadm init`: a new installation without starting the daemon. The only command that
//! creates a database.

use std::io::Write;

use anyhow::{Result, bail};
use multiftp::account::{FIRST_ADMIN, initial_password_path};
use multiftp::{App, Settings};
use serde_json::json;

use crate::output::Output;

/// Creates the root, homes and database (refusing an existing database) and the first admin,
/// whose password it prints and leaves in `<root>/initial-admin-password`.
pub async fn run(settings: Settings, out: &mut Output<impl Write>) -> Result<()> {
    if let Some(db) = settings.db.sqlite_path()
        && db.exists()
    {
        bail!(
            "a database already exists at {}; nothing changed ('ftpadm user list' shows its \
             users)",
            db.display()
        );
    }
    let app = App::open(settings).await?;
    let password = app.accounts.bootstrap_admin().await;
    app.pool.close().await;
    let s = &app.settings;
    let file = initial_password_path(&s.root);
    let Some(password) = password? else {
        // Another process created the database and its users in the meantime.
        bail!("{} already has users; nothing changed", s.db);
    };
    let text = format!(
        "created the database {} and the homes folder {}\ncreated the admin account:\n  \
         username: {FIRST_ADMIN}\n  password: {password}\nthe password is also in {} until you \
         change it with: ftpadm passwd {FIRST_ADMIN}",
        s.db,
        s.homes().display(),
        file.display(),
    );
    let value = json!({
        "root": s.root,
        "database": s.db,
        "username": FIRST_ADMIN,
        "password": password,
        "password_file": file,
    });
    out.done(text, value)
}

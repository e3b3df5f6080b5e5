//! `ftpadm user ...`: add, list, show, update and delete accounts.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Subcommand;
use multiftp::App;
use multiftp::account::{AccountChanges, NewAccount, Role};
use serde_json::json;

use crate::output::Output;
use crate::password::{PasswordArgs, read_password};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and their home folder.
    Add {
        /// Username: a lowercase letter, then lowercase letters, digits, '_', '.', '-' (max 32).
        name: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Display name.
        #[arg(long, value_name = "S")]
        full_name: Option<String>,
        /// Email address.
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// Create the account disabled (cannot log in until enabled).
        #[arg(long)]
        disabled: bool,
        /// Give the user the existing home folder of that name (left by a deleted account),
        /// files and all; without it such a folder stops the command.
        #[arg(long)]
        reuse_home: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List all users.
    List,
    /// Show one user.
    Show {
        /// The user.
        name: String,
    },
    /// Change a user's details, role or status.
    Update {
        /// The user.
        name: String,
        /// New display name.
        #[arg(long, value_name = "S")]
        full_name: Option<String>,
        /// New email address ("" clears it).
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// Make the user an admin.
        #[arg(long, conflicts_with = "no_admin")]
        admin: bool,
        /// Make the user an ordinary user.
        #[arg(long)]
        no_admin: bool,
        /// Allow the user to log in.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop the user from logging in; their open sessions end at their next command.
        #[arg(long)]
        disable: bool,
    },
    /// Delete a user, their shares and messages, and end their open sessions. Their files
    /// stay unless --purge-files.
    Delete {
        /// The user.
        name: String,
        /// Also delete the user's home folder and everything in it.
        #[arg(long)]
        purge_files: bool,
    },
}

impl UserCommand {
    /// Runs the command on `app`'s accounts.
    pub async fn run(self, app: &App, out: &mut Output<impl Write>) -> Result<()> {
        match self {
            UserCommand::Add { name, admin, full_name, email, disabled, reuse_home, password } => {
                multiftp::account::validate_username(&name)?;
                if app.accounts.get(&name).await.is_ok() {
                    bail!("user '{name}' already exists; use 'ftpadm user update' to change it");
                }
                let pw = read_password(&password, &format!("Password for {name}: "))?;
                let new = NewAccount {
                    username: name,
                    password: pw,
                    role: if admin { Role::Admin } else { Role::User },
                    enabled: !disabled,
                    full_name: full_name.unwrap_or_default(),
                    email: email.unwrap_or_default(),
                };
                let account = app.accounts.add_with(new, reuse_home).await?;
                let home = app.accounts.home_of(&account.username);
                let headline =
                    format!("user '{}' added, home {}", account.username, home.display());
                out.account(&account, &headline)
            }
            UserCommand::List => out.users(&app.accounts.list().await?),
            UserCommand::Show { name } => out.account(&app.accounts.get(&name).await?, ""),
            UserCommand::Update { name, full_name, email, admin, no_admin, enable, disable } => {
                let changes = AccountChanges {
                    full_name,
                    email,
                    bio: None,
                    role: match (admin, no_admin) {
                        (true, _) => Some(Role::Admin),
                        (_, true) => Some(Role::User),
                        _ => None,
                    },
                    enabled: match (enable, disable) {
                        (true, _) => Some(true),
                        (_, true) => Some(false),
                        _ => None,
                    },
                    email_public: None,
                };
                let account = app.accounts.update(&name, changes).await?;
                out.account(&account, &format!("user '{name}' updated"))
            }
            UserCommand::Delete { name, purge_files } => {
                let home = app.accounts.delete(&name, purge_files).await?;
                let text = if purge_files {
                    format!("user '{name}' deleted with their files")
                } else {
                    format!("user '{name}' deleted; their files are kept in {}", home.display())
                };
                out.done(text, json!({"deleted": name, "purged_files": purge_files, "home": home}))
            }
        }
    }
}

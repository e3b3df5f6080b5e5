//! `ftpadm profile ...`: show and change a user's profile (what SITE PROFILE and SETPROFILE
//! do over FTP).

use std::io::Write;

use anyhow::{Result, bail};
use clap::Subcommand;
use multiftp::App;
use multiftp::account::AccountChanges;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Show a user's profile.
    Show {
        /// The user.
        name: String,
    },
    /// Change a user's profile fields.
    Set {
        /// The user.
        name: String,
        /// New display name.
        #[arg(long, value_name = "S")]
        full_name: Option<String>,
        /// New email address ("" clears it).
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// New bio (at most 1000 characters).
        #[arg(long, value_name = "S")]
        bio: Option<String>,
        /// Show the email to other users in SITE PROFILE (yes), or only to the user and
        /// admins (no, the default).
        #[arg(long, value_name = "yes|no")]
        email_public: Option<String>,
    },
}

impl ProfileCommand {
    /// Runs the command on `app`'s accounts.
    pub async fn run(self, app: &App, out: &mut Output<impl Write>) -> Result<()> {
        match self {
            ProfileCommand::Show { name } => out.account(&app.accounts.get(&name).await?, ""),
            ProfileCommand::Set { name, full_name, email, bio, email_public } => {
                if full_name.is_none() && email.is_none() && bio.is_none() && email_public.is_none()
                {
                    bail!("nothing to change: give --full-name, --email, --bio or --email-public");
                }
                let email_public =
                    email_public.as_deref().map(multiftp::account::parse_yes_no).transpose()?;
                let changes = AccountChanges {
                    full_name,
                    email,
                    bio,
                    email_public,
                    ..AccountChanges::default()
                };
                let account = app.accounts.update(&name, changes).await?;
                out.account(&account, &format!("profile of '{name}' updated"))
            }
        }
    }
}

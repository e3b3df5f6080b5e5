//! `ftpadm share ...`: grant, list and revoke shares (what SITE SHARE, SHARES and UNSHARE do
//! over FTP, for any owner).

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use multiftp::App;
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share OWNER's PATH (a file or folder of their home) with RECIPIENT.
    Add {
        /// The user who owns the file.
        owner: String,
        /// The path inside the owner's home, e.g. /projects/plan.pdf.
        path: String,
        /// The user who gets read access.
        recipient: String,
    },
    /// List shares, all or those where --user is owner or recipient.
    List {
        /// Only shares of or to this user.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Revoke a share.
    Revoke {
        /// The user who owns the file.
        owner: String,
        /// The shared path inside the owner's home.
        path: String,
        /// The user who had access.
        recipient: String,
    },
}

impl ShareCommand {
    /// Runs the command on `app`'s shares.
    pub async fn run(self, app: &App, out: &mut Output<impl Write>) -> Result<()> {
        match self {
            ShareCommand::Add { owner, path, recipient } => {
                let (path, created) = app.shares.grant(&owner, &path, &recipient).await?;
                let seen_at = format!("/shared/{owner}{path}");
                let text = if created {
                    format!("{owner}:{path} shared with {recipient} (at {seen_at})")
                } else {
                    format!("{owner}:{path} was already shared with {recipient}")
                };
                let value = json!({
                    "shared": path,
                    "owner": owner,
                    "recipient": recipient,
                    "created": created,
                    "recipient_path": seen_at,
                });
                out.done(text, value)
            }
            ShareCommand::List { user } => out.shares(&app.shares.list(user.as_deref()).await?),
            ShareCommand::Revoke { owner, path, recipient } => {
                let path = app.shares.revoke(&owner, &path, &recipient).await?;
                let text = format!("{owner}:{path} no longer shared with {recipient}");
                out.done(text, json!({"revoked": path, "owner": owner, "recipient": recipient}))
            }
        }
    }
}

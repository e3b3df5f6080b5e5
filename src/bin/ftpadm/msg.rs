//! `ftpadm msg ...`: messages from the admin, which users read with SITE INBOX.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand};
use multiftp::App;
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum MsgCommand {
    /// Send a message from the admin, to one user or to everyone (e.g. before maintenance).
    Send {
        #[command(flatten)]
        recipients: Recipients,
        /// The message (at most 500 characters).
        text: String,
    },
}

/// Who gets a message: exactly one of `--to NAME` and `--all` (clap refuses neither and both,
/// with exit code 2).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Recipients {
    /// The recipient.
    #[arg(long, value_name = "NAME")]
    to: Option<String>,
    /// Send to every enabled user.
    #[arg(long)]
    all: bool,
}

impl MsgCommand {
    /// Runs the command on `app`'s messages.
    pub async fn run(self, app: &App, out: &mut Output<impl Write>) -> Result<()> {
        match self {
            MsgCommand::Send { recipients: Recipients { to: Some(to), .. }, text } => {
                app.messages.send_as_admin(&to, &text).await?;
                out.done(
                    format!("message sent to {to}"),
                    json!({"sent": 1, "to": to, "all": false}),
                )
            }
            // No --to: the group made it --all.
            MsgCommand::Send { recipients: Recipients { to: None, .. }, text } => {
                let n = app.messages.broadcast(&text).await?;
                let value = json!({"sent": n, "to": null, "all": true});
                out.done(format!("message sent to {n} user(s)"), value)
            }
        }
    }
}

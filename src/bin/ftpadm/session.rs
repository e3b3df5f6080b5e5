//! `ftpadm who` and `ftpadm kick`: the sessions of every daemon running on this database.

use std::io::Write;

use anyhow::Result;
use multiftp::App;
use serde_json::json;

use crate::output::Output;

/// `ftpadm who`: who is logged in now.
pub async fn who(app: &App, out: &mut Output<impl Write>) -> Result<()> {
    out.sessions(&app.sessions.online().await?)
}

/// `ftpadm kick NAME`: ends `name`'s sessions at their next command; the account stays enabled.
pub async fn kick(app: &App, out: &mut Output<impl Write>, name: &str) -> Result<()> {
    app.accounts.kick(name).await?;
    let online = app.sessions.online().await?.iter().filter(|s| s.username == name).count();
    let within = multiftp::account::ACCESS_RECHECK.as_secs();
    let text = format!(
        "sessions of '{name}' end at their next command, within {within} s ({online} online now)"
    );
    out.done(text, json!({"kicked": name, "online": online, "within_seconds": within}))
}

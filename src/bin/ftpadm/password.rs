//! Passwords: `ftpadm passwd`, and how every command that needs a password reads one (never
//! from the command line, so it stays out of `ps` and shell history).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use clap::Args;
use multiftp::App;
use serde_json::json;

use crate::output::Output;

/// Where a new password comes from.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

/// `ftpadm passwd NAME`: sets the password; for the first admin this also removes the file
/// that kept the generated one, and says so.
pub async fn passwd(
    app: &App,
    out: &mut Output<impl Write>,
    name: &str,
    password: &PasswordArgs,
) -> Result<()> {
    app.accounts.get(name).await?;
    let pw = read_password(password, &format!("New password for {name}: "))?;
    let file = multiftp::account::initial_password_path(&app.settings.root);
    let had_file = file.exists();
    app.accounts.set_password(name, pw).await?;
    let removed = had_file && !file.exists();
    let mut text = format!("password of '{name}' changed");
    if removed {
        text += &format!("\nremoved {}: the generated first password is gone", file.display());
    }
    out.done(text, json!({"password_changed": name, "removed_file": removed.then_some(&file)}))
}

/// Reads a password: the first line of stdin with --password-stdin, otherwise asked twice on
/// the terminal without echo.
pub fn read_password(args: &PasswordArgs, prompt: &str) -> Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading password from stdin")?;
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        if line.is_empty() {
            // Not "too short": an empty stdin (`</dev/null`, a variable that was not set) is a
            // scripting mistake, and the policy message would hide it.
            bail!(
                "standard input had no password: with --password-stdin, write the password as \
                 the first line of standard input"
            );
        }
        line
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).context("reading password")?;
        let second = rpassword::prompt_password("Repeat: ").context("reading password")?;
        if first != second {
            bail!("the passwords do not match; nothing was changed");
        }
        first
    } else {
        let _ = std::io::stderr().flush();
        bail!("no terminal to ask for the password: pass --password-stdin and write it to stdin");
    };
    multiftp::account::password::check_policy(&password)?;
    Ok(password)
}

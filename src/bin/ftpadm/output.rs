//! Everything `ftpadm` writes on standard output: tables, one account, and each command's
//! result as text or, with `--json`, as one JSON value. The commands decide what to say; this
//! module decides how it looks.
//!
//! Output goes through one locked stdout with `writeln!`, never `println!`, which panics when
//! the reader has gone: a reader that closes the pipe early (`ftpadm user list | head -1`)
//! turns the next write into [`ReaderGone`], which `main` treats as success, as ripgrep does.
//! Any other write failure (a full disk) is an ordinary error.

use std::fmt::Display;
use std::io::{self, Write};

use anyhow::Result;
use multiftp::account::Account;
use multiftp::session::SessionRow;
use multiftp::share::ShareRow;
use serde::Serialize;

/// The reader of standard output closed it before everything was written: nobody wants the
/// rest, so the command ends quietly with exit code 0.
#[derive(Debug)]
pub struct ReaderGone;

impl Display for ReaderGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed by its reader")
    }
}

impl std::error::Error for ReaderGone {}

/// Whether `error` only says that the reader of standard output went away.
pub fn reader_gone(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<ReaderGone>())
}

/// Where a command's output goes, and in which form (`--json` or text).
pub struct Output<W: Write> {
    w: W,
    json: bool,
}

impl<W: Write> Output<W> {
    /// Output to `w`, as JSON if `json`.
    pub fn new(w: W, json: bool) -> Self {
        Self { w, json }
    }

    /// One line of text, whatever the format (for the few messages that have no JSON form).
    fn line(&mut self, text: impl Display) -> Result<()> {
        writeln!(self.w, "{text}").map_err(write_error)
    }

    /// `value` as pretty JSON, one value per command.
    fn json(&mut self, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(text)
    }

    /// The result of a command that changed something: `text` (one or more lines), or with
    /// `--json` the object `value` saying what was done.
    pub fn done(&mut self, text: impl Display, value: serde_json::Value) -> Result<()> {
        if self.json { self.json(&value) } else { self.line(text) }
    }

    /// One account, under `headline` (if not empty) in text form; the account object in JSON.
    pub fn account(&mut self, account: &Account, headline: &str) -> Result<()> {
        if self.json {
            return self.json(account);
        }
        if !headline.is_empty() {
            self.line(headline)?;
        }
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        self.line(format_args!("username:   {}", account.username))?;
        self.line(format_args!("role:       {}", account.role.as_str()))?;
        self.line(format_args!("enabled:    {}", yes_no(account.enabled)))?;
        self.line(format_args!("full name:  {}", account.full_name))?;
        self.line(format_args!("email:      {}", account.email))?;
        self.line(format_args!("email public: {}", yes_no(account.email_public)))?;
        self.line(format_args!("bio:        {}", account.bio))?;
        self.line(format_args!("created:    {}", account.created_at))?;
        self.line(format_args!(
            "last login: {}",
            account.last_login_at.as_deref().unwrap_or("never")
        ))
    }

    /// The users table (`user list`), or a JSON array of accounts.
    pub fn users(&mut self, users: &[Account]) -> Result<()> {
        if self.json {
            return self.json(&users);
        }
        self.line(format_args!(
            "{:<20} {:<6} {:<8} {:<24} EMAIL",
            "USERNAME", "ROLE", "ENABLED", "FULL NAME"
        ))?;
        for u in users {
            self.line(format_args!(
                "{:<20} {:<6} {:<8} {:<24} {}",
                u.username,
                u.role.as_str(),
                if u.enabled { "yes" } else { "no" },
                u.full_name,
                u.email
            ))?;
        }
        Ok(())
    }

    /// The shares table (`share list`), or a JSON array of shares.
    pub fn shares(&mut self, rows: &[ShareRow]) -> Result<()> {
        if self.json {
            return self.json(&rows);
        }
        self.line(format_args!("{:<20} {:<20} {:<20} PATH", "OWNER", "RECIPIENT", "SINCE"))?;
        for r in rows {
            self.line(format_args!(
                "{:<20} {:<20} {:<20} {}",
                r.owner, r.recipient, r.created_at, r.path
            ))?;
        }
        Ok(())
    }

    /// The sessions table (`who`), or a JSON array of sessions.
    pub fn sessions(&mut self, rows: &[SessionRow]) -> Result<()> {
        if self.json {
            return self.json(&rows);
        }
        self.line(format_args!("{:<20} {:<22} {:<20} FROM", "USERNAME", "SINCE", "NODE"))?;
        for s in rows {
            self.line(format_args!(
                "{:<20} {:<22} {:<20} {}",
                s.username, s.started_at, s.node, s.client_addr
            ))?;
        }
        Ok(())
    }
}

/// A failed write to standard output: [`ReaderGone`] for a closed pipe, otherwise the cause.
fn write_error(e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        ReaderGone.into()
    } else {
        anyhow::Error::new(e).context("cannot write to standard output")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone, like a pipe after `head -1` exited.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_reader_gone_and_other_failures_are_errors() {
        let e = Output::new(ClosedPipe, false).done("x", serde_json::Value::Null).unwrap_err();
        assert!(reader_gone(&e), "{e:#}");
        let mut no_room = [0u8; 0];
        let mut full = Output::new(&mut no_room[..], false);
        let e = full.done("does not fit", serde_json::Value::Null).unwrap_err();
        assert!(!reader_gone(&e), "{e:#}");
        assert!(format!("{e:#}").contains("standard output"), "{e:#}");
    }

    #[test]
    fn done_prints_text_or_the_json_object() {
        let mut text = Vec::new();
        Output::new(&mut text, false)
            .done("user 'bob' deleted", serde_json::json!({"deleted": "bob"}))
            .unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), "user 'bob' deleted\n");
        let mut json = Vec::new();
        Output::new(&mut json, true)
            .done("user 'bob' deleted", serde_json::json!({"deleted": "bob"}))
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v, serde_json::json!({"deleted": "bob"}));
    }
}

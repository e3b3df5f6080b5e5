//! `SITE MSG <user> <text>` sends a short message (at most 500 characters, to an existing
//! user, at most 10 per minute per sender). `SITE INBOX` lists your latest 50 messages, oldest
//! first, and marks them read; unread ones are flagged `(new)`. Any logged-in user; 200, 501
//! on bad syntax, 550 when refused.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, one_line, split_word, usage};
use crate::account::LoggedIn;
use crate::message::Messages;

/// `SITE MSG`.
#[derive(Debug)]
pub struct Send {
    /// The message service.
    pub messages: Messages,
}

/// `SITE INBOX`.
#[derive(Debug)]
pub struct Inbox {
    /// The message service.
    pub messages: Messages,
}

#[async_trait]
impl SiteHandler for Send {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        let Some((to, text)) = split_word(req.args) else {
            return usage("MSG <user> <text>");
        };
        match self.messages.send(&me.username, to, text).await {
            Ok(()) => ok(format!("Message sent to {to}")),
            Err(e) => error_reply(&e),
        }
    }
}

#[async_trait]
impl SiteHandler for Inbox {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        if !req.args.trim().is_empty() {
            return usage("INBOX");
        }
        let rows = match self.messages.inbox(&me.username).await {
            Ok(rows) => rows,
            Err(e) => return error_reply(&e),
        };
        let unread = rows.iter().filter(|m| !m.was_read).count();
        let mut lines = vec![format!("{} message(s), {unread} new:", rows.len())];
        lines.extend(rows.iter().map(|m| {
            format!(
                "  {} {}{}: {}",
                m.sent_at,
                m.sender.as_deref().unwrap_or("(admin)"),
                if m.was_read { "" } else { " (new)" },
                one_line(&m.body)
            )
        }));
        lines.push("End of messages".into());
        Reply::multi(200, lines)
    }
}

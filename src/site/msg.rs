//! `SITE MSG <user> <text>` sends a short message (at most 500 characters, to an existing
//! user, at most 10 per minute per sender). `SITE INBOX` lists your latest 50 messages, oldest
//! first, and marks them read; unread ones are flagged `(new)`. Any logged-in user; 200, 501
//! on bad syntax, 550 when refused.

use async_trait::async_trait;

use super::{Call, SiteCommand, Syntax, no_args, ok, one_line, split_word};
use crate::error::Result;
use crate::ftp::Reply;
use crate::message::Messages;

/// `SITE MSG`.
#[derive(Debug)]
pub(super) struct Msg {
    pub(super) messages: Messages,
}

/// `SITE INBOX`.
#[derive(Debug)]
pub(super) struct Inbox {
    pub(super) messages: Messages,
}

#[async_trait]
impl SiteCommand for Msg {
    const NAME: &'static str = "MSG";
    const SYNTAX: &'static [Syntax] =
        &[Syntax { args: "<user> <text>", summary: "send a short message" }];
    /// Recipient and text (the rest of the line).
    type Request<'a> = (&'a str, &'a str);

    fn parse(args: &str) -> Option<(&str, &str)> {
        split_word(args)
    }

    async fn run(&self, (to, text): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        self.messages.send(&call.user.username, to, text).await?;
        Ok(ok(format!("Message sent to {to}")))
    }
}

#[async_trait]
impl SiteCommand for Inbox {
    const NAME: &'static str = "INBOX";
    const SYNTAX: &'static [Syntax] = &[Syntax { args: "", summary: "read your messages" }];
    type Request<'a> = ();

    fn parse(args: &str) -> Option<()> {
        no_args(args)
    }

    async fn run(&self, (): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let rows = self.messages.inbox(&call.user.username).await?;
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
        Ok(Reply::multi(200, lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_needs_a_recipient_and_text_and_inbox_nothing() {
        assert_eq!(Msg::parse("bob hi  there"), Some(("bob", "hi  there")));
        assert_eq!(Msg::parse("bob"), None);
        assert_eq!(Inbox::parse(" "), Some(()));
        assert_eq!(Inbox::parse("all"), None);
    }
}

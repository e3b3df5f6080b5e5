//! `SITE WHO`: who is online now, on every node (daemon) on this database (username, since
//! when and on which node, its `node_name`; admins also see each client's address). Any logged-in user; multi-line 200, 501 with
//! arguments.

use async_trait::async_trait;

use super::{Call, SiteCommand, Syntax, no_args};
use crate::error::Result;
use crate::ftp::Reply;
use crate::session::Sessions;

/// `SITE WHO`.
#[derive(Debug)]
pub(super) struct Who {
    pub(super) sessions: Sessions,
}

#[async_trait]
impl SiteCommand for Who {
    const NAME: &'static str = "WHO";
    const SYNTAX: &'static [Syntax] = &[Syntax { args: "", summary: "who is online now" }];
    type Request<'a> = ();

    fn parse(args: &str) -> Option<()> {
        no_args(args)
    }

    async fn run(&self, (): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let is_admin = call.is_admin().await?;
        let online = self.sessions.online().await?;
        let mut lines = vec![format!("{} session(s) online:", online.len())];
        lines.extend(online.iter().map(|s| {
            if is_admin {
                format!(
                    "  {:<20} since {}  on {}  from {}",
                    s.username, s.started_at, s.node, s.client_addr
                )
            } else {
                format!("  {:<20} since {}  on {}", s.username, s.started_at, s.node)
            }
        }));
        lines.push("End of list".into());
        Ok(Reply::multi(200, lines))
    }
}

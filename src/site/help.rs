//! `SITE HELP`: lists the custom SITE commands with their syntax (214, RFC 959 section 4.2).
//! Admin-only commands are listed for admins only (by the role of the login). Anyone logged in
//! may run it; arguments are ignored.

use async_trait::async_trait;

use super::{Audience, Call, SiteCommand, Syntax};
use crate::account::Role;
use crate::error::Result;
use crate::ftp::Reply;

/// `SITE HELP`, with its lines made once by the registry from every command's syntax.
#[derive(Debug)]
pub(super) struct Help {
    /// Each line of the listing, and who sees it.
    pub(super) lines: Vec<(Audience, String)>,
}

impl Help {
    /// The listing lines of one command: one per form.
    pub(super) fn lines_of(
        name: &str,
        syntax: &[Syntax],
        audience: Audience,
    ) -> Vec<(Audience, String)> {
        syntax
            .iter()
            .map(|s| {
                let form =
                    if s.args.is_empty() { name.to_string() } else { format!("{name} {}", s.args) };
                (audience, format!("  SITE {form:<36} {}", s.summary))
            })
            .collect()
    }
}

#[async_trait]
impl SiteCommand for Help {
    const NAME: &'static str = "HELP";
    const SYNTAX: &'static [Syntax] = &[Syntax { args: "", summary: "list these commands" }];
    type Request<'a> = ();

    fn parse(_args: &str) -> Option<()> {
        Some(())
    }

    async fn run(&self, (): Self::Request<'_>, call: &Call<'_>) -> Result<Reply> {
        let is_admin = call.user.role == Role::Admin;
        let mut lines = vec!["Custom SITE commands:".to_string()];
        lines.extend(
            self.lines
                .iter()
                .filter(|(audience, _)| is_admin || *audience == Audience::Anyone)
                .map(|(_, line)| line.clone()),
        );
        lines.push("End of list".to_string());
        Ok(Reply::multi(214, lines))
    }
}

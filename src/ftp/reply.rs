//! Replies (RFC 959 section 4.2): a three-digit code and one or more lines of text. Multi-line
//! replies use the `123-first` ... `123 last` form; inner lines that start with digits are
//! indented by one space so no client mistakes them for the end. Every line is stripped of CR
//! and LF, so nothing a user names (a file, a message) can inject a reply line.

use std::fmt::Write as _;

/// One reply: a code and its text lines, encoded as RFC 959 section 4.2 single or multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The code, 100..=599.
    pub code: u16,
    /// The text lines (at least one).
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Self { code, lines: vec![text.into()] }
    }

    /// A multi-line reply; an empty `lines` becomes one empty line.
    pub fn multi(code: u16, lines: Vec<String>) -> Self {
        if lines.is_empty() { Self::new(code, "") } else { Self { code, lines } }
    }

    /// `257 "<path>" <text>` with the path quoted per RFC 959 appendix II: embedded `"` are
    /// doubled.
    pub fn path(code: u16, path: &str, text: &str) -> Self {
        Self::new(code, format!("{} {text}", quote_path(path)))
    }

    /// Whether the code is a positive completion or preliminary reply (1xx, 2xx, 3xx).
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The wire form, CRLF-terminated.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.len() + 8).sum());
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let line = clean(line);
            if self.lines.len() == 1 {
                let _ = write!(out, "{} {line}\r\n", self.code);
            } else if i == 0 {
                let _ = write!(out, "{}-{line}\r\n", self.code);
            } else if i == last {
                let _ = write!(out, "{} {line}\r\n", self.code);
            } else if line.starts_with(|c: char| c.is_ascii_digit()) {
                // RFC 959 4.2: an inner line must not look like the last line.
                let _ = write!(out, " {line}\r\n");
            } else {
                let _ = write!(out, "{line}\r\n");
            }
        }
        out
    }
}

/// A path in double quotes with embedded quotes doubled (RFC 959 appendix II), CR/LF removed.
pub fn quote_path(path: &str) -> String {
    format!("\"{}\"", clean(path).replace('"', "\"\""))
}

/// `text` with CR and LF replaced by spaces: one line whatever it holds.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        std::borrow::Cow::Owned(text.replace(['\r', '\n'], " "))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_and_multi_line_forms() {
        assert_eq!(Reply::new(200, "OK").encode(), "200 OK\r\n");
        let r = Reply::multi(211, vec!["Features:".into(), "123 x".into(), "End".into()]);
        assert_eq!(r.encode(), "211-Features:\r\n 123 x\r\n211 End\r\n");
    }

    #[test]
    fn paths_are_quoted_and_cannot_inject_lines() {
        assert_eq!(Reply::path(257, "/a\"b", "created").encode(), "257 \"/a\"\"b\" created\r\n");
        assert_eq!(Reply::new(550, "x\r\n200 fake").encode(), "550 x  200 fake\r\n");
    }
}

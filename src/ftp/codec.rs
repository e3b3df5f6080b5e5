//! Reads command lines from the control connection (RFC 959 section 4.1: a command is a line
//! of Telnet NVT text ending in CRLF), with a hard bound on what one session may buffer and
//! the Telnet protocol (RFC 854) filtered out.
//!
//! Why a bound: a client that never sends a line end must not make the server buffer without
//! limit. [`LineReader`] never holds more than its limit plus one read; a longer line is
//! discarded up to its end and reported once as [`Line::TooLong`] (the session answers 500 and
//! keeps going).
//!
//! Telnet (RFC 959 section 4.1 says the control connection follows the Telnet protocol): clients
//! send `IAC IP` and a Synch (`IAC DM` as urgent data) before `ABOR` (RFC 959 section 4.1.3),
//! and may negotiate options. Commands are removed, `IAC IAC` is a data byte 0xFF, and an `IAC`
//! whose next byte is not a command (the urgent `DM` was taken out of band by the kernel) is
//! dropped, the byte kept. `CR NUL` is a bare CR (RFC 854, "NVT printer").
//!
//! Memory: a session waiting for its next command holds a buffer of 256 bytes; the buffer grows
//! (at most 4 KiB per read) only while a long line or a burst of pipelined lines is read, and is
//! released again once empty.
//!
//! Cancel safety: [`LineReader::read_line`] may be dropped at any `.await` (in a `select!`
//! while a transfer runs) without losing bytes; everything read is kept in the reader.

use tokio::io::{AsyncRead, AsyncReadExt};

/// One result of [`LineReader::read_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A command line without its line end, Telnet commands removed.
    Command(Vec<u8>),
    /// A line longer than the limit was read and thrown away.
    TooLong,
}

/// Telnet `IAC` (interpret as command, RFC 854).
const IAC: u8 = 255;
/// The smallest Telnet command byte (`SE`); bytes below it after `IAC` are not commands.
const FIRST_COMMAND: u8 = 240;
/// `WILL`, `WONT`, `DO`, `DONT` (251..=254) are followed by an option byte.
const FIRST_NEGOTIATION: u8 = 251;

/// The smallest read; the capacity an idle session keeps.
const MIN_READ: usize = 256;
/// The largest growth of the buffer for one read.
const MAX_READ: usize = 4096;

/// Where the Telnet decoder stands between bytes (sequences may be split across reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    /// Ordinary data.
    Data,
    /// After `IAC`.
    Iac,
    /// After `IAC WILL|WONT|DO|DONT`: the option byte comes next.
    Option,
}

/// Splits the control connection's bytes into command lines. See the module docs.
#[derive(Debug)]
pub struct LineReader {
    /// Longest line accepted, in bytes after Telnet decoding, without the line end.
    limit: usize,
    /// One buffer for both the line being decoded and the bytes not yet decoded:
    /// `buf[..cooked]` is the decoded part of the current line, `buf[raw..]` the bytes read
    /// but not yet looked at. Decoding never produces more bytes than it consumes, so it
    /// works in place: `cooked + cr as usize <= raw` always holds.
    buf: Vec<u8>,
    /// End of the decoded part of the current line.
    cooked: usize,
    /// Start of the bytes not yet decoded.
    raw: usize,
    /// A CR was read and not yet emitted: what follows decides (LF ends the line, NUL makes
    /// it a bare CR, anything else keeps it).
    cr: bool,
    /// Where the Telnet decoder stands, kept across reads.
    telnet: Telnet,
    /// The current line is over the limit: bytes are dropped up to its LF.
    discarding: bool,
}

impl LineReader {
    /// A reader for lines of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            buf: Vec::new(),
            cooked: 0,
            raw: 0,
            cr: false,
            telnet: Telnet::Data,
            discarding: false,
        }
    }

    /// Changes the line limit (after login); applies to the line being read too.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Next line without its CRLF/LF, Telnet commands removed. Ok(None) at EOF (a partial
    /// last line without LF at EOF is dropped). Never buffers more than `limit` (+ one read
    /// buffer of at most 4 KiB): a line longer than `limit` is discarded up to its LF and
    /// reported once as TooLong.
    pub async fn read_line<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        r: &mut R,
    ) -> std::io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.decode() {
                return Ok(Some(line));
            }
            self.make_room();
            // `read_buf` fills only the spare capacity reserved by `make_room`, and keeps
            // nothing outside `self.buf`, so dropping this future loses no byte.
            if r.read_buf(&mut self.buf).await? == 0 {
                self.clear();
                return Ok(None);
            }
        }
    }

    /// Bytes read from the socket but not yet returned as a line. AUTH TLS must switch to TLS
    /// with this empty (the engine refuses pipelined bytes after AUTH TLS).
    pub fn buffered(&self) -> usize {
        (self.buf.len() - self.raw)
            + self.cooked
            + usize::from(self.cr)
            + usize::from(self.telnet != Telnet::Data)
            + usize::from(self.discarding)
    }

    /// Drop what is buffered (after a refused pipelined AUTH).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.cooked = 0;
        self.raw = 0;
        self.cr = false;
        self.telnet = Telnet::Data;
        self.discarding = false;
    }

    /// Decodes buffered bytes until a line is complete (returned) or the bytes run out.
    fn decode(&mut self) -> Option<Line> {
        while self.raw < self.buf.len() {
            let byte = self.buf[self.raw];
            self.raw += 1;
            match self.telnet {
                Telnet::Option => self.telnet = Telnet::Data,
                Telnet::Iac => {
                    self.telnet = Telnet::Data;
                    match byte {
                        // IAC IAC: one data byte 0xFF (RFC 854).
                        IAC => {
                            if let Some(line) = self.data(IAC) {
                                return Some(line);
                            }
                        }
                        FIRST_NEGOTIATION.. => self.telnet = Telnet::Option,
                        // IP, DM, AYT, NOP, ...: a two-byte command, removed.
                        FIRST_COMMAND.. => {}
                        // Not a command: the DM of a Synch went out of band, leaving its
                        // IAC in band. Drop the IAC, keep the byte.
                        _ => {
                            if let Some(line) = self.data(byte) {
                                return Some(line);
                            }
                        }
                    }
                }
                Telnet::Data if byte == IAC => self.telnet = Telnet::Iac,
                Telnet::Data => {
                    if let Some(line) = self.data(byte) {
                        return Some(line);
                    }
                }
            }
        }
        None
    }

    /// Handles one data byte (after Telnet decoding); returns the line it completes.
    fn data(&mut self, byte: u8) -> Option<Line> {
        if self.cr {
            self.cr = false;
            match byte {
                // CRLF: the line end (RFC 959 section 4.1), the CR is not part of the line.
                b'\n' => return Some(self.end_line()),
                // CR NUL: a bare CR (RFC 854).
                0 => {
                    self.emit(b'\r');
                    return None;
                }
                _ => self.emit(b'\r'),
            }
        }
        match byte {
            // A bare LF ends a line too: many clients and scripts send it.
            b'\n' => Some(self.end_line()),
            b'\r' => {
                self.cr = true;
                None
            }
            _ => {
                self.emit(byte);
                None
            }
        }
    }

    /// Appends a decoded byte to the current line, or starts discarding it when too long.
    fn emit(&mut self, byte: u8) {
        if self.discarding {
            return;
        }
        if self.cooked >= self.limit {
            self.discarding = true;
            self.cooked = 0;
            return;
        }
        // In place: `cooked < raw` here (see the field docs), so no unread byte is touched.
        self.buf[self.cooked] = byte;
        self.cooked += 1;
    }

    /// Finishes the current line and returns it.
    fn end_line(&mut self) -> Line {
        let line = if self.discarding {
            self.discarding = false;
            Line::TooLong
        } else {
            Line::Command(self.buf[..self.cooked].to_vec())
        };
        // The next line is decoded from the start of the buffer, in front of the unread bytes.
        self.cooked = 0;
        if self.raw == self.buf.len() {
            self.raw = 0;
            if self.buf.capacity() > 2 * MIN_READ {
                // Give back what a long line or a burst of pipelined lines took.
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
        line
    }

    /// Before a read: drops the bytes already decoded and reserves room for the read.
    fn make_room(&mut self) {
        // Everything in `buf[raw..]` has been decoded (decode ran to the end), so the buffer
        // keeps only the current line and, when a CR is pending, the one byte of room it needs.
        let keep = self.cooked + usize::from(self.cr);
        self.buf.truncate(keep);
        self.raw = keep;
        let spare = self.buf.capacity() - self.buf.len();
        if spare < MIN_READ {
            // Double, within MIN_READ..=MAX_READ per read: short lines cost one small buffer,
            // a long line (bounded by `limit`) a few reallocations.
            let grow = self.buf.capacity().clamp(MIN_READ, MAX_READ);
            self.buf.reserve_exact(grow);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// An in-memory reader that returns the given chunks one read at a time.
    struct Chunks(Vec<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.0.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let chunk = &mut self.0[0];
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.0.remove(0);
            }
            Poll::Ready(Ok(()))
        }
    }

    fn cmd(s: &[u8]) -> Line {
        Line::Command(s.to_vec())
    }

    /// All lines of `input` read with `limit`, in one read and split into every 1-byte read.
    async fn lines(limit: usize, input: &[u8]) -> Vec<Line> {
        let whole = read_all(limit, Chunks(vec![input.to_vec()])).await;
        let bytes = read_all(limit, Chunks(input.iter().map(|b| vec![*b]).collect())).await;
        assert_eq!(whole, bytes, "byte-by-byte reading differs for {input:?}");
        whole
    }

    async fn read_all(limit: usize, mut r: Chunks) -> Vec<Line> {
        let mut reader = LineReader::new(limit);
        let mut out = Vec::new();
        while let Some(line) = reader.read_line(&mut r).await.unwrap() {
            out.push(line);
        }
        assert_eq!(reader.buffered(), 0);
        out
    }

    #[tokio::test]
    async fn splits_lines_on_crlf_and_lf() {
        assert_eq!(
            lines(100, b"USER a\r\nPASS b\nNOOP\r\n\r\n").await,
            vec![cmd(b"USER a"), cmd(b"PASS b"), cmd(b"NOOP"), cmd(b"")]
        );
    }

    #[tokio::test]
    async fn partial_last_line_is_dropped_at_eof() {
        assert_eq!(lines(100, b"NOOP\r\nQUI").await, vec![cmd(b"NOOP")]);
        assert_eq!(lines(100, b"NOOP\r\nQUIT\r").await, vec![cmd(b"NOOP")]);
        assert_eq!(lines(100, b"").await, vec![]);
    }

    #[tokio::test]
    async fn carriage_returns() {
        // Bare CR kept, CR NUL is a CR, CR CR LF keeps one CR.
        assert_eq!(
            lines(100, b"a\rb\r\nc\r\0d\r\ne\r\r\n").await,
            vec![cmd(b"a\rb"), cmd(b"c\rd"), cmd(b"e\r")]
        );
        // CR NUL right before the line end stays a CR.
        assert_eq!(lines(100, b"x\r\0\r\n").await, vec![cmd(b"x\r")]);
    }

    #[tokio::test]
    async fn nul_bytes_elsewhere_are_kept() {
        assert_eq!(lines(100, b"RETR a\0b\r\n").await, vec![cmd(b"RETR a\0b")]);
    }

    #[tokio::test]
    async fn telnet_commands_are_removed() {
        // IAC IAC is one 0xFF.
        assert_eq!(lines(100, b"a\xff\xffb\r\n").await, vec![cmd(b"a\xffb")]);
        // Option negotiation: IAC WILL/WONT/DO/DONT <opt>, 3 bytes, even when <opt> is IAC or LF.
        assert_eq!(
            lines(100, b"\xff\xfb\x01N\xff\xfc\x03O\xff\xfd\xffO\xff\xfe\nP\r\n").await,
            vec![cmd(b"NOOP")]
        );
        // IP, DM, AYT, NOP, GA, SE, SB: 2 bytes.
        assert_eq!(
            lines(100, b"\xff\xf4\xff\xf2AB\xff\xf6\xff\xf1\xff\xf9\xff\xf0\xff\xfaOR\r\n").await,
            vec![cmd(b"ABOR")]
        );
    }

    #[tokio::test]
    async fn synch_with_out_of_band_dm() {
        // The client sends IAC IP IAC DM ABOR; the kernel took the urgent DM out of band, so
        // the stream holds IAC IP IAC 'A' 'B' 'O' 'R': the lone IAC is dropped.
        assert_eq!(lines(100, b"\xff\xf4\xffABOR\r\n").await, vec![cmd(b"ABOR")]);
        // A lone IAC before the line end does not swallow it.
        assert_eq!(lines(100, b"NOOP\xff\r\nSTAT\r\n").await, vec![cmd(b"NOOP"), cmd(b"STAT")]);
    }

    #[tokio::test]
    async fn long_lines_are_reported_once_and_skipped() {
        let mut input = b"NOOP\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50));
        input.extend_from_slice(b"\r\nPWD\r\n");
        assert_eq!(lines(10, &input).await, vec![cmd(b"NOOP"), Line::TooLong, cmd(b"PWD")]);
        // Exactly the limit is fine, one more byte is not (CRLF does not count).
        assert_eq!(lines(4, b"ABCD\r\nABCDE\r\n").await, vec![cmd(b"ABCD"), Line::TooLong]);
        // A CR kept in the line counts.
        assert_eq!(lines(4, b"ABC\r\r\nABCD\r\r\n").await, vec![cmd(b"ABC\r"), Line::TooLong]);
        // A long line cut by EOF is dropped without a report.
        assert_eq!(lines(4, b"ABCDEFGH").await, vec![]);
    }

    #[tokio::test]
    async fn memory_stays_bounded_without_a_line_end() {
        // 4 MiB without LF, then EOF: nothing comes out.
        let mut reader = LineReader::new(512);
        let mut r = Chunks(vec![vec![b'x'; 64 * 1024]; 64]);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), None);
        // Feed the reader by hand, checking the buffer after every read.
        let mut reader = LineReader::new(512);
        for _ in 0..1000 {
            reader.make_room();
            let spare = reader.buf.capacity() - reader.buf.len();
            reader.buf.extend(std::iter::repeat_n(b'y', spare));
            assert!(reader.decode().is_none());
            assert!(reader.buf.capacity() <= 512 + MAX_READ + 1, "{}", reader.buf.capacity());
        }
        reader.buf.extend_from_slice(b"\nOK\n");
        assert_eq!(reader.decode(), Some(Line::TooLong));
        assert_eq!(reader.decode(), Some(cmd(b"OK")));
    }

    #[tokio::test]
    async fn idle_reader_keeps_a_small_buffer() {
        let mut reader = LineReader::new(8192);
        let mut big = vec![b'z'; 6000];
        big.extend_from_slice(b"\r\n");
        let mut r = Chunks(vec![big]);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), Some(cmd(&vec![b'z'; 6000])));
        assert_eq!(reader.buf.capacity(), 0);
        let mut r = Chunks(vec![b"NOOP\r\n".to_vec()]);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), Some(cmd(b"NOOP")));
        assert!(reader.buf.capacity() <= 2 * MIN_READ);
    }

    #[tokio::test]
    async fn pipelined_bytes_are_counted_and_can_be_cleared() {
        let mut reader = LineReader::new(100);
        let mut r = Chunks(vec![b"AUTH TLS\r\n\x16\x03\x01".to_vec()]);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), Some(cmd(b"AUTH TLS")));
        assert_eq!(reader.buffered(), 3);
        reader.clear();
        assert_eq!(reader.buffered(), 0);
        let mut r = Chunks(vec![b"AUTH TLS\r\n".to_vec()]);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), Some(cmd(b"AUTH TLS")));
        assert_eq!(reader.buffered(), 0);
    }

    #[tokio::test]
    async fn limit_can_change_between_lines() {
        let mut reader = LineReader::new(4);
        let mut r = Chunks(vec![b"USER alice\r\n".to_vec(), b"USER alice\r\n".to_vec()]);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), Some(Line::TooLong));
        reader.set_limit(100);
        assert_eq!(reader.read_line(&mut r).await.unwrap(), Some(cmd(b"USER alice")));
    }

    #[tokio::test]
    async fn cancelled_reads_lose_nothing() {
        // A reader that is pending between chunks: a cancelled read_line must keep what it
        // already decoded.
        let (mut client, mut server) = tokio::io::duplex(64);
        let mut reader = LineReader::new(100);
        use tokio::io::AsyncWriteExt;
        client.write_all(b"NO").await.unwrap();
        let timed_out = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            reader.read_line(&mut server),
        )
        .await;
        assert!(timed_out.is_err());
        assert_eq!(reader.buffered(), 2);
        client.write_all(b"OP\r\n").await.unwrap();
        assert_eq!(reader.read_line(&mut server).await.unwrap(), Some(cmd(b"NOOP")));
    }
}

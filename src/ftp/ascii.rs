//! `TYPE A` (RFC 959 section 3.1.1.1): on the wire, lines end in CRLF (NVT-ASCII); on disk, in
//! LF. [`Ascii`] wraps a data stream: what is written to it (RETR) has each bare LF turned into
//! CRLF, what is read from it (STOR) has each CRLF turned into LF. Other bytes pass unchanged
//! (UTF-8 text stays intact).

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A data stream with end-of-line conversion both ways.
pub struct Ascii<S> {
    inner: S,
    /// Converted bytes not yet accepted by `inner` (write side).
    out: Vec<u8>,
    /// The last byte written was CR (so an LF after it is already CRLF).
    wrote_cr: bool,
    /// A CR was read at the end of a read and held back to see whether LF follows.
    held_cr: bool,
}

impl<S> Ascii<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner, out: Vec::new(), wrote_cr: false, held_cr: false }
    }
}

impl<S: AsyncWrite + Unpin> Ascii<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.out.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.out.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Ascii<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        // Only take new bytes once the previous ones are out: memory stays bounded.
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        this.out.reserve(buf.len() + buf.len() / 16);
        for &b in buf {
            if b == b'\n' && !this.wrote_cr {
                this.out.push(b'\r');
            }
            this.out.push(b);
            this.wrote_cr = b == b'\r';
        }
        // Start sending now; what does not fit goes out on the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Ascii<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            let room = buf.remaining();
            if room < 2 {
                // Always leave space for a held CR plus one byte.
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut tmp = vec![0u8; room.min(64 << 10) - 1];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let got = rb.filled();
            if got.is_empty() {
                // End of stream: a CR held back was a lone CR.
                if this.held_cr {
                    this.held_cr = false;
                    buf.put_slice(b"\r");
                }
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            let mut out = Vec::with_capacity(got.len() + 1);
            for &b in got {
                if this.held_cr {
                    this.held_cr = false;
                    if b != b'\n' {
                        out.push(b'\r');
                    }
                }
                if b == b'\r' {
                    this.held_cr = true;
                } else {
                    out.push(b);
                }
            }
            buf.put_slice(&out);
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
            // Only a held CR so far: read on (returning nothing would mean end of stream).
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_lf_as_crlf_and_keeps_existing_crlf() {
        let mut a = Ascii::new(Vec::new());
        a.write_all(b"a\nb\r\nc\r").await.unwrap();
        a.write_all(b"\nd\n").await.unwrap();
        a.flush().await.unwrap();
        assert_eq!(a.inner, b"a\r\nb\r\nc\r\nd\r\n");
    }

    #[tokio::test]
    async fn reads_crlf_as_lf_across_chunk_borders() {
        let (mut w, r) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            w.write_all(b"a\r").await.unwrap();
            w.flush().await.unwrap();
            tokio::task::yield_now().await;
            w.write_all(b"\nb\rc\r\n\r").await.unwrap();
        });
        let mut a = Ascii::new(r);
        let mut got = Vec::new();
        a.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, b"a\nb\rc\n\r");
    }
}

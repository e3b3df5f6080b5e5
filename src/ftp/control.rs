//! The control connection's byte stream: plain TCP, or TLS after `AUTH TLS` (RFC 4217) or on
//! the implicit-TLS port, with the switch between the two. A plain read steps past TCP's
//! urgent mark, so the Telnet Synch a client sends before ABOR does not stall the session.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// The control connection: plain, or TLS after `AUTH TLS` / on the implicit port.
pub(crate) enum Control {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS.
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while switching between the two.
    Switching,
}

impl Control {
    pub fn is_tls(&self) -> bool {
        matches!(self, Control::Tls(_))
    }
}

fn switching() -> std::io::Error {
    std::io::Error::other("control connection is switching to or from TLS")
}

impl AsyncRead for Control {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Control::Plain(s) => {
                let before = buf.filled().len();
                std::task::ready!(Pin::new(&mut *s).poll_read(cx, buf))?;
                if buf.filled().len() > before && buf.remaining() > 0 {
                    read_past_urgent_mark(s, buf);
                }
                Poll::Ready(Ok(()))
            }
            Control::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Control::Switching => Poll::Ready(Err(switching())),
        }
    }
}

/// Linux ends a read at TCP's urgent mark (the Telnet Synch a client sends before ABOR, RFC
/// 959 section 4.1.3 and RFC 854), and tokio takes a short read to mean the socket is drained,
/// so it would wait for new data that may never come while `ABOR` sits in the buffer. One
/// direct non-blocking read past the mark fixes that; it finds nothing in the usual case.
fn read_past_urgent_mark(s: &TcpStream, buf: &mut ReadBuf<'_>) {
    use std::io::Read as _;
    let mut more = [0u8; 512];
    let room = buf.remaining().min(more.len());
    let socket = socket2::SockRef::from(s);
    if let Ok(n) = (&*socket).read(&mut more[..room])
        && n > 0
    {
        buf.put_slice(&more[..n]);
    }
}

impl AsyncWrite for Control {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Control::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Control::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Control::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Control::Plain(s) => Pin::new(s).poll_flush(cx),
            Control::Tls(s) => Pin::new(s).poll_flush(cx),
            Control::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Control::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Control::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Control::Switching => Poll::Ready(Err(switching())),
        }
    }
}

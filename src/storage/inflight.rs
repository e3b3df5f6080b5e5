//! Counts transfers in flight, so a shutdown can wait for them. libunftp's own shutdown closes
//! every session at once, data connections included; multiftp first stops new logins, waits
//! for this count to reach zero (within the grace period), and only then lets libunftp close
//! the idle sessions.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Notify;

/// Shared between every session's storage backend and the shutdown logic.
#[derive(Debug, Default)]
pub struct Transfers {
    running: AtomicUsize,
    draining: AtomicBool,
    idle: Notify,
}

/// Held while a transfer runs; dropping it ends the transfer.
#[derive(Debug)]
pub struct Guard(Arc<Transfers>);

impl Transfers {
    /// A new counter.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Marks a transfer as started.
    pub fn start(self: &Arc<Self>) -> Guard {
        self.running.fetch_add(1, Ordering::SeqCst);
        Guard(Arc::clone(self))
    }

    /// Transfers running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// From now on, refuse new logins.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether a shutdown is draining transfers.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Completes when no transfer runs.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A download reader that counts as a running transfer until libunftp drops it.
pub struct Counted<R> {
    inner: R,
    _guard: Guard,
}

impl<R> Counted<R> {
    /// Wraps `inner`, holding `guard` for its lifetime.
    pub fn new(inner: R, guard: Guard) -> Self {
        Self { inner, _guard: guard }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_idle_returns_when_the_last_guard_drops() {
        let t = Transfers::new();
        let g1 = t.start();
        let g2 = t.start();
        assert_eq!(t.running(), 2);
        let waiter = tokio::spawn({
            let t = Arc::clone(&t);
            async move { t.wait_idle().await }
        });
        drop(g1);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(g2);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert_eq!(t.running(), 0);
    }
}

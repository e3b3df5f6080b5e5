//! The upload commands: STOR, APPE and STOU (RFC 959 4.1.3; REST before STOR per RFC 3659
//! section 5). An upload that replaces a file is committed only while the client is still
//! there ([`Session::client_alive`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::super::control::Control;
use super::super::session::{Flow, Session};
use super::super::{Backend, Reply, Storage, WriteMode};
use super::StoreKind;
use super::transfer::Op;

impl<B: Backend> Session<B> {
    /// STOR, APPE and STOU (RFC 959 4.1.3; REST before STOR per RFC 3659 section 5).
    pub(super) async fn store_cmd(
        &mut self,
        verb: &'static str,
        arg: Option<String>,
        kind: StoreKind,
    ) -> std::io::Result<Flow> {
        let Some((storage, offset)) = self.begin_transfer(verb).await? else {
            return Ok(Flow::Continue);
        };
        let (path, mode) = match kind {
            StoreKind::Stor => {
                (self.resolve(arg.as_deref().unwrap_or("")), WriteMode::Write { offset })
            }
            StoreKind::Appe => (self.resolve(arg.as_deref().unwrap_or("")), WriteMode::Append),
            StoreKind::Stou => match self.unique_name(&*storage, arg.as_deref()).await {
                Some(p) => (p, WriteMode::CreateNew),
                None => {
                    let reply = Reply::new(553, "Could not find a unique file name");
                    return self.refuse_transfer(verb, reply).await;
                }
            },
        };
        if path == "/" {
            return self.refuse_transfer(verb, Reply::new(553, "Not a file name")).await;
        }
        if let Ok(m) = storage.stat(&path).await
            && m.is_dir()
        {
            return self.refuse_transfer(verb, Reply::new(550, "A folder has that name")).await;
        }
        let name = super::super::path::file_name(&path).to_string();
        let opening = if kind == StoreKind::Stou {
            // RFC 1123 4.1.2.9: the reply names the file.
            Reply::new(150, format!("FILE: {name}"))
        } else {
            Reply::new(150, format!("Ok to send data for {name}"))
        };
        let Some(conn) = self.connect_data(verb, opening).await? else {
            return Ok(Flow::Continue);
        };
        let alive = self.client_alive();
        self.transfer_file(verb, storage, path, Op::Store { mode }, conn, alive).await
    }

    /// A free name for STOU: the argument (or `file`) with a numeric suffix if taken.
    async fn unique_name(&self, storage: &B::Storage, arg: Option<&str>) -> Option<String> {
        let base = self.resolve(arg.filter(|a| !a.is_empty()).unwrap_or("file"));
        if storage.stat(&base).await.is_err() {
            return Some(base);
        }
        for n in 1..1000u32 {
            let candidate = format!("{base}.{n}");
            if storage.stat(&candidate).await.is_err() {
                return Some(candidate);
            }
        }
        None
    }

    /// Whether the client is still there, asked by storage before an upload replaces a file:
    /// its control connection must not be closed, unless it sent QUIT first (then the
    /// transfer completes, RFC 959 4.1.1). Checked on a duplicate of the control socket
    /// (`MSG_PEEK`), so it sees a close the session has not read yet.
    fn client_alive(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let probe = match &self.control {
            Control::Plain(t) => socket2::SockRef::from(t).try_clone().ok(),
            Control::Tls(s) => socket2::SockRef::from(s.get_ref().0).try_clone().ok(),
            Control::Switching => None,
        };
        self.quit_queued.store(false, Ordering::Relaxed);
        let quit = Arc::clone(&self.quit_queued);
        move || {
            let Some(probe) = &probe else { return true };
            let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
            match probe.peek(&mut byte) {
                Ok(0) => quit.load(Ordering::Relaxed),
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            }
        }
    }
}

//! [`ConfinedDir`]: the folder a storage operation works in (a user's home, or a shared item
//! below another user's home), and the blocking-pool hop every metadata-sized operation on it
//! takes ([`run`]). cap-std confines every path used through it to that folder, whatever `..`
//! or symbolic links it holds.

use std::sync::Arc;

use cap_std::fs::Dir;

use super::error;
use super::spare::Spares;

/// A folder to work in: the home `user` under the shared handle `homes` (on the homes folder,
/// `<data root>/home`), or a folder `inner` below it (a shared item). The folder is opened
/// inside each operation and closed when it ends, so an idle session holds no file descriptor
/// but its socket; opening costs one `openat` per level.
#[derive(Debug, Clone)]
pub struct ConfinedDir {
    homes: Arc<Dir>,
    user: String,
    /// Folders below the home, each opened without following a symbolic link: a link on the
    /// way to a shared item could otherwise point anywhere in the owner's home.
    inner: Vec<String>,
    /// Where overwrites in this folder get their new file ([`Spares`]); `None` for a shared
    /// item (read-only) or when the daemon runs without spares.
    spares: Option<Arc<Spares>>,
}

impl ConfinedDir {
    /// The home `user` under `homes`; `user` is a single validated name (a username).
    pub fn home(homes: Arc<Dir>, user: impl Into<String>) -> Self {
        Self { homes, user: user.into(), inner: Vec::new(), spares: None }
    }

    /// This folder, its overwrites getting their new file from `spares`.
    #[must_use]
    pub fn with_spares(mut self, spares: Option<Arc<Spares>>) -> Self {
        self.spares = spares;
        self
    }

    /// The spares for overwrites in this folder, if any.
    pub fn spares(&self) -> Option<&Arc<Spares>> {
        self.spares.as_ref()
    }

    /// The folder `path` (normalised, `/a/b`; `/` is this folder) below this one, confined in
    /// its turn: no symbolic link is followed on the way down to it, and nothing done through
    /// it leaves it (how `/shared` stays inside the shared item).
    #[must_use]
    pub fn below(&self, path: &str) -> Self {
        let mut inner = self.inner.clone();
        inner.extend(path.split('/').filter(|c| !c.is_empty()).map(str::to_string));
        Self { homes: Arc::clone(&self.homes), user: self.user.clone(), inner, spares: None }
    }

    /// Opens the folder.
    ///
    /// # Errors
    ///
    /// The I/O error, e.g. `NotFound` for a missing home, or for a symbolic link or a file on
    /// the way to a folder below it.
    pub fn open(&self) -> std::io::Result<Dir> {
        let mut dir = self.homes.open_dir(&self.user)?;
        for name in &self.inner {
            dir = open_dir_nofollow(&dir, name)?;
        }
        Ok(dir)
    }
}

/// Opens the folder `name` (one path component) in `dir` without following a symbolic link
/// (`O_NOFOLLOW`): a link, a file or a missing name all give `NotFound`, so the caller learns
/// nothing about where a link points.
///
/// # Errors
///
/// `NotFound` as above, or the I/O error of the open.
pub fn open_dir_nofollow(dir: &Dir, name: &str) -> std::io::Result<Dir> {
    use rustix::fs::{Mode, OFlags, openat};
    use rustix::io::Errno;
    // One component only: `..`, `.` or a `/` would make `openat` walk (and `..` leave `dir`).
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Dir::from_std_file(std::fs::File::from(fd))),
        // ELOOP: a symbolic link (O_NOFOLLOW); ENOTDIR: a file, or a link (O_DIRECTORY).
        Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT) => Err(std::io::ErrorKind::NotFound.into()),
        Err(e) => Err(e.into()),
    }
}

/// Runs `f` on the opened `dir` in the blocking pool: the one hop every metadata-sized
/// operation costs.
///
/// # Errors
///
/// The error of the open or of `f`, or [`error::panicked`] if the task panicked.
pub async fn run<T, F>(dir: ConfinedDir, f: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Dir) -> std::io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(move || f(&dir.open()?)).await.map_err(error::panicked)?
}

/// The folder `name` under `top` (created if missing) as a home on a handle for `top`, the
/// way sessions reach their homes.
#[cfg(test)]
pub(super) fn home_at(top: &std::path::Path, name: &str) -> ConfinedDir {
    std::fs::create_dir_all(top.join(name)).unwrap();
    let homes = Dir::open_ambient_dir(top, cap_std::ambient_authority()).unwrap();
    ConfinedDir::home(Arc::new(homes), name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::meta::{list_dir, stat_followed};
    use crate::storage::transfer::send_file;

    const T: std::time::Duration = std::time::Duration::from_secs(30);

    #[tokio::test]
    async fn below_confines_to_the_folder_and_follows_no_link_on_the_way() {
        let top = tempfile::tempdir().unwrap();
        let home = top.path().join("h");
        std::fs::create_dir_all(home.join("pub/in")).unwrap();
        std::fs::create_dir_all(home.join("private")).unwrap();
        std::fs::write(home.join("private/secret.txt"), b"s").unwrap();
        std::fs::write(home.join("pub/in/ok.txt"), b"ok").unwrap();
        std::os::unix::fs::symlink("../private", home.join("pub/up")).unwrap();
        std::os::unix::fs::symlink("in", home.join("pub/alias")).unwrap();
        std::os::unix::fs::symlink("private", home.join("link")).unwrap();
        let dir = home_at(top.path(), "h");
        let pub_dir = dir.below("/pub");
        let mut out = Vec::new();
        send_file(pub_dir.clone(), "in/ok.txt".into(), 0, &mut out, T).await.unwrap();
        assert_eq!(out, b"ok");
        // A link inside the folder works; one leading out of it does not.
        assert!(stat_followed(pub_dir.clone(), "alias/ok.txt".into()).await.is_ok());
        assert!(stat_followed(pub_dir.clone(), "up/secret.txt".into()).await.is_err());
        assert!(list_dir(pub_dir.clone(), "up".into()).await.is_err());
        assert!(send_file(pub_dir, "up/secret.txt".into(), 0, &mut out, T).await.is_err());
        // No link is followed on the way down.
        let e = dir.below("/link").open().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(dir.below("/pub/alias").open().is_err());
        assert!(dir.below("/pub/in/ok.txt").open().is_err());
        assert!(dir.below("/pub/in").open().is_ok());
    }

    #[tokio::test]
    async fn a_panicking_operation_is_an_internal_error() {
        let top = tempfile::tempdir().unwrap();
        let dir = home_at(top.path(), "h");
        let e = run(dir, |_| -> std::io::Result<()> { panic!("injected") }).await.unwrap_err();
        assert!(error::is_panic(&e));
        let reply = error::from_io(e);
        assert_eq!(reply.kind, crate::ftp::ErrorKind::Local);
        assert!(reply.message.contains("internal error"), "{}", reply.message);
    }
}

//! [`UserStorage`]: one logged-in user's files, the engine's [`Storage`]. Paths in the home go
//! to a [`ConfinedDir`] on it; paths under `/shared` go through the session's [`SharedTree`].
//!
//! Cost: operations in the home never touch the database, except DELE, RMD and RNTO, which
//! keep the owner's shares in step (one statement each).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cap_std::fs::Dir;

use super::dir::{ConfinedDir, run};
use super::error::{self, from_io};
use super::meta::{self, meta_of, read_only};
use super::paths::{SHARED, Target, classify, rel};
use super::shared::{Resolved, ShareIndex, SharedTree};
use super::spare::Spares;
use super::transfer;
use crate::ftp::{Data, Entry, Meta, Storage, StorageResult, WriteMode};

/// Who a [`UserStorage`] belongs to.
#[derive(Debug, Clone)]
pub struct Owner<'a> {
    /// The user's database id, for share lookups.
    pub id: i64,
    /// Login name: the home is `<homes>/<username>`.
    pub username: &'a str,
    /// The home the account expects, checked against `<homes>/<username>`.
    pub home: &'a Path,
}

/// The storage of one logged-in session. It holds no file descriptor between commands: the
/// home is opened per operation from the homes handle, which all sessions share.
#[derive(Debug)]
pub struct UserStorage {
    /// The user's home.
    home: ConfinedDir,
    /// `/shared`, and the user's own shares.
    shared: SharedTree,
    /// How long a data connection may make no progress.
    data_timeout: Duration,
}

impl UserStorage {
    /// The storage of `user`, whose home must be `<homes>/<username>` (`homes` absolute,
    /// `homes_dir` a handle on it, opened once and shared by every session, like the
    /// `spares` its overwrites get their new files from), resolving shares
    /// with `shares` and failing a transfer whose data connection makes no progress for
    /// `data_timeout`.
    ///
    /// # Errors
    ///
    /// When the home is elsewhere or cannot be opened (checked once here, at login, so the
    /// login fails at once rather than at the first command).
    pub fn new(
        homes: &Path,
        homes_dir: Arc<Dir>,
        spares: Option<Arc<Spares>>,
        shares: Arc<dyn ShareIndex>,
        user: Owner<'_>,
        data_timeout: Duration,
    ) -> std::io::Result<Self> {
        if user.home != homes.join(user.username) {
            return Err(std::io::Error::other("home folder is not under the homes folder"));
        }
        drop(homes_dir.open_dir(user.username)?);
        Ok(Self {
            home: ConfinedDir::home(Arc::clone(&homes_dir), user.username.to_string())
                .with_spares(spares),
            shared: SharedTree::new(user.id, shares, homes_dir),
            data_timeout,
        })
    }

    fn home(&self) -> ConfinedDir {
        self.home.clone()
    }

    /// Lists the real directory `rel` under `dir`; links are shown as links, not followed.
    async fn real_listing(
        dir: ConfinedDir,
        rel: std::path::PathBuf,
        read_only: bool,
    ) -> StorageResult<Vec<Entry>> {
        let entries = meta::list_dir(dir, rel).await.map_err(from_io)?;
        Ok(entries
            .into_iter()
            .map(|(name, m)| {
                let meta = meta_of(&m);
                Entry { name, meta: if read_only { self::read_only(meta) } else { meta } }
            })
            .collect())
    }

    /// Where RETR reads `path`: the user's home or a file shared with the user.
    async fn file_to_send(&self, path: &str) -> StorageResult<(ConfinedDir, std::path::PathBuf)> {
        match classify(path) {
            Target::Home(p) if p == "/" => Err(error::not_found()),
            Target::Home(p) => Ok((self.home(), rel(&p))),
            Target::Shared { owner, path } => match self.shared.resolve(&owner, &path).await? {
                Resolved::Real(dir, rel) => Ok((dir, rel)),
                Resolved::Virtual(..) => Err(error::not_found()),
            },
            Target::SharedRoot | Target::SharedOwner(_) => Err(error::not_found()),
        }
    }

    /// Where STOR/APPE/STOU writes `path`: only ever in the user's home (`/shared` is
    /// read-only).
    fn file_to_receive(&self, path: &str) -> StorageResult<(ConfinedDir, std::path::PathBuf)> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        Ok((self.home(), rel(&p)))
    }
}

/// The path to hand to the home filesystem, or a refusal for anything under `/shared`.
fn home_path(path: &str) -> StorageResult<String> {
    match classify(path) {
        Target::Home(p) => Ok(p),
        _ => Err(error::read_only()),
    }
}

#[async_trait]
impl Storage for UserStorage {
    async fn stat(&self, path: &str) -> StorageResult<Meta> {
        match classify(path) {
            Target::Home(p) => {
                Ok(meta_of(&meta::stat_followed(self.home(), rel(&p)).await.map_err(from_io)?))
            }
            Target::SharedRoot => Ok(self.shared.virtual_dir()),
            Target::SharedOwner(owner) => {
                self.shared.resolve(&owner, "/").await?;
                Ok(self.shared.virtual_dir())
            }
            Target::Shared { owner, path } => match self.shared.resolve(&owner, &path).await? {
                Resolved::Real(dir, rel) => {
                    Ok(read_only(meta_of(&meta::stat_followed(dir, rel).await.map_err(from_io)?)))
                }
                Resolved::Virtual(..) => Ok(self.shared.virtual_dir()),
            },
        }
    }

    async fn list(&self, path: &str) -> StorageResult<Vec<Entry>> {
        match classify(path) {
            Target::Home(p) => {
                let mut list = Self::real_listing(self.home(), rel(&p), false).await?;
                if p == "/" {
                    // `shared` is reserved at every user's FTP `/`: the virtual folder replaces
                    // any real entry of that name an admin may have made by hand.
                    list.retain(|e| e.name != SHARED);
                    list.push(Entry { name: SHARED.to_string(), meta: self.shared.virtual_dir() });
                }
                Ok(list)
            }
            Target::SharedRoot => Ok(self
                .shared
                .owners()
                .await?
                .into_iter()
                .map(|name| Entry { name, meta: self.shared.virtual_dir() })
                .collect()),
            Target::SharedOwner(owner) => match self.shared.resolve(&owner, "/").await? {
                Resolved::Virtual(names, shared) => {
                    self.shared.list_virtual(&owner, "/", names, shared).await
                }
                Resolved::Real(..) => Err(error::not_found()),
            },
            Target::Shared { owner, path } => match self.shared.resolve(&owner, &path).await? {
                Resolved::Real(dir, rel) => Self::real_listing(dir, rel, true).await,
                Resolved::Virtual(names, shared) => {
                    self.shared.list_virtual(&owner, &path, names, shared).await
                }
            },
        }
    }

    async fn retrieve(&self, path: &str, offset: u64, out: Data<'_>) -> StorageResult<u64> {
        let (dir, rel) = self.file_to_send(path).await?;
        transfer::send(dir, rel, offset, out, self.data_timeout).await.map_err(from_io)
    }

    async fn store(
        &self,
        path: &str,
        mode: WriteMode,
        input: Data<'_>,
        alive: &(dyn Fn() -> bool + Send + Sync),
    ) -> StorageResult<u64> {
        let (dir, rel) = self.file_to_receive(path)?;
        transfer::receive(dir, rel, mode, input, self.data_timeout, alive).await.map_err(from_io)
    }

    async fn make_dir(&self, path: &str) -> StorageResult<()> {
        let p = home_path(path)?;
        let target = rel(&p);
        run(self.home(), move |d| d.create_dir(&target)).await.map_err(from_io)
    }

    async fn remove_dir(&self, path: &str) -> StorageResult<()> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        let target = rel(&p);
        run(self.home(), move |d| d.remove_dir(&target)).await.map_err(from_io)?;
        self.shared.deleted(&p).await
    }

    async fn remove_file(&self, path: &str) -> StorageResult<()> {
        let p = home_path(path)?;
        let target = rel(&p);
        run(self.home(), move |d| d.remove_file(&target)).await.map_err(from_io)?;
        self.shared.deleted(&p).await
    }

    async fn rename(&self, from: &str, to: &str) -> StorageResult<()> {
        let from = home_path(from)?;
        let to = home_path(to)?;
        if from == "/" || to == "/" {
            return Err(error::read_only());
        }
        let (src, dst) = (rel(&from), rel(&to));
        run(self.home(), move |d| d.rename(&src, d, &dst)).await.map_err(from_io)?;
        self.shared.moved(&from, &to).await
    }

    async fn set_modified(&self, path: &str, at: SystemTime) -> StorageResult<()> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        let target = rel(&p);
        run(self.home(), move |d| meta::set_modified(d, &target, at)).await.map_err(from_io)
    }
}

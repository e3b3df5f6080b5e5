//! [`UserStorage`]: the per-session storage backend. It serves the user's home through a cap-std
//! directory handle rooted at the home (so no path, `..` or symlink can reach outside it; the
//! same model as `unftp_sbe_fs`, whose 4 KiB buffers and per-entry thread hops it replaces, see
//! [`fastio`]) and adds the read-only virtual folder `/shared`, where files that other users
//! share with this user appear as `/shared/<owner>/<owner's path>`.
//!
//! A session holds two file descriptors at most (its socket aside): the user's home handle,
//! opened at login, and nothing before login (the homes handle is shared by all sessions).
//!
//! Cost model: operations in the home never touch the database, except DELE, RMD and RNTO,
//! which keep the owner's shares in step (one statement each). Resolving a path under
//! `/shared/<owner>` costs one indexed query, so revocations are seen by the next command.

pub mod error;
pub mod fastio;
pub mod inflight;
pub mod listing;
pub mod paths;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;
use unftp_core::storage::{Fileinfo, Metadata, Permissions, Result, StorageBackend};

use crate::auth::FtpUser;
use crate::share::ShareStore;
use fastio::Root;
use inflight::{Counted, Transfers};
use paths::{SHARED, Target, classify, is_within, next_component};
use std::sync::Arc;

/// File metadata for both real and virtual entries.
#[derive(Debug, Clone)]
pub struct Meta {
    len: u64,
    dir: bool,
    symlink: bool,
    modified: SystemTime,
    uid: u32,
    gid: u32,
    links: u64,
    mode: u32,
}

impl Meta {
    fn of_cap(m: &cap_std::fs::Metadata) -> Self {
        use cap_std::fs::MetadataExt;
        Meta {
            len: m.len(),
            dir: m.is_dir(),
            symlink: m.file_type().is_symlink(),
            modified: m.modified().map(|t| t.into_std()).unwrap_or(SystemTime::UNIX_EPOCH),
            uid: m.uid(),
            gid: m.gid(),
            links: m.nlink(),
            mode: m.mode(),
        }
    }

    fn virtual_dir(modified: SystemTime) -> Self {
        Meta { len: 0, dir: true, symlink: false, modified, uid: 0, gid: 0, links: 1, mode: 0o555 }
    }

    /// Metadata for the listing format tests.
    #[cfg(test)]
    pub(crate) fn for_test(dir: bool, symlink: bool, len: u64, at: SystemTime, mode: u32) -> Self {
        Meta { len, dir, symlink, modified: at, uid: 1000, gid: 100, links: 3, mode }
    }

    /// Drops the write bits: everything under `/shared` is shown read-only.
    fn read_only(mut self) -> Self {
        self.mode &= !0o222;
        self
    }
}

impl Metadata for Meta {
    fn len(&self) -> u64 {
        self.len
    }
    fn is_dir(&self) -> bool {
        self.dir
    }
    fn is_file(&self) -> bool {
        !self.dir && !self.symlink
    }
    fn is_symlink(&self) -> bool {
        self.symlink
    }
    fn modified(&self) -> Result<SystemTime> {
        Ok(self.modified)
    }
    fn gid(&self) -> u32 {
        self.gid
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn links(&self) -> u64 {
        self.links
    }
    fn permissions(&self) -> Permissions {
        Permissions(self.mode)
    }
}

type Listing = Vec<Fileinfo<PathBuf, Meta>>;

/// What a path under `/shared/<owner>` resolves to.
enum Resolved {
    /// Inside a shared item: served from the owner's home.
    Real(Root),
    /// A virtual folder on the way down to shared items: the names of its children, and the
    /// shared paths they were derived from (so listing needs no second query).
    Virtual(Vec<String>, Vec<String>),
}

/// The storage backend of one FTP session.
#[derive(Debug)]
pub struct UserStorage {
    /// `<root>/home`, the folder holding every home.
    homes: PathBuf,
    /// Share lookups for `/shared`.
    shares: ShareStore,
    /// When this session started: the modification time of virtual folders.
    started: SystemTime,
    /// The last directory a successful CWD entered, for SITE commands with relative paths
    /// (libunftp does not give SITE handlers the session's working directory).
    cwd: Mutex<String>,
    /// Transfers in flight in the whole daemon, for graceful shutdown.
    transfers: Arc<Transfers>,
    /// How long a plain data connection may make no progress.
    data_timeout: std::time::Duration,
    /// cap-std handle on `homes`, for the fast transfer paths into other users' homes.
    homes_dir: Arc<cap_std::fs::Dir>,
    /// The user's home, set at login: opened per operation, so an idle session holds no
    /// file descriptor beyond its socket.
    home_dir: Option<Root>,
}

impl UserStorage {
    /// A backend over the homes folder `homes` (absolute; `homes_dir` is a handle on it, opened
    /// once and shared by every session), resolving shares with `shares`, counting its
    /// transfers in `transfers` and failing a transfer whose data connection makes no progress
    /// for `data_timeout`.
    ///
    /// # Errors
    ///
    /// When `homes` cannot be opened.
    pub fn new(
        homes: &Path,
        homes_dir: Arc<cap_std::fs::Dir>,
        shares: ShareStore,
        transfers: Arc<Transfers>,
        data_timeout: std::time::Duration,
    ) -> std::io::Result<Self> {
        Ok(Self {
            home_dir: None,
            homes_dir,
            homes: homes.to_path_buf(),
            shares,
            started: SystemTime::now(),
            cwd: Mutex::new("/".to_string()),
            transfers,
            data_timeout,
        })
    }

    /// The working directory as last set by CWD (absolute, normalised).
    pub fn cwd(&self) -> String {
        self.cwd.lock().map(|c| c.clone()).unwrap_or_else(|_| "/".to_string())
    }

    /// `owner`'s home, reached from the homes handle: a hostile owner name cannot leave
    /// `homes` (and owner names come from the database, where they are validated).
    fn owner_dir(&self, owner: &str) -> Root {
        Root::new(Arc::clone(&self.homes_dir), owner)
    }

    /// The user's home; before login (which libunftp never lets reach storage) it is refused.
    fn home(&self) -> Result<Root> {
        self.home_dir.clone().ok_or_else(error::not_found)
    }

    async fn resolve(&self, user: &FtpUser, owner: &str, path: &str) -> Result<Resolved> {
        let shared = self.shares.paths_for(user.id, owner).await.map_err(error::database)?;
        if shared.iter().any(|s| is_within(path, s)) {
            return Ok(Resolved::Real(self.owner_dir(owner)));
        }
        let mut names: Vec<String> =
            shared.iter().filter_map(|s| next_component(path, s)).map(str::to_string).collect();
        names.dedup();
        if names.is_empty() {
            Err(error::not_found())
        } else {
            Ok(Resolved::Virtual(names, shared))
        }
    }

    /// Lists a virtual folder `dir` of `owner`: shared items show their real metadata,
    /// intermediate folders are virtual. Items deleted behind our back are left out.
    async fn list_virtual(
        &self,
        owner: &str,
        dir: &str,
        names: Vec<String>,
        shared: Vec<String>,
    ) -> Result<Listing> {
        let owner_dir = self.owner_dir(owner);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let full = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            let metadata = if shared.contains(&full) {
                match fastio::stat(owner_dir.clone(), rel(&full)).await {
                    Ok(m) => Meta::of_cap(&m).read_only(),
                    Err(_) => continue,
                }
            } else {
                Meta::virtual_dir(self.started)
            };
            out.push(Fileinfo { path: PathBuf::from(name), metadata });
        }
        Ok(out)
    }

    /// Lists a real directory `path` (normalised, absolute) under `dir`.
    async fn real_listing(dir: Root, path: &str, read_only: bool) -> Result<Listing> {
        let entries = fastio::list_dir(dir, rel(path)).await?;
        Ok(entries
            .into_iter()
            .map(|(name, m)| {
                let meta = Meta::of_cap(&m);
                Fileinfo {
                    path: PathBuf::from(name),
                    metadata: if read_only { meta.read_only() } else { meta },
                }
            })
            .collect())
    }

    /// Where RETR reads `path`: the user's home or a file shared with the user.
    async fn file_to_send(&self, user: &FtpUser, path: &Path) -> Result<(Root, PathBuf)> {
        let (dir, rel) = match classify(path) {
            Target::Home(p) => (self.home()?, p),
            Target::Shared { owner, path } => match self.resolve(user, &owner, &path).await? {
                Resolved::Real(owner_dir) => (owner_dir, path),
                Resolved::Virtual(..) => return Err(error::not_found()),
            },
            Target::SharedRoot | Target::SharedOwner(_) => return Err(error::not_found()),
        };
        if rel == "/" {
            return Err(error::not_found());
        }
        Ok((dir, PathBuf::from(&rel[1..])))
    }

    /// Where STOR/APPE writes `path`: only ever in the user's home (`/shared` is read-only).
    fn file_to_receive(&self, path: &Path) -> Result<(Root, PathBuf)> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        Ok((self.home()?, PathBuf::from(&p[1..])))
    }
}

/// A normalised absolute path as a path relative to a directory handle (`/` is `.`).
fn rel(path: &str) -> PathBuf {
    if path == "/" { PathBuf::from(".") } else { PathBuf::from(&path[1..]) }
}

/// The path to hand to the home filesystem, or a refusal for anything under `/shared`.
fn home_path(path: &Path) -> Result<String> {
    match classify(path) {
        Target::Home(p) => Ok(p),
        _ => Err(error::read_only()),
    }
}

#[async_trait]
impl StorageBackend<FtpUser> for UserStorage {
    type Metadata = Meta;

    fn enter(&mut self, user: &FtpUser) -> std::io::Result<()> {
        // The home must be the one under `homes` that libunftp's contract names.
        if user.home != self.homes.join(&user.username) {
            return Err(std::io::Error::other("home folder is not under the homes folder"));
        }
        // Fail the login now, not the first command, if the home cannot be opened.
        drop(self.homes_dir.open_dir(&user.username)?);
        self.home_dir = Some(Root::new(Arc::clone(&self.homes_dir), user.username.clone()));
        Ok(())
    }

    async fn get_into<'a, P, W>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
        output: &'a mut W,
    ) -> Result<u64>
    where
        W: tokio::io::AsyncWrite + Unpin + Sync + Send + ?Sized,
        P: AsRef<Path> + Send + Debug,
    {
        let _running = self.transfers.start();
        let (dir, rel) = self.file_to_send(user, path.as_ref()).await?;
        Ok(fastio::send_file(dir, rel, start_pos, output, self.data_timeout).await?)
    }

    #[cfg(target_os = "linux")]
    async fn get_into_socket<P>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
        socket: tokio::net::TcpStream,
    ) -> Result<u64>
    where
        P: AsRef<Path> + Send + Debug,
    {
        let _running = self.transfers.start();
        let (dir, rel) = self.file_to_send(user, path.as_ref()).await?;
        Ok(fastio::send_file_to_socket(dir, rel, start_pos, socket, self.data_timeout).await?)
    }

    #[cfg(target_os = "linux")]
    async fn put_from_socket<P>(
        &self,
        _user: &FtpUser,
        socket: tokio::net::TcpStream,
        path: P,
        start_pos: u64,
    ) -> Result<u64>
    where
        P: AsRef<Path> + Send + Debug,
    {
        let (dir, rel) = self.file_to_receive(path.as_ref())?;
        let _running = self.transfers.start();
        Ok(fastio::receive_from_socket(dir, rel, start_pos, socket, self.data_timeout).await?)
    }

    fn supported_features(&self) -> u32 {
        unftp_core::storage::FEATURE_RESTART
    }

    async fn metadata<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &FtpUser,
        path: P,
    ) -> Result<Self::Metadata> {
        match classify(path.as_ref()) {
            Target::Home(p) => Ok(Meta::of_cap(&fastio::stat(self.home()?, rel(&p)).await?)),
            Target::SharedRoot => Ok(Meta::virtual_dir(self.started)),
            Target::SharedOwner(owner) => {
                self.resolve(user, &owner, "/").await?;
                Ok(Meta::virtual_dir(self.started))
            }
            Target::Shared { owner, path } => match self.resolve(user, &owner, &path).await? {
                Resolved::Real(owner_dir) => {
                    Ok(Meta::of_cap(&fastio::stat(owner_dir, rel(&path)).await?).read_only())
                }
                Resolved::Virtual(..) => Ok(Meta::virtual_dir(self.started)),
            },
        }
    }

    async fn list_fmt<P>(&self, user: &FtpUser, path: P) -> Result<std::io::Cursor<Vec<u8>>>
    where
        P: AsRef<Path> + Send + Debug,
        Self::Metadata: Metadata + 'static,
    {
        let list = self.list(user, path).await?;
        // Formatting 10,000 lines takes milliseconds: off the async workers.
        let text = tokio::task::spawn_blocking(move || {
            let mut dates = listing::Dates::new();
            let mut out = Vec::with_capacity(list.len() * 80);
            for fi in &list {
                listing::line(&mut out, &fi.path.to_string_lossy(), &fi.metadata, &mut dates);
            }
            out
        })
        .await
        .map_err(|_| error::not_found())?;
        Ok(std::io::Cursor::new(text))
    }

    async fn list<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> Result<Listing>
    where
        <Self as StorageBackend<FtpUser>>::Metadata: Metadata,
    {
        match classify(path.as_ref()) {
            Target::Home(p) => {
                let mut list = Self::real_listing(self.home()?, &p, false).await?;
                if p == "/" {
                    // `shared` is reserved in every home root: the virtual folder replaces any
                    // real entry of that name an admin may have made by hand.
                    list.retain(|fi| fi.path.as_os_str() != SHARED);
                    list.push(Fileinfo {
                        path: PathBuf::from(SHARED),
                        metadata: Meta::virtual_dir(self.started),
                    });
                }
                Ok(list)
            }
            Target::SharedRoot => {
                let owners = self.shares.owners_for(user.id).await.map_err(error::database)?;
                Ok(owners
                    .into_iter()
                    .map(|o| Fileinfo {
                        path: PathBuf::from(o),
                        metadata: Meta::virtual_dir(self.started),
                    })
                    .collect())
            }
            Target::SharedOwner(owner) => match self.resolve(user, &owner, "/").await? {
                Resolved::Virtual(names, shared) => {
                    self.list_virtual(&owner, "/", names, shared).await
                }
                Resolved::Real(_) => Err(error::not_found()),
            },
            Target::Shared { owner, path } => match self.resolve(user, &owner, &path).await? {
                Resolved::Real(owner_dir) => Self::real_listing(owner_dir, &path, true).await,
                Resolved::Virtual(names, shared) => {
                    self.list_virtual(&owner, &path, names, shared).await
                }
            },
        }
    }

    async fn get<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin>> {
        let guard = self.transfers.start();
        let reader = match classify(path.as_ref()) {
            Target::Home(p) => fastio::open_read(self.home()?, rel(&p), start_pos).await?,
            Target::Shared { owner, path } => match self.resolve(user, &owner, &path).await? {
                Resolved::Real(owner_dir) => {
                    fastio::open_read(owner_dir, rel(&path), start_pos).await?
                }
                Resolved::Virtual(..) => return Err(error::not_found()),
            },
            Target::SharedRoot | Target::SharedOwner(_) => return Err(error::not_found()),
        };
        Ok(Box::new(Counted::new(reader, guard)))
    }

    async fn put<
        P: AsRef<Path> + Send + Debug,
        R: tokio::io::AsyncRead + Send + Sync + Unpin + 'static,
    >(
        &self,
        _user: &FtpUser,
        input: R,
        path: P,
        start_pos: u64,
    ) -> Result<u64> {
        let (dir, rel) = self.file_to_receive(path.as_ref())?;
        let _running = self.transfers.start();
        Ok(fastio::receive_file(dir, rel, start_pos, input, self.data_timeout).await?)
    }

    async fn del<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let p = home_path(path.as_ref())?;
        let target = rel(&p);
        fastio::with_dir(self.home()?, move |d| d.remove_file(&target)).await?;
        self.shares.delete_prefix(user.id, &p).await.map_err(error::database)?;
        Ok(())
    }

    async fn mkd<P: AsRef<Path> + Send + Debug>(&self, _user: &FtpUser, path: P) -> Result<()> {
        let p = home_path(path.as_ref())?;
        let target = rel(&p);
        Ok(fastio::with_dir(self.home()?, move |d| d.create_dir(&target)).await?)
    }

    async fn rename<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &FtpUser,
        from: P,
        to: P,
    ) -> Result<()> {
        let from = home_path(from.as_ref())?;
        let to = home_path(to.as_ref())?;
        if from == "/" || to == "/" {
            return Err(error::read_only());
        }
        let (src, dst) = (rel(&from), rel(&to));
        fastio::with_dir(self.home()?, move |d| d.rename(&src, d, &dst)).await?;
        // Shares follow the item they point at.
        self.shares.move_prefix(user.id, &from, &to).await.map_err(error::database)?;
        Ok(())
    }

    async fn rmd<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let p = home_path(path.as_ref())?;
        if p == "/" {
            return Err(error::read_only());
        }
        let target = rel(&p);
        fastio::with_dir(self.home()?, move |d| d.remove_dir(&target)).await?;
        self.shares.delete_prefix(user.id, &p).await.map_err(error::database)?;
        Ok(())
    }

    async fn cwd<P: AsRef<Path> + Send + Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let meta = self.metadata(user, path.as_ref()).await?;
        if !meta.is_dir() {
            return Err(error::not_found());
        }
        if let Ok(mut cwd) = self.cwd.lock() {
            *cwd = paths::normalise(path.as_ref());
        }
        Ok(())
    }
}

//! [`UserStorage`]: one logged-in user's files, the engine's [`Storage`].
//! It serves the user's home through a cap-std directory handle rooted at the home (so no
//! path, `..` or symlink can reach outside it; see [`fastio`] for the transfer paths) and adds
//! the read-only virtual folder `/shared`, where files that other users share with this user
//! appear as `/shared/<owner>/<owner's path>`. A path under `/shared` is served through a
//! handle on the shared item itself, reached from the owner's home without following symbolic
//! links: a link inside a shared folder cannot lead to the owner's unshared files.
//!
//! A session holds no file descriptor here between commands: the home is opened per operation
//! from the homes handle, which all sessions share.
//!
//! Cost model: operations in the home never touch the database, except DELE, RMD and RNTO,
//! which keep the owner's shares in step (one statement each). Resolving a path under
//! `/shared/<owner>` costs one indexed query, so revocations are seen by the next command.

pub mod error;
pub mod fastio;
pub mod paths;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::ftp::{Data, Entry, FileKind, Meta, Storage, StorageResult, WriteMode};
use fastio::Root;
use paths::{SHARED, Target, classify, is_within, next_component};

/// Engine metadata from cap-std metadata (of the entry itself when it was `lstat`ed).
fn meta_of(m: &cap_std::fs::Metadata) -> Meta {
    use cap_std::fs::MetadataExt;
    let file_type = m.file_type();
    Meta {
        kind: if file_type.is_dir() {
            FileKind::Dir
        } else if file_type.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::File
        },
        len: m.len(),
        modified: m.modified().map(|t| t.into_std()).unwrap_or(SystemTime::UNIX_EPOCH),
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        links: m.nlink(),
    }
}

/// A virtual folder of `/shared`: read-only, dated `modified`.
fn virtual_dir(modified: SystemTime) -> Meta {
    Meta { kind: FileKind::Dir, len: 0, modified, mode: 0o555, uid: 0, gid: 0, links: 1 }
}

/// Drops the write bits: everything under `/shared` is shown read-only.
fn read_only(mut meta: Meta) -> Meta {
    meta.mode &= !0o222;
    meta
}

/// The share index the storage reads to build `/shared` and keeps in step when an owner
/// deletes or renames a shared item. The share service's store implements it; the trait keeps
/// this data-tier module from depending on the service above it.
#[async_trait]
pub trait ShareIndex: std::fmt::Debug + Send + Sync {
    /// The enabled owners who share something with `recipient_id`, sorted.
    async fn owners_for(&self, recipient_id: i64) -> crate::Result<Vec<String>>;
    /// The owner-relative paths `owner` shares with `recipient_id`, sorted.
    async fn paths_for(&self, recipient_id: i64, owner: &str) -> crate::Result<Vec<String>>;
    /// After `owner_id` renamed `from` to `to`: shares of it and below follow.
    async fn move_prefix(&self, owner_id: i64, from: &str, to: &str) -> crate::Result<u64>;
    /// After `owner_id` deleted `path`: shares of it and below go.
    async fn delete_prefix(&self, owner_id: i64, path: &str) -> crate::Result<u64>;
}

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

/// What a path under `/shared/<owner>` resolves to.
enum Resolved {
    /// Inside a shared item: the folder to work in, confined to the item (see
    /// [`UserStorage::confined`]), and the path relative to it.
    Real(Root, PathBuf),
    /// A virtual folder on the way down to shared items: the names of its children, and the
    /// shared paths they were derived from (so listing needs no second query).
    Virtual(Vec<String>, Vec<String>),
}

/// The storage of one logged-in session.
#[derive(Debug)]
pub struct UserStorage {
    /// The user's database id, for share lookups.
    user_id: i64,
    /// Share lookups for `/shared`.
    shares: Arc<dyn ShareIndex>,
    /// When this session logged in: the modification time of virtual folders.
    started: SystemTime,
    /// How long a plain data connection may make no progress.
    data_timeout: Duration,
    /// cap-std handle on the homes folder, for other users' homes under `/shared`.
    homes_dir: Arc<cap_std::fs::Dir>,
    /// The user's home.
    home: Root,
}

impl UserStorage {
    /// The storage of `user`, whose home must be `<homes>/<username>` (`homes` absolute,
    /// `homes_dir` a handle on it, opened once and shared by every session), resolving shares
    /// with `shares` and failing a transfer whose data connection makes no progress for
    /// `data_timeout`.
    ///
    /// # Errors
    ///
    /// When the home is elsewhere or cannot be opened: the login then fails at once rather
    /// than at the first command.
    pub fn new(
        homes: &Path,
        homes_dir: Arc<cap_std::fs::Dir>,
        shares: Arc<dyn ShareIndex>,
        user: Owner<'_>,
        data_timeout: Duration,
    ) -> std::io::Result<Self> {
        if user.home != homes.join(user.username) {
            return Err(std::io::Error::other("home folder is not under the homes folder"));
        }
        drop(homes_dir.open_dir(user.username)?);
        Ok(Self {
            user_id: user.id,
            home: Root::new(Arc::clone(&homes_dir), user.username.to_string()),
            homes_dir,
            shares,
            started: SystemTime::now(),
            data_timeout,
        })
    }

    /// `owner`'s home, reached from the homes handle: a hostile owner name cannot leave
    /// `homes` (and owner names come from the database, where they are validated).
    fn owner_dir(&self, owner: &str) -> Root {
        Root::new(Arc::clone(&self.homes_dir), owner)
    }

    fn home(&self) -> Root {
        self.home.clone()
    }

    async fn resolve(&self, owner: &str, path: &str) -> StorageResult<Resolved> {
        let shared = self.shares.paths_for(self.user_id, owner).await.map_err(error::database)?;
        // The outermost shared item holding `path`: the widest folder it may be served from.
        if let Some(item) = shared.iter().filter(|s| is_within(path, s)).min_by_key(|s| s.len()) {
            let (root, rel) = self.confined(owner, item, path).await?;
            return Ok(Resolved::Real(root, rel));
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

    /// Where `path` inside the shared `item` of `owner` (both normalised) is served from. Below
    /// the item: a root on the item's folder, so cap-std refuses any `..` or symbolic link
    /// leading out of it (`pub/up -> ../private` in a shared `/pub` leads nowhere). The item
    /// itself: its parent folder and its name, refused when the item is a symbolic link. No
    /// link is followed on the way from the home to the item ([`Root::below`]); shares of
    /// paths through links are refused when they are made ([`shareable`]).
    ///
    /// The item's `lstat` and the later open are two steps: only the owner, who could as well
    /// share the link's target, can change the item in between.
    async fn confined(
        &self,
        owner: &str,
        item: &str,
        path: &str,
    ) -> StorageResult<(Root, PathBuf)> {
        let home = self.owner_dir(owner);
        if item == "/" {
            return Ok((home, rel(path)));
        }
        if path != item {
            return Ok((home.below(item), PathBuf::from(&path[item.len() + 1..])));
        }
        let (parent, name) = split_last(item);
        let root = home.below(parent);
        match fastio::stat(root.clone(), PathBuf::from(name)).await {
            Ok(m) if !m.file_type().is_symlink() => Ok((root, PathBuf::from(name))),
            _ => Err(error::not_found()),
        }
    }

    /// Lists a virtual folder `dir` of `owner`: shared items show their real metadata,
    /// intermediate folders are virtual. Items deleted behind our back are left out, and so
    /// are items that are now symbolic links (they are not served).
    async fn list_virtual(
        &self,
        owner: &str,
        dir: &str,
        names: Vec<String>,
        shared: Vec<String>,
    ) -> StorageResult<Vec<Entry>> {
        let owner_dir = self.owner_dir(owner);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let full = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            let meta = if shared.contains(&full) {
                let (parent, item) = split_last(&full);
                match fastio::stat(owner_dir.below(parent), PathBuf::from(item)).await {
                    Ok(m) if !m.file_type().is_symlink() => read_only(meta_of(&m)),
                    _ => continue,
                }
            } else {
                virtual_dir(self.started)
            };
            out.push(Entry { name, meta });
        }
        Ok(out)
    }

    /// Lists the real directory `rel` under `dir`; links are shown as links, not followed.
    async fn real_listing(dir: Root, rel: PathBuf, read_only: bool) -> StorageResult<Vec<Entry>> {
        let entries = fastio::list_dir(dir, rel).await?;
        Ok(entries
            .into_iter()
            .map(|(name, m)| {
                let meta = meta_of(&m);
                Entry { name, meta: if read_only { self::read_only(meta) } else { meta } }
            })
            .collect())
    }

    /// Where RETR reads `path`: the user's home or a file shared with the user.
    async fn file_to_send(&self, path: &str) -> StorageResult<(Root, PathBuf)> {
        match classify(path) {
            Target::Home(p) if p == "/" => Err(error::not_found()),
            Target::Home(p) => Ok((self.home(), PathBuf::from(&p[1..]))),
            Target::Shared { owner, path } => match self.resolve(&owner, &path).await? {
                Resolved::Real(root, rel) => Ok((root, rel)),
                Resolved::Virtual(..) => Err(error::not_found()),
            },
            Target::SharedRoot | Target::SharedOwner(_) => Err(error::not_found()),
        }
    }

    /// Where STOR/APPE/STOU writes `path`: only ever in the user's home (`/shared` is
    /// read-only).
    fn file_to_receive(&self, path: &str) -> StorageResult<(Root, PathBuf)> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        Ok((self.home(), PathBuf::from(&p[1..])))
    }
}

/// A normalised absolute path other than `/` split into its parent folder and last name
/// (`/a/b/c` gives `/a/b` and `c`, `/a` gives `/` and `a`).
fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

/// Whether `path` (owner-relative, normalised) may be shared from the home folder `home`: it
/// names a file or folder reached without following any symbolic link, so it resolves inside
/// the home and is what the recipient will be served. Everything else answers `false`, also a
/// path through a link that leads out of the home, whatever exists out there: the answer says
/// nothing about the rest of the file system.
pub fn shareable(home: &Path, path: &str) -> bool {
    if path == "/" {
        return false;
    }
    let Ok(mut dir) = cap_std::fs::Dir::open_ambient_dir(home, cap_std::ambient_authority()) else {
        return false;
    };
    let (parent, name) = split_last(path);
    for component in parent.split('/').filter(|c| !c.is_empty()) {
        match fastio::open_dir_nofollow(&dir, component) {
            Ok(d) => dir = d,
            Err(_) => return false,
        }
    }
    // `lstat` of one name in its folder: nothing is followed.
    dir.symlink_metadata(name).is_ok_and(|m| !m.file_type().is_symlink())
}

/// A normalised absolute path as a path relative to a directory handle (`/` is `.`).
fn rel(path: &str) -> PathBuf {
    if path == "/" { PathBuf::from(".") } else { PathBuf::from(&path[1..]) }
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
            Target::Home(p) => Ok(meta_of(&fastio::stat_followed(self.home(), rel(&p)).await?)),
            Target::SharedRoot => Ok(virtual_dir(self.started)),
            Target::SharedOwner(owner) => {
                self.resolve(&owner, "/").await?;
                Ok(virtual_dir(self.started))
            }
            Target::Shared { owner, path } => match self.resolve(&owner, &path).await? {
                Resolved::Real(root, rel) => {
                    Ok(read_only(meta_of(&fastio::stat_followed(root, rel).await?)))
                }
                Resolved::Virtual(..) => Ok(virtual_dir(self.started)),
            },
        }
    }

    async fn list(&self, path: &str) -> StorageResult<Vec<Entry>> {
        match classify(path) {
            Target::Home(p) => {
                let mut list = Self::real_listing(self.home(), rel(&p), false).await?;
                if p == "/" {
                    // `shared` is reserved in every home root: the virtual folder replaces any
                    // real entry of that name an admin may have made by hand.
                    list.retain(|e| e.name != SHARED);
                    list.push(Entry { name: SHARED.to_string(), meta: virtual_dir(self.started) });
                }
                Ok(list)
            }
            Target::SharedRoot => {
                let owners = self.shares.owners_for(self.user_id).await.map_err(error::database)?;
                Ok(owners
                    .into_iter()
                    .map(|name| Entry { name, meta: virtual_dir(self.started) })
                    .collect())
            }
            Target::SharedOwner(owner) => match self.resolve(&owner, "/").await? {
                Resolved::Virtual(names, shared) => {
                    self.list_virtual(&owner, "/", names, shared).await
                }
                Resolved::Real(..) => Err(error::not_found()),
            },
            Target::Shared { owner, path } => match self.resolve(&owner, &path).await? {
                Resolved::Real(root, rel) => Self::real_listing(root, rel, true).await,
                Resolved::Virtual(names, shared) => {
                    self.list_virtual(&owner, &path, names, shared).await
                }
            },
        }
    }

    async fn retrieve(&self, path: &str, offset: u64, out: Data<'_>) -> StorageResult<u64> {
        let (dir, rel) = self.file_to_send(path).await?;
        let stall = self.data_timeout;
        Ok(match out {
            #[cfg(target_os = "linux")]
            Data::Socket(socket) => {
                fastio::send_file_to_socket(dir, rel, offset, socket, stall).await?
            }
            #[cfg(not(target_os = "linux"))]
            Data::Socket(mut socket) => {
                use tokio::io::AsyncWriteExt;
                let sent = fastio::send_file(dir, rel, offset, &mut socket, stall).await?;
                let _ = socket.shutdown().await;
                sent
            }
            Data::Stream(stream) => fastio::send_file(dir, rel, offset, stream, stall).await?,
        })
    }

    async fn store(
        &self,
        path: &str,
        mode: WriteMode,
        input: Data<'_>,
        alive: &(dyn Fn() -> bool + Send + Sync),
    ) -> StorageResult<u64> {
        let (dir, rel) = self.file_to_receive(path)?;
        let stall = self.data_timeout;
        Ok(match input {
            #[cfg(target_os = "linux")]
            Data::Socket(socket) => {
                fastio::receive_from_socket_while(dir, rel, mode, socket, stall, alive).await?
            }
            #[cfg(not(target_os = "linux"))]
            Data::Socket(socket) => {
                fastio::receive_file_while(dir, rel, mode, socket, stall, alive).await?
            }
            Data::Stream(stream) => {
                fastio::receive_file_while(dir, rel, mode, stream, stall, alive).await?
            }
        })
    }

    async fn make_dir(&self, path: &str) -> StorageResult<()> {
        let p = home_path(path)?;
        let target = rel(&p);
        Ok(fastio::with_dir(self.home(), move |d| d.create_dir(&target)).await?)
    }

    async fn remove_dir(&self, path: &str) -> StorageResult<()> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        let target = rel(&p);
        fastio::with_dir(self.home(), move |d| d.remove_dir(&target)).await?;
        self.shares.delete_prefix(self.user_id, &p).await.map_err(error::database)?;
        Ok(())
    }

    async fn remove_file(&self, path: &str) -> StorageResult<()> {
        let p = home_path(path)?;
        let target = rel(&p);
        fastio::with_dir(self.home(), move |d| d.remove_file(&target)).await?;
        self.shares.delete_prefix(self.user_id, &p).await.map_err(error::database)?;
        Ok(())
    }

    async fn rename(&self, from: &str, to: &str) -> StorageResult<()> {
        let from = home_path(from)?;
        let to = home_path(to)?;
        if from == "/" || to == "/" {
            return Err(error::read_only());
        }
        let (src, dst) = (rel(&from), rel(&to));
        fastio::with_dir(self.home(), move |d| d.rename(&src, d, &dst)).await?;
        // Shares follow the item they point at.
        self.shares.move_prefix(self.user_id, &from, &to).await.map_err(error::database)?;
        Ok(())
    }

    async fn set_modified(&self, path: &str, at: SystemTime) -> StorageResult<()> {
        let p = home_path(path)?;
        if p == "/" {
            return Err(error::read_only());
        }
        let target = rel(&p);
        Ok(fastio::with_dir(self.home(), move |d| fastio::set_modified(d, &target, at)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_last_gives_parent_and_name() {
        assert_eq!(split_last("/a"), ("/", "a"));
        assert_eq!(split_last("/a/b/c"), ("/a/b", "c"));
    }

    #[test]
    fn only_paths_reached_without_links_are_shareable() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("alice");
        std::fs::create_dir_all(home.join("pub/in")).unwrap();
        std::fs::write(home.join("pub/in/a.txt"), b"a").unwrap();
        std::fs::write(tmp.path().join("outside.txt"), b"o").unwrap();
        std::os::unix::fs::symlink("..", home.join("out")).unwrap();
        std::os::unix::fs::symlink("pub", home.join("alias")).unwrap();
        assert!(shareable(&home, "/pub"));
        assert!(shareable(&home, "/pub/in/a.txt"));
        for path in [
            "/",
            "/missing",
            "/out",
            "/out/outside.txt",
            "/out/missing.txt",
            "/alias",
            "/alias/in/a.txt",
            "/pub/in/a.txt/x",
        ] {
            assert!(!shareable(&home, path), "{path}");
        }
    }

    #[test]
    fn virtual_and_shared_entries_are_read_only() {
        let m = virtual_dir(SystemTime::UNIX_EPOCH);
        assert!(m.is_dir() && !m.writable());
        let file = Meta {
            kind: FileKind::File,
            len: 3,
            modified: SystemTime::UNIX_EPOCH,
            mode: 0o100644,
            uid: 1,
            gid: 1,
            links: 1,
        };
        assert!(file.writable());
        assert_eq!(read_only(file).mode, 0o100444);
    }
}

//! The read-only virtual folder `/shared`: files other users share with this user appear as
//! `/shared/<owner>/<owner's path>`. [`SharedTree`] resolves such a path, through the
//! [`ShareIndex`], to a [`ConfinedDir`] on the shared item itself, reached from the owner's
//! home without following symbolic links: a link inside a shared folder cannot lead to the
//! owner's unshared files. [`shareable`] is the same rule applied when a share is made.
//!
//! Cost: resolving a path under `/shared/<owner>` costs one indexed query, so revocations are
//! seen by the next command.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use cap_std::fs::Dir;

use super::dir::{ConfinedDir, open_dir_nofollow};
use super::error;
use super::meta::{self, meta_of, read_only};
use super::paths::{is_within, next_component, rel};
use crate::ftp::{Entry, Meta, StorageResult};

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

/// What a path under `/shared/<owner>` resolves to.
pub enum Resolved {
    /// Inside a shared item: the folder to work in, confined to the item (see
    /// [`SharedTree::confined`]), and the path relative to it.
    Real(ConfinedDir, PathBuf),
    /// A virtual folder on the way down to shared items: the names of its children, and the
    /// shared paths they were derived from (so listing needs no second query).
    Virtual(Vec<String>, Vec<String>),
}

/// One session's view of `/shared`, and the user's own shares kept in step with their files.
#[derive(Debug)]
pub struct SharedTree {
    /// The user's database id, for share lookups.
    user_id: i64,
    /// Share lookups.
    shares: Arc<dyn ShareIndex>,
    /// Handle on the homes folder, for other users' homes.
    homes: Arc<Dir>,
    /// When this session logged in: the modification time of virtual folders.
    started: SystemTime,
}

impl SharedTree {
    /// The view of user `user_id`, reaching owners' homes through `homes`.
    pub fn new(user_id: i64, shares: Arc<dyn ShareIndex>, homes: Arc<Dir>) -> Self {
        Self { user_id, shares, homes, started: SystemTime::now() }
    }

    /// A virtual folder of this session: read-only, dated at login.
    pub fn virtual_dir(&self) -> Meta {
        meta::virtual_dir(self.started)
    }

    /// The owners who share something with this user: the entries of `/shared`.
    pub async fn owners(&self) -> StorageResult<Vec<String>> {
        self.shares.owners_for(self.user_id).await.map_err(error::database)
    }

    /// After this user deleted `path` (in their home): shares of it and below go.
    pub async fn deleted(&self, path: &str) -> StorageResult<()> {
        self.shares.delete_prefix(self.user_id, path).await.map_err(error::database)?;
        Ok(())
    }

    /// After this user renamed `from` to `to`: shares follow the item they point at.
    pub async fn moved(&self, from: &str, to: &str) -> StorageResult<()> {
        self.shares.move_prefix(self.user_id, from, to).await.map_err(error::database)?;
        Ok(())
    }

    /// `owner`'s home, reached from the homes handle: a hostile owner name cannot leave the
    /// homes folder (and owner names come from the database, where they are validated).
    fn owner_home(&self, owner: &str) -> ConfinedDir {
        ConfinedDir::home(Arc::clone(&self.homes), owner)
    }

    /// What `path` (owner-relative, normalised) under `/shared/<owner>` is for this user.
    pub async fn resolve(&self, owner: &str, path: &str) -> StorageResult<Resolved> {
        let shared = self.shares.paths_for(self.user_id, owner).await.map_err(error::database)?;
        // The outermost shared item holding `path`: the widest folder it may be served from.
        if let Some(item) = shared.iter().filter(|s| is_within(path, s)).min_by_key(|s| s.len()) {
            let (dir, rel) = self.confined(owner, item, path).await?;
            return Ok(Resolved::Real(dir, rel));
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
    /// the item: a [`ConfinedDir`] on the item's folder, so cap-std refuses any `..` or symbolic
    /// link leading out of it (`pub/up -> ../private` in a shared `/pub` leads nowhere). The
    /// item itself: its parent folder and its name, refused when the item is a symbolic link.
    /// No link is followed on the way from the home to the item ([`ConfinedDir::below`]);
    /// shares of paths through links are refused when they are made ([`shareable`]).
    ///
    /// The item's `lstat` and the later open are two steps: only the owner, who could as well
    /// share the link's target, can change the item in between.
    async fn confined(
        &self,
        owner: &str,
        item: &str,
        path: &str,
    ) -> StorageResult<(ConfinedDir, PathBuf)> {
        let home = self.owner_home(owner);
        if item == "/" {
            return Ok((home, rel(path)));
        }
        if path != item {
            return Ok((home.below(item), PathBuf::from(&path[item.len() + 1..])));
        }
        let (parent, name) = split_last(item);
        let dir = home.below(parent);
        match meta::stat(dir.clone(), PathBuf::from(name)).await {
            Ok(m) if !m.file_type().is_symlink() => Ok((dir, PathBuf::from(name))),
            Err(e) if error::is_panic(&e) => Err(error::from_io(e)),
            _ => Err(error::not_found()),
        }
    }

    /// Lists a virtual folder `dir` of `owner`: shared items show their real metadata,
    /// intermediate folders are virtual. Items deleted behind our back are left out, and so
    /// are items that are now symbolic links (they are not served).
    pub async fn list_virtual(
        &self,
        owner: &str,
        dir: &str,
        names: Vec<String>,
        shared: Vec<String>,
    ) -> StorageResult<Vec<Entry>> {
        let home = self.owner_home(owner);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let full = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            let meta = if shared.contains(&full) {
                let (parent, item) = split_last(&full);
                match meta::stat(home.below(parent), PathBuf::from(item)).await {
                    Ok(m) if !m.file_type().is_symlink() => read_only(meta_of(&m)),
                    Err(e) if error::is_panic(&e) => return Err(error::from_io(e)),
                    _ => continue,
                }
            } else {
                self.virtual_dir()
            };
            out.push(Entry { name, meta });
        }
        Ok(out)
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
    let Ok(mut dir) = Dir::open_ambient_dir(home, cap_std::ambient_authority()) else {
        return false;
    };
    let (parent, name) = split_last(path);
    for component in parent.split('/').filter(|c| !c.is_empty()) {
        match open_dir_nofollow(&dir, component) {
            Ok(d) => dir = d,
            Err(_) => return false,
        }
    }
    // `lstat` of one name in its folder: nothing is followed.
    dir.symlink_metadata(name).is_ok_and(|m| !m.file_type().is_symlink())
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
}

//! Per-user files: [`UserStorage`], the engine's [`Storage`](crate::ftp::Storage) for one
//! logged-in user. Three things are called "root" elsewhere; here they have three names:
//! - the data root (`Settings::root`), whose `home/` folder holds every user's home and is
//!   opened once as the homes handle all sessions share;
//! - a [`ConfinedDir`]: the folder an operation works in (a user's home, or a shared item),
//!   opened from the homes handle per operation; cap-std keeps every path inside it;
//! - FTP `/`: the top of a user's view, their home plus the virtual `/shared` ([`paths`]).
//!
//! Where things are: [`backend`] maps engine operations onto the home or `/shared`;
//! [`shared`] resolves `/shared` through the share index; [`meta`] stats and lists;
//! [`transfer`] moves file contents (with the Linux fast paths); [`dir`] is the confined
//! folder handle; [`error`] builds the engine's errors.

pub mod backend;
pub mod dir;
pub mod error;
pub mod meta;
pub mod paths;
pub mod shared;
pub mod transfer;

pub use backend::{Owner, UserStorage};
pub use dir::ConfinedDir;
pub use shared::{ShareIndex, shareable};

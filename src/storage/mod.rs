//! Per-user files: [`UserStorage`], the engine's [`Storage`](crate::ftp::Storage) for one
//! logged-in user. Three things are called "root" elsewhere; here they have three names:
//! - the data root (`Settings::root`), whose `home/` folder holds every user's home and is
//!   opened once as the homes handle all sessions share;
//! - a `ConfinedDir` (`dir.rs`): the folder an operation works in (a user's home, or a
//!   shared item), opened from the homes handle per operation; cap-std keeps every path
//!   inside it;
//! - FTP `/`: the top of a user's view, their home plus the virtual `/shared` ([`paths`]).
//!
//! Where things are: `backend.rs` maps engine operations onto the home or `/shared`;
//! `shared.rs` resolves `/shared` through the share index; `meta.rs` stats and lists;
//! `transfer/` moves file contents (with the Linux fast paths); `dir.rs` is the confined
//! folder handle; `spare.rs` recycles the files overwrites are written to; `error.rs` builds the engine's errors; `paths.rs` maps FTP paths.

mod backend;
mod dir;
mod error;
mod meta;
pub mod paths;
mod shared;
mod spare;
mod transfer;

pub use backend::{Owner, UserStorage};
pub use shared::{ShareIndex, shareable};
pub use spare::Spares;

//! What the engine needs from the rest of the program, as traits: [`Backend`] logs users in,
//! opens their [`Storage`], runs SITE commands and observes [`Event`]s. The engine knows
//! nothing of accounts, shares or SQL; the daemon implements these traits over its services.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::reply::Reply;

/// The peer of one control connection, as the engine knows it.
#[derive(Debug, Clone)]
pub struct Client {
    /// Engine-wide unique session number (also used in logs and events).
    pub session: u64,
    /// The client's address: from the PROXY header in PROXY protocol mode, else the peer.
    pub addr: SocketAddr,
    /// Our end of the control connection.
    pub local: SocketAddr,
    /// Whether the control connection is protected by TLS now.
    pub tls: bool,
}

/// Why a login did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Unknown user, wrong password or disabled account: `530` with one fixed text, and the
    /// attempt counts towards the failed-logins policy.
    BadCredentials,
    /// Valid credentials refused for a reason the user may see (session limit, shutdown):
    /// `530 <reason>`, not counted as a failed attempt.
    Refused(String),
    /// The account store failed (its database is down, say): `421 Service not available` and
    /// the connection closes, so the client retries later, perhaps on another node; not counted
    /// as a failed attempt. Logged by the backend.
    Unavailable,
}

/// The engine's view of what went wrong with a storage operation; the kind picks the reply
/// code (RFC 959 section 4.2), the message is shown to the client after the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// One line for the client (the engine strips CR/LF).
    pub message: String,
}

/// Kinds of storage failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such file or folder, or not visible to this user: 550.
    NotFound,
    /// Not allowed (read-only area, reserved name): 550.
    PermissionDenied,
    /// The target exists already: 550.
    AlreadyExists,
    /// A folder was needed: 550.
    NotADirectory,
    /// A file was needed: 550.
    IsADirectory,
    /// RMD of a folder that is not empty: 550.
    DirectoryNotEmpty,
    /// A file name the storage cannot take: 553.
    BadName,
    /// Disk full or quota: 452 (RFC 959 "insufficient storage space").
    NoSpace,
    /// The data connection broke or stalled (data_timeout): 426 for transfers.
    ConnectionLost,
    /// Anything else, the client may retry: 451.
    Local,
}

impl StorageError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageError {}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::NotFound => ErrorKind::NotFound,
            K::PermissionDenied => ErrorKind::PermissionDenied,
            K::AlreadyExists => ErrorKind::AlreadyExists,
            K::NotADirectory => ErrorKind::NotADirectory,
            K::IsADirectory => ErrorKind::IsADirectory,
            K::DirectoryNotEmpty => ErrorKind::DirectoryNotEmpty,
            K::InvalidFilename | K::InvalidInput => ErrorKind::BadName,
            K::StorageFull | K::QuotaExceeded | K::FileTooLarge => ErrorKind::NoSpace,
            // A stalled data connection (data_timeout): 451, the client may retry.
            K::TimedOut => ErrorKind::Local,
            K::BrokenPipe
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::UnexpectedEof
            | K::WouldBlock => ErrorKind::ConnectionLost,
            _ => ErrorKind::Local,
        };
        let message = match kind {
            ErrorKind::NotFound => "No such file or directory".to_string(),
            ErrorKind::PermissionDenied => "Permission denied".to_string(),
            ErrorKind::AlreadyExists => "File exists".to_string(),
            ErrorKind::NotADirectory => "Not a directory".to_string(),
            ErrorKind::IsADirectory => "Is a directory".to_string(),
            ErrorKind::DirectoryNotEmpty => "Directory not empty".to_string(),
            ErrorKind::BadName => "File name not allowed".to_string(),
            ErrorKind::NoSpace => "Insufficient storage space".to_string(),
            ErrorKind::ConnectionLost => format!("Data connection failed: {e}"),
            ErrorKind::Local if e.kind() == K::TimedOut => format!("Transfer failed: {e}"),
            ErrorKind::Local => "Local error in processing".to_string(),
        };
        Self { kind, message }
    }
}

/// Result of a storage operation.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link (shown, not followed, by listings).
    Symlink,
}

/// Metadata of a file or folder, real or virtual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// File, folder or link.
    pub kind: FileKind,
    /// Size in bytes.
    pub len: u64,
    /// Last modification.
    pub modified: SystemTime,
    /// Unix permission bits (`0o755`); without write bits the entry is shown read-only.
    pub mode: u32,
    /// Owner id, for LIST.
    pub uid: u32,
    /// Group id, for LIST.
    pub gid: u32,
    /// Hard links, for LIST.
    pub links: u64,
}

impl Meta {
    /// Whether this is a folder.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }

    /// Whether the owner may write it.
    pub fn writable(&self) -> bool {
        self.mode & 0o200 != 0
    }
}

/// One entry of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name (one path component).
    pub name: String,
    /// Its metadata.
    pub meta: Meta,
}

/// A byte stream the engine hands to storage when it cannot hand over a plain socket (TLS,
/// `TYPE A` conversion, HASH). Blanket-implemented.
pub trait DataStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> DataStream for T {}

/// The data connection of one transfer, as storage receives it.
pub enum Data<'a> {
    /// A plain TCP connection in binary mode: storage may use `sendfile`/`splice` and must
    /// consume it; dropping it closes the connection, which ends the transfer (MODE S).
    Socket(TcpStream),
    /// Any other stream: storage reads (STOR) or writes (RETR) it; the engine flushes and
    /// closes it afterwards (TLS `close_notify`).
    Stream(&'a mut dyn DataStream),
}

/// How STOR-like commands write their file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// STOR: create or truncate, then write from `offset` (non-zero after `REST`, RFC 3659
    /// section 5: the file is kept up to `offset` and written from there).
    Write {
        /// Where writing starts.
        offset: u64,
    },
    /// APPE: create or append.
    Append,
    /// STOU: create a new file; fails with [`ErrorKind::AlreadyExists`] if it exists.
    CreateNew,
}

/// One logged-in user's view of files. Paths are absolute, normalised (`/a/b`, no `.` or
/// `..`, no trailing slash except `/` itself) and UTF-8 (RFC 2640).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Metadata of `path` (links are followed; a dangling link is `NotFound`).
    async fn stat(&self, path: &str) -> StorageResult<Meta>;
    /// The entries of folder `path`, in no particular order, without `.` and `..`.
    async fn list(&self, path: &str) -> StorageResult<Vec<Entry>>;
    /// Sends file `path` from byte `offset` into `out`; returns the bytes sent.
    async fn retrieve(&self, path: &str, offset: u64, out: Data<'_>) -> StorageResult<u64>;
    /// Receives `input` into file `path`; returns the bytes written. In stream mode the end of
    /// the data marks the end of the file, so before an upload replaces an existing file the
    /// storage asks `client_alive`: a client killed mid-upload (its control connection closed)
    /// must leave the old file as it was.
    async fn store(
        &self,
        path: &str,
        mode: WriteMode,
        input: Data<'_>,
        client_alive: &(dyn Fn() -> bool + Send + Sync),
    ) -> StorageResult<u64>;
    /// Creates folder `path`.
    async fn make_dir(&self, path: &str) -> StorageResult<()>;
    /// Removes empty folder `path`.
    async fn remove_dir(&self, path: &str) -> StorageResult<()>;
    /// Removes file `path`.
    async fn remove_file(&self, path: &str) -> StorageResult<()>;
    /// Renames `from` to `to` (replacing a file at `to`).
    async fn rename(&self, from: &str, to: &str) -> StorageResult<()>;
    /// Sets the modification time of file `path` (MFMT, RFC 3659 draft / vsftpd).
    async fn set_modified(&self, path: &str, at: SystemTime) -> StorageResult<()>;
}

/// A SITE command as the backend receives it (RFC 959 section 4.1.3).
#[derive(Debug)]
pub struct SiteRequest<'a> {
    /// The subcommand, upper-cased (`SHARE`).
    pub command: &'a str,
    /// Everything after the subcommand, trimmed (may be empty).
    pub args: &'a str,
    /// The session's working directory (absolute, normalised).
    pub cwd: &'a str,
    /// The session that sent it.
    pub client: &'a Client,
}

/// Direction of a transfer event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// RETR.
    Download,
    /// STOR, APPE, STOU.
    Upload,
    /// DELE.
    Delete,
}

/// What the engine tells the backend happened, for WHO, the transfer log and metrics.
#[derive(Debug)]
pub enum Event<'a> {
    /// A session logged in (sent once per successful login).
    LoggedIn {
        /// The session it happened in.
        client: &'a Client,
        /// Login name as the backend returned it.
        user: &'a str,
    },
    /// A logged-in session ended or logged out (sent once for every `LoggedIn`, whatever ended
    /// the session: QUIT, REIN, idle timeout, reset, error, shutdown).
    LoggedOut {
        /// The session it happened in.
        client: &'a Client,
        /// Login name.
        user: &'a str,
    },
    /// A transfer or deletion finished (successfully or not).
    Transfer {
        /// The session it happened in.
        client: &'a Client,
        /// Login name.
        user: &'a str,
        /// The absolute path.
        path: &'a str,
        /// Which way.
        direction: Direction,
        /// Bytes moved.
        bytes: u64,
        /// Wall time of the transfer.
        duration: Duration,
        /// `TYPE A` was in force.
        ascii: bool,
        /// Whether it succeeded.
        ok: bool,
    },
    /// A failed login (bad credentials); `blocked` when the failed-logins policy refused it
    /// before the password was checked.
    LoginFailed {
        /// The session it happened in.
        client: &'a Client,
        /// The name tried (truncated by the engine to 64 characters).
        user: &'a str,
        /// Refused by the policy without checking the password.
        blocked: bool,
    },
    /// One command was answered.
    Command {
        /// The verb, upper-cased (`RETR`), or `-` for an unparseable line.
        verb: &'a str,
        /// The reply code sent.
        code: u16,
    },
}

/// Everything the engine needs from the program around it.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A logged-in user.
    type User: Send + Sync + 'static;
    /// The file tree a logged-in user sees (opened by [`Backend::storage`]).
    type Storage: Storage;

    /// Checks `username`/`password` from `client`.
    async fn login(
        &self,
        username: &str,
        password: &str,
        client: &Client,
    ) -> Result<Self::User, AuthError>;

    /// The user's login name, for events and logs.
    fn name(user: &Self::User) -> &str;

    /// Opens `user`'s storage right after login; an error fails the login with `530`.
    async fn storage(&self, user: &Self::User) -> StorageResult<Self::Storage>;

    /// A login that [`Backend::login`] accepted did not complete (its storage could not be
    /// opened): no `LoggedIn` or `LoggedOut` event follows, so whatever `login` set aside for
    /// `client` (a place under a session limit) is released here.
    async fn login_abandoned(&self, _user: &Self::User, _client: &Client) {}

    /// Whether `user` may still act (not disabled or deleted since login). Called before each
    /// command of a logged-in session; `false` answers `530` and ends the session.
    async fn still_allowed(&self, _user: &Self::User) -> bool {
        true
    }

    /// Runs `SITE <command> <args>` for `user`. Unknown subcommands should answer `502`.
    async fn site(&self, user: &Self::User, request: SiteRequest<'_>) -> Reply;

    /// Observes an event. Must not block: called on the session's task.
    fn event(&self, _event: Event<'_>) {}

    /// Completes when the events sent so far are recorded. The engine awaits it after
    /// `LoggedIn`, before the 230 reply, so whoever asks who is online right after a login
    /// sees that session.
    async fn events_recorded(&self) {}
}

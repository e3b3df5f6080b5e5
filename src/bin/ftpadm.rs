//! `ftpadm`: the multiftp admin CLI. Works on the same database as `multiftpd`, also while the
//! daemon runs. Every command calls the library's service functions, the same ones the SITE
//! commands use. Exit codes: 0 success, 1 failure (one line on stderr), 2 usage.
//!
//! Only `ftpadm init` creates a database: every other command needs an existing one, so a
//! mistyped `--root` is reported instead of answered with an empty, new installation.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use multiftp::account::{Account, AccountChanges, NewAccount, Role};
use multiftp::cli::{DataArgs, init_tracing};
use multiftp::{App, Settings};

/// Manage multiftp users and shares.
///
/// Uses the same configuration as multiftpd: --config, --root and --db (or MULTIFTP_CONFIG,
/// MULTIFTP_ROOT, MULTIFTP_DB) point both at the same database.
#[derive(Debug, Parser)]
#[command(name = "ftpadm", version)]
struct Cli {
    #[command(flatten)]
    data: DataArgs,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data root, its homes folder and the database with the first admin account,
    /// as multiftpd's first start does; prints the admin's password (also kept in
    /// <root>/initial-admin-password until it is changed).
    Init,
    /// Add, list, show, update and delete users.
    #[command(subcommand)]
    User(UserCommand),
    /// Set a user's password (asked twice on the terminal, or --password-stdin).
    Passwd {
        /// The user.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Share files between users (the same as SITE SHARE / UNSHARE / SHARES).
    #[command(subcommand)]
    Share(ShareCommand),
    /// Show or change a user's profile (the same as SITE PROFILE / SETPROFILE).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Send messages to users (they read them with SITE INBOX).
    #[command(subcommand)]
    Msg(MsgCommand),
    /// Show who is logged in now, in every running multiftpd on this database.
    Who,
    /// End a user's open sessions in every running multiftpd on this database (within a
    /// second, at each session's next command). The account stays enabled: they may log in
    /// again; disable it to keep them out.
    Kick {
        /// The user.
        name: String,
    },
    /// Make TLS certificates for FTPS.
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Write a self-signed certificate and key (PEM) for trying FTPS; clients will warn that it
    /// is not trusted. Use a certificate from a real CA in production.
    SelfSigned {
        /// Host name (or IP) clients connect to; goes in the certificate's subject alt names.
        #[arg(long, value_name = "NAME")]
        host: String,
        /// Folder to write cert.pem and key.pem into.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out_dir: std::path::PathBuf,
        /// Give both files to this user and their group (a name from /etc/passwd, or
        /// UID[:GID]), e.g. the daemon's service user, which must read the key (0600). Needs
        /// root.
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ProfileCommand {
    /// Show a user's profile.
    Show {
        /// The user.
        name: String,
    },
    /// Change a user's profile fields.
    Set {
        /// The user.
        name: String,
        /// New display name.
        #[arg(long, value_name = "S")]
        full_name: Option<String>,
        /// New email address ("" clears it).
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// New bio (at most 1000 characters).
        #[arg(long, value_name = "S")]
        bio: Option<String>,
        /// Show the email to other users in SITE PROFILE (yes), or only to the user and
        /// admins (no, the default).
        #[arg(long, value_name = "yes|no")]
        email_public: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MsgCommand {
    /// Send a message from the admin, to one user or to everyone (e.g. before maintenance).
    Send {
        /// The recipient.
        #[arg(long, value_name = "NAME", required_unless_present = "all", conflicts_with = "all")]
        to: Option<String>,
        /// Send to every enabled user.
        #[arg(long)]
        all: bool,
        /// The message (at most 500 characters).
        text: String,
    },
}

#[derive(Debug, Args)]
struct PasswordArgs {
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and their home folder.
    Add {
        /// Username: a lowercase letter, then lowercase letters, digits, '_', '.', '-' (max 32).
        name: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Display name.
        #[arg(long, value_name = "S")]
        full_name: Option<String>,
        /// Email address.
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// Create the account disabled (cannot log in until enabled).
        #[arg(long)]
        disabled: bool,
        /// Give the user the existing home folder of that name (left by a deleted account),
        /// files and all; without it such a folder stops the command.
        #[arg(long)]
        reuse_home: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List all users.
    List,
    /// Show one user.
    Show {
        /// The user.
        name: String,
    },
    /// Change a user's details, role or status.
    Update {
        /// The user.
        name: String,
        /// New display name.
        #[arg(long, value_name = "S")]
        full_name: Option<String>,
        /// New email address ("" clears it).
        #[arg(long, value_name = "S")]
        email: Option<String>,
        /// Make the user an admin.
        #[arg(long, conflicts_with = "no_admin")]
        admin: bool,
        /// Make the user an ordinary user.
        #[arg(long)]
        no_admin: bool,
        /// Allow the user to log in.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop the user from logging in; their open sessions end at their next command.
        #[arg(long)]
        disable: bool,
    },
    /// Delete a user, their shares and messages, and end their open sessions. Their files
    /// stay unless --purge-files.
    Delete {
        /// The user.
        name: String,
        /// Also delete the user's home folder and everything in it.
        #[arg(long)]
        purge_files: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ShareCommand {
    /// Share OWNER's PATH (a file or folder of their home) with RECIPIENT.
    Add {
        /// The user who owns the file.
        owner: String,
        /// The path inside the owner's home, e.g. /projects/plan.pdf.
        path: String,
        /// The user who gets read access.
        recipient: String,
    },
    /// List shares, all or those where --user is owner or recipient.
    List {
        /// Only shares of or to this user.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Revoke a share.
    Revoke {
        /// The user who owns the file.
        owner: String,
        /// The shared path inside the owner's home.
        path: String,
        /// The user who had access.
        recipient: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(false, "warn", multiftp::config::LogFormat::Text);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpadm: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Cert(CertCommand::SelfSigned { host, out_dir, owner }) = &cli.command {
        return self_signed(host, out_dir, owner.as_deref());
    }
    let settings = Settings::load(cli.data.config.as_deref(), cli.data.raw())?;
    if let Command::Init = &cli.command {
        return init(settings, cli.json).await;
    }
    if !settings.db.exists() {
        bail!(
            "no multiftp database at {} (data root {}): check --root, --db or --config (or \
             MULTIFTP_ROOT, MULTIFTP_DB, MULTIFTP_CONFIG); to set up a new installation there, \
             run 'ftpadm --root {} init' or start multiftpd once",
            settings.db.display(),
            settings.root.display(),
            settings.root.display()
        );
    }
    if let Some(warning) = owner_warning(&settings.root) {
        eprintln!("ftpadm: warning: {warning}");
    }
    let app = App::open(settings).await?;
    let result = dispatch(&app, cli.command, cli.json).await;
    app.pool.close().await;
    result
}

async fn dispatch(app: &App, command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::User(cmd) => user(app, cmd, json).await,
        Command::Passwd { name, password } => {
            app.accounts.get(&name).await?;
            let pw = read_password(&password, &format!("New password for {name}: "))?;
            let file = multiftp::account::initial_password_path(&app.settings.root);
            let had_file = file.exists();
            app.accounts.set_password(&name, pw).await?;
            println!("password of '{name}' changed");
            if had_file && !file.exists() {
                println!("removed {}: the generated first password is gone", file.display());
            }
            Ok(())
        }
        Command::Share(cmd) => share(app, cmd, json).await,
        Command::Profile(ProfileCommand::Show { name }) => {
            let account = app.accounts.get(&name).await?;
            print_one(&account, json, "")
        }
        Command::Profile(ProfileCommand::Set { name, full_name, email, bio, email_public }) => {
            if full_name.is_none() && email.is_none() && bio.is_none() && email_public.is_none() {
                bail!("nothing to change: give --full-name, --email, --bio or --email-public");
            }
            let email_public =
                email_public.as_deref().map(multiftp::account::parse_yes_no).transpose()?;
            let changes =
                AccountChanges { full_name, email, bio, email_public, ..AccountChanges::default() };
            let account = app.accounts.update(&name, changes).await?;
            print_one(&account, json, &format!("profile of '{name}' updated"))
        }
        Command::Msg(MsgCommand::Send { to, all, text }) => {
            if all {
                let n = app.messages.broadcast(&text).await?;
                println!("message sent to {n} user(s)");
            } else if let Some(to) = to {
                app.messages.send_as_admin(&to, &text).await?;
                println!("message sent to {to}");
            }
            Ok(())
        }
        Command::Kick { name } => {
            app.accounts.kick(&name).await?;
            let online = app.sessions.online().await?.iter().filter(|s| s.username == name).count();
            println!(
                "sessions of '{name}' end at their next command, within {} s ({online} online now)",
                multiftp::account::ACCESS_RECHECK.as_secs()
            );
            Ok(())
        }
        Command::Cert(_) => unreachable!("handled before the database is opened"),
        Command::Init => unreachable!("handled before the database is opened"),
        Command::Who => {
            let online = app.sessions.online().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&online)?);
            } else {
                println!("{:<20} {:<22} FROM", "USERNAME", "SINCE");
                for s in &online {
                    println!("{:<20} {:<22} {}", s.username, s.started_at, s.client_addr);
                }
            }
            Ok(())
        }
    }
}

async fn user(app: &App, cmd: UserCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { name, admin, full_name, email, disabled, reuse_home, password } => {
            multiftp::account::validate_username(&name)?;
            if app.accounts.get(&name).await.is_ok() {
                bail!("user '{name}' already exists; use 'ftpadm user update' to change it");
            }
            let pw = read_password(&password, &format!("Password for {name}: "))?;
            let account = app
                .accounts
                .add_with(
                    NewAccount {
                        username: name,
                        password: pw,
                        role: if admin { Role::Admin } else { Role::User },
                        enabled: !disabled,
                        full_name: full_name.unwrap_or_default(),
                        email: email.unwrap_or_default(),
                    },
                    reuse_home,
                )
                .await?;
            let home = app.accounts.home_of(&account.username);
            print_one(
                &account,
                json,
                &format!("user '{}' added, home {}", account.username, home.display()),
            )
        }
        UserCommand::List => {
            let users = app.accounts.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                println!(
                    "{:<20} {:<6} {:<8} {:<24} EMAIL",
                    "USERNAME", "ROLE", "ENABLED", "FULL NAME"
                );
                for u in &users {
                    println!(
                        "{:<20} {:<6} {:<8} {:<24} {}",
                        u.username,
                        u.role.as_str(),
                        if u.enabled { "yes" } else { "no" },
                        u.full_name,
                        u.email
                    );
                }
            }
            Ok(())
        }
        UserCommand::Show { name } => {
            let account = app.accounts.get(&name).await?;
            print_one(&account, json, "")
        }
        UserCommand::Update { name, full_name, email, admin, no_admin, enable, disable } => {
            let changes = AccountChanges {
                full_name,
                email,
                bio: None,
                role: match (admin, no_admin) {
                    (true, _) => Some(Role::Admin),
                    (_, true) => Some(Role::User),
                    _ => None,
                },
                enabled: match (enable, disable) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                email_public: None,
            };
            let account = app.accounts.update(&name, changes).await?;
            print_one(&account, json, &format!("user '{name}' updated"))
        }
        UserCommand::Delete { name, purge_files } => {
            let home = app.accounts.delete(&name, purge_files).await?;
            if purge_files {
                println!("user '{name}' deleted with their files");
            } else {
                println!("user '{name}' deleted; their files are kept in {}", home.display());
            }
            Ok(())
        }
    }
}

async fn share(app: &App, cmd: ShareCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        ShareCommand::Add { owner, path, recipient } => {
            let (path, created) = app.shares.grant(&owner, &path, &recipient).await?;
            if created {
                println!("{owner}:{path} shared with {recipient} (at /shared/{owner}{path})");
            } else {
                println!("{owner}:{path} was already shared with {recipient}");
            }
        }
        ShareCommand::List { user } => {
            let rows = app.shares.list(user.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<20} {:<20} {:<20} PATH", "OWNER", "RECIPIENT", "SINCE");
                for r in &rows {
                    println!("{:<20} {:<20} {:<20} {}", r.owner, r.recipient, r.created_at, r.path);
                }
            }
        }
        ShareCommand::Revoke { owner, path, recipient } => {
            let path = app.shares.revoke(&owner, &path, &recipient).await?;
            println!("{owner}:{path} no longer shared with {recipient}");
        }
    }
    Ok(())
}

/// `ftpadm init`: creates the root, homes and database (refusing an existing database) and
/// the first admin, whose password it prints and leaves in `<root>/initial-admin-password`.
async fn init(settings: Settings, json: bool) -> anyhow::Result<()> {
    if settings.db.exists() {
        bail!(
            "a database already exists at {}; nothing changed ('ftpadm user list' shows its \
             users)",
            settings.db.display()
        );
    }
    let app = App::open(settings).await?;
    let password = app.accounts.bootstrap_admin().await;
    app.pool.close().await;
    let s = &app.settings;
    let file = multiftp::account::initial_password_path(&s.root);
    let Some(password) = password? else {
        // Another process created the database and its users in the meantime.
        bail!("{} already has users; nothing changed", s.db.display());
    };
    if json {
        let v = serde_json::json!({
            "root": s.root,
            "database": s.db,
            "username": multiftp::account::FIRST_ADMIN,
            "password": password,
            "password_file": file,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "created the database {} and the homes folder {}",
            s.db.display(),
            s.homes().display()
        );
        println!("created the admin account:");
        println!("  username: {}", multiftp::account::FIRST_ADMIN);
        println!("  password: {password}");
        println!(
            "the password is also in {} until you change it with: ftpadm passwd {}",
            file.display(),
            multiftp::account::FIRST_ADMIN
        );
    }
    Ok(())
}

/// Writes `cert.pem` and `key.pem` (mode 0600) for `host` into `dir`, refusing to overwrite;
/// with `owner`, gives both to that user (and removes them again if that fails).
fn self_signed(host: &str, dir: &std::path::Path, owner: Option<&str>) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // The owner is looked up first: a wrong name writes nothing.
    let owner = owner.map(lookup_owner).transpose()?;
    let pair = rcgen::generate_simple_self_signed(vec![host.to_string()])
        .with_context(|| format!("cannot make a certificate for '{host}'"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let mut written = Vec::new();
    for (path, pem, mode) in
        [(&cert_path, pair.cert.pem(), 0o644), (&key_path, pair.signing_key.serialize_pem(), 0o600)]
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .with_context(|| format!("cannot write {} (it must not exist yet)", path.display()))?;
        written.push(path.clone());
        let done = f.write_all(pem.as_bytes()).context("writing").and_then(|()| match owner {
            Some((uid, gid)) => std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                .with_context(|| format!("cannot give it to uid {uid} (run ftpadm as root)")),
            None => Ok(()),
        });
        if let Err(e) = done {
            // Half a pair is worse than none: the next run would refuse to overwrite it.
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.context(format!("{} not written", path.display())));
        }
    }
    println!("wrote {} and {}", cert_path.display(), key_path.display());
    println!(
        "start the daemon with: multiftpd --tls-cert {} --tls-key {}",
        cert_path.display(),
        key_path.display()
    );
    Ok(())
}

/// The uid and gid for `--owner`: `UID[:GID]`, or a user name from `/etc/passwd` with its
/// primary group.
fn lookup_owner(spec: &str) -> anyhow::Result<(u32, u32)> {
    if let Some((uid, gid)) = spec.split_once(':') {
        if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
            return Ok((uid, gid));
        }
    } else if let Ok(uid) = spec.parse::<u32>() {
        let gid = passwd_entries().find(|e| e.1 == uid).map_or(uid, |e| e.2);
        return Ok((uid, gid));
    }
    passwd_entries().find(|e| e.0 == spec).map(|e| (e.1, e.2)).with_context(|| {
        format!("no user '{spec}' in /etc/passwd (--owner takes a user name or UID[:GID])")
    })
}

/// `(name, uid, gid)` of every well-formed line of `/etc/passwd` (none if it is unreadable).
/// Users known only to NSS services (LDAP) are not there: `--owner` then takes UID:GID.
fn passwd_entries() -> std::vec::IntoIter<(String, u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entries: Vec<(String, u32, u32)> = text
        .lines()
        .filter_map(|line| {
            // name:password:uid:gid:gecos:home:shell
            let mut fields = line.split(':');
            let name = fields.next()?.to_string();
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some((name, uid, gid))
        })
        .collect();
    entries.into_iter()
}

/// A warning when `ftpadm` runs as another user than the owner of the data root `root`: the
/// daemon runs as that owner and must be able to write what `ftpadm` creates there.
fn owner_warning(root: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(root).ok()?.uid();
    let me = rustix::process::geteuid().as_raw();
    if owner == me {
        return None;
    }
    let name = |uid: u32| {
        passwd_entries()
            .find(|e| e.1 == uid)
            .map_or_else(|| format!("uid {uid}"), |e| format!("'{}' (uid {uid})", e.0))
    };
    let as_root = if me == 0 { " (as root, new homes are given to that user)" } else { "" };
    Some(format!(
        "ftpadm runs as {} but the data root {} belongs to {}, the user multiftpd should run \
         as{as_root}; run ftpadm as that user, e.g. sudo -u {} ftpadm ...",
        name(me),
        root.display(),
        name(owner),
        passwd_entries().find(|e| e.1 == owner).map_or_else(|| format!("#{owner}"), |e| e.0),
    ))
}

fn print_one(account: &Account, json: bool, headline: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(account)?);
        return Ok(());
    }
    if !headline.is_empty() {
        println!("{headline}");
    }
    println!("username:   {}", account.username);
    println!("role:       {}", account.role.as_str());
    println!("enabled:    {}", if account.enabled { "yes" } else { "no" });
    println!("full name:  {}", account.full_name);
    println!("email:      {}", account.email);
    println!("email public: {}", if account.email_public { "yes" } else { "no" });
    println!("bio:        {}", account.bio);
    println!("created:    {}", account.created_at);
    println!("last login: {}", account.last_login_at.as_deref().unwrap_or("never"));
    Ok(())
}

/// Reads a password: the first line of stdin with --password-stdin, otherwise asked twice on
/// the terminal without echo. Never from argv, so it stays out of `ps` and shell history.
fn read_password(args: &PasswordArgs, prompt: &str) -> anyhow::Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading password from stdin")?;
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        if line.is_empty() {
            // Not "too short": an empty stdin (`</dev/null`, a variable that was not set) is a
            // scripting mistake, and the policy message would hide it.
            bail!(
                "standard input had no password: with --password-stdin, write the password as \
                 the first line of standard input"
            );
        }
        line
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).context("reading password")?;
        let second = rpassword::prompt_password("Repeat: ").context("reading password")?;
        if first != second {
            bail!("the passwords do not match; nothing was changed");
        }
        first
    } else {
        let _ = std::io::stderr().flush();
        bail!("no terminal to ask for the password: pass --password-stdin and write it to stdin");
    };
    multiftp::account::password::check_policy(&password)?;
    Ok(password)
}

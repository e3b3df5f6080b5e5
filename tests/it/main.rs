//! Integration tests: the real daemon on a free loopback port with a temp root and a real
//! SQLite file (or a throw-away PostgreSQL server), driven by real FTP clients (suppaftp, curl)
//! and the real `ftpadm` binary.

mod harness;

// login, 530s, users appearing and disappearing while the server runs
mod login;
// transfers, directory operations, listings, resume, UTF-8 names
mod transfer;
// isolation between users and path traversal attempts
mod isolation;
// the ftpadm binary end to end, and bad input
mod ftpadm;
// the /shared folder and SITE SHARE / UNSHARE / SHARES
mod shares;
// profiles, passwords, who, messages and admin user management over SITE
mod site;
// FTPS: curl and Python ftplib over explicit TLS, and a bad data-channel handshake
mod tls;
// the real multiftpd binary: logs, fail2ban filter, transfer log, SIGTERM, session limits
mod daemon;
// RFC behaviour of the control channel: pathnames, FEAT/OPTS/MLST, TYPE A, ABOR, STAT, REST
mod protocol;
// hostile input: over-long lines, parse errors, Telnet sequences, a seeded fuzz run
mod robustness;
// lftp, Python ftplib and FTP_TLS, curl under each tls_required policy
mod clients;
// data connections: passive listeners, peer check, active mode, EPSV/EPRT, EPSV ALL
mod channels;
// the engine's settings: active mode, TLS session reuse, data peer check, line limit, implicit TLS
mod settings;
// disabled, deleted and kicked accounts lose open sessions, SITE PASSWD throttle, full-disk login
mod sessions_security;
// admin safety: the last admin under races, ftpadm init, the first admin's password, old homes
mod admin_safety;
// files and sharing under attack: links in shared folders, interrupted overwrites, notices, e-mail
mod files_security;
// operations: fail2ban-regex on the real logs, SIGHUP reloads, file owners when ftpadm is root
mod ops;
// several nodes on one database: WHO, failed logins, session limits, heartbeat, account changes
mod nodes;
// PostgreSQL as the database: ftpadm and the daemon on one URL, outages, errors, migrations
mod postgres;
// a throw-away PostgreSQL server for the tests that need one
mod pgserver;
// the source layout: tiers without cycles, long files that say why
mod layout;
// the cluster rig: HAProxy with the shipped config in front of several multiftpd nodes
mod balancer;
// several nodes behind HAProxy: sessions on both nodes, passive data, a node killed mid-download
mod cluster;

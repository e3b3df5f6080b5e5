-- PostgreSQL twin of migrations/sqlite/20261201201000_cluster_state.sql (same tables; Unix
-- milliseconds need BIGINT here, where SQLite's INTEGER is 64-bit already).
-- Cluster-wide state (issue 14): several multiftpd nodes on one database share who is online,
-- the session limits and the failed-logins policy through these tables.
--
-- node_name: the node's --node-name, shown by SITE WHO and ftpadm who; a node starting again
-- under the same name removes the rows its previous run left (kill -9, power loss).
-- alive_until: Unix milliseconds until which the node counts as running; each heartbeat moves
-- it HEARTBEAT_WINDOW intervals ahead. Readers skip the sessions of nodes past it, so rows of
-- daemons from before this migration (0) count as gone.
ALTER TABLE daemons ADD COLUMN node_name TEXT NOT NULL DEFAULT '';
ALTER TABLE daemons ADD COLUMN alive_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX daemons_by_node ON daemons (node_name);
CREATE INDEX sessions_by_daemon ON sessions (daemon_id);

-- The failed-logins policy's counts, one row per key (address, user name or both, as
-- failed_logins_by says), so a guesser who moves between nodes is counted once. Times are
-- Unix milliseconds; a row is over once last_at + failed_logins_block has passed.
CREATE TABLE failed_logins (
    key           TEXT    PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_at       BIGINT  NOT NULL,
    blocked_until BIGINT
);
CREATE INDEX failed_logins_by_age ON failed_logins (last_at);

-- Rows that writers UPDATE to take a lock held until their transaction ends: SQLite has one
-- writer at a time anyway, PostgreSQL locks the row. 'session_admission' makes counting the
-- open sessions and adding one a single step across nodes (max_sessions and
-- max_sessions_per_user).
CREATE TABLE cluster_locks (
    name TEXT    PRIMARY KEY,
    held INTEGER NOT NULL DEFAULT 0
);
INSERT INTO cluster_locks (name) VALUES ('session_admission');

-- The SITE MSG rate limit counts a sender's recent messages.
CREATE INDEX messages_by_sender ON messages (sender_id, sent_at);

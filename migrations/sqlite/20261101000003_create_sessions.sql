-- Live FTP sessions, so `ftpadm who` and SITE WHO see who is online from outside the daemon.
-- Each daemon process registers itself and refreshes heartbeat_at; sessions of a daemon whose
-- heartbeat is stale (it crashed) are not shown and are swept at the next start.
CREATE TABLE daemons (
    id           TEXT    PRIMARY KEY,
    pid          INTEGER NOT NULL,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL
);
CREATE TABLE sessions (
    trace_id    TEXT    PRIMARY KEY,
    daemon_id   TEXT    NOT NULL REFERENCES daemons (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_addr TEXT    NOT NULL,
    started_at  TEXT    NOT NULL
);

-- Accounts: one row per FTP user. password_hash is an argon2id PHC string.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT    NOT NULL UNIQUE,
    password_hash       TEXT    NOT NULL,
    role                TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    enabled             INTEGER NOT NULL DEFAULT 1,
    full_name           TEXT    NOT NULL DEFAULT '',
    email               TEXT    NOT NULL DEFAULT '',
    bio                 TEXT    NOT NULL DEFAULT '',
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    last_login_at       TEXT,
    password_changed_at TEXT    NOT NULL
);

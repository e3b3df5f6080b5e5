-- Shares: owner grants recipient read access to `path` (owner-relative, normalised, starts
-- with '/'). Rows go with either user.
CREATE TABLE shares (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    path         TEXT    NOT NULL,
    recipient_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL,
    UNIQUE (owner_id, path, recipient_id)
);
CREATE INDEX shares_by_recipient ON shares (recipient_id, owner_id);

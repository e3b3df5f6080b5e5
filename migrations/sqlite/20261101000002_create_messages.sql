-- Short messages between users (the seed's chat). sender_id NULL = admin/system broadcast.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    recipient_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body         TEXT    NOT NULL,
    sent_at      TEXT    NOT NULL,
    read_at      TEXT
);
CREATE INDEX messages_by_recipient ON messages (recipient_id, id);

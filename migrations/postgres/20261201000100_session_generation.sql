-- Ending open sessions from any process (issue 11, items 1 and 16); as in migrations/sqlite/.
--
-- session_generation: `ftpadm kick` / SITE KICK add one; a session remembers the value it
-- logged in with and ends when it differs.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;

-- One counter that moves whenever a change may end someone's sessions (disable, delete,
-- kick). Each daemon reads only this row, at most once a second, and reads users' rows again
-- only after it moved: the check before every FTP command stays cheap.
CREATE TABLE user_access_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO user_access_version (id, version) VALUES (1, 0);

CREATE FUNCTION users_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_access_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- `UPDATE OF` fires whenever the column is in the SET list (profile updates name `enabled`
-- too), so the WHEN clause keeps the counter for real changes.
CREATE TRIGGER users_access_changed
AFTER UPDATE OF enabled, session_generation ON users
FOR EACH ROW
WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
      OR OLD.session_generation IS DISTINCT FROM NEW.session_generation)
EXECUTE FUNCTION users_access_changed();

CREATE TRIGGER users_access_deleted
AFTER DELETE ON users
FOR EACH ROW
EXECUTE FUNCTION users_access_changed();

-- The installation always keeps at least one enabled admin (issue 11, item 3). The service
-- layer checks this too, but a check in one statement and the change in another can both pass
-- in two processes at once (two `ftpadm user update --no-admin`, or SITE USER SET racing
-- SITE USER DEL) and leave nobody who can manage users. These triggers run inside the writing
-- statement, and SQLite lets one writer at a time change the database, so the count they see
-- is the one the change applies to.
--
-- The message is matched by src/auth/store.rs: keep them in step.

CREATE TRIGGER users_keep_an_enabled_admin_on_update
BEFORE UPDATE OF role, enabled ON users
WHEN OLD.role = 'admin' AND OLD.enabled = 1
     AND (NEW.role <> 'admin' OR NEW.enabled = 0)
     AND (SELECT COUNT(*) FROM users WHERE role = 'admin' AND enabled = 1) <= 1
BEGIN
    SELECT RAISE(ABORT, 'multiftp: last enabled admin');
END;

CREATE TRIGGER users_keep_an_enabled_admin_on_delete
BEFORE DELETE ON users
WHEN OLD.role = 'admin' AND OLD.enabled = 1
     AND (SELECT COUNT(*) FROM users WHERE role = 'admin' AND enabled = 1) <= 1
BEGIN
    SELECT RAISE(ABORT, 'multiftp: last enabled admin');
END;

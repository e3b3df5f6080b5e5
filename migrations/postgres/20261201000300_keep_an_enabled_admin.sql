-- The installation always keeps at least one enabled admin (issue 11, item 3), checked inside
-- the writing statement as in migrations/sqlite/. SQLite has one writer at a time; PostgreSQL
-- runs two transactions at once, each counting admins in its own snapshot, so two demotions on
-- two nodes could both see two admins. The transaction-scoped advisory lock makes such changes
-- take turns, and under READ COMMITTED the count after it sees what the other one committed.
--
-- RAISE EXCEPTION without a code is SQLSTATE P0001, which db::classify reads as a trigger
-- abort (the message is for people; the code decides).

CREATE FUNCTION users_keep_an_enabled_admin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.role = 'admin' AND OLD.enabled
       AND (TG_OP = 'DELETE' OR NEW.role <> 'admin' OR NOT NEW.enabled) THEN
        -- Any constant works as the key; it only has to be the same in every transaction.
        PERFORM pg_advisory_xact_lock(7812072032);
        IF (SELECT COUNT(*) FROM users WHERE role = 'admin' AND enabled) <= 1 THEN
            RAISE EXCEPTION 'multiftp: last enabled admin';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_keep_an_enabled_admin_on_update
BEFORE UPDATE OF role, enabled ON users
FOR EACH ROW EXECUTE FUNCTION users_keep_an_enabled_admin();

CREATE TRIGGER users_keep_an_enabled_admin_on_delete
BEFORE DELETE ON users
FOR EACH ROW EXECUTE FUNCTION users_keep_an_enabled_admin();

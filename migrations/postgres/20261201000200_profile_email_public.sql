-- Whether other users may see a user's e-mail address in SITE PROFILE. Private by default:
-- the address is shown only to the user and to admins unless the user makes it public.
ALTER TABLE users ADD COLUMN email_public BOOLEAN NOT NULL DEFAULT FALSE;

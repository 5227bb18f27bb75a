"""The accounts' e-mail ownership, as the one SQL both engines' migrations run.

Here, not in hub/auth/accounts.py, because the PostgreSQL migrations
(hub/db/postgres/migrations.py) run it too and db/ imports nothing above it.
"""

# Who owns an account's e-mail address (users.email_source): the directory import, or the
# person (self-service, not verified). The import matches accounts only by addresses it
# owns; a person cannot change an address the import owns (issue 24, item 4).
EMAIL_FROM_IMPORT = "import"
EMAIL_FROM_SELF = "self"
EMAIL_OWNER_SQL = f"""
ALTER TABLE users ADD COLUMN email_source TEXT;
UPDATE users SET email = NULL WHERE trim(email) = '';
UPDATE users SET email_source = CASE WHEN lower(email) = lower(username)
                                     THEN '{EMAIL_FROM_IMPORT}' ELSE '{EMAIL_FROM_SELF}' END
WHERE email IS NOT NULL;
UPDATE users SET email = NULL, email_source = NULL
WHERE email IS NOT NULL AND EXISTS (
    SELECT 1 FROM users other WHERE lower(other.email) = lower(users.email) AND (
        (other.email_source = '{EMAIL_FROM_IMPORT}' AND users.email_source = '{EMAIL_FROM_SELF}')
        OR (other.email_source = users.email_source AND other.id < users.id)));
CREATE UNIQUE INDEX users_email_unique ON users (lower(email)) WHERE email IS NOT NULL;
"""

"""The ``invitations`` table (hub/auth/invitations.py) for the SQLite migrations; PostgreSQL has
the same table in hub/db/postgres/migrations.py. No foreign key: deleting a person removes their
rows through the data inventory (hub/privacy/inventory.py), like every personal table."""

SQL = """
CREATE TABLE IF NOT EXISTS invitations (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    used REAL,
    next TEXT
);
CREATE INDEX IF NOT EXISTS invitations_user ON invitations (user_id);
"""

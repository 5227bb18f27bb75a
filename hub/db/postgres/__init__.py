"""The PostgreSQL store (psycopg 3, pooled): the engine of several hub workers, with its
migrations."""

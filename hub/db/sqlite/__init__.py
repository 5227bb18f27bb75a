"""The SQLite store (sqlite-utils, WAL): the engine of one hub process, with its migrations."""

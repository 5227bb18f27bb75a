"""The only package that knows a database engine: the Store protocol, per-message rules, sqlite/
and postgres/."""

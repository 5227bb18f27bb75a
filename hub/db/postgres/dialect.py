"""The hub's SQL is written once, in SQLite's dialect; this turns it into PostgreSQL's.

Why translate instead of keeping two copies: the ingest rules (hub/db/apply.py) and the
report reads (hub/reports/day_store.py, hub/db/sqlite/store.py) must behave identically on both
engines, and one copy of the SQL cannot drift. The translation covers exactly the
SQLite constructs the hub uses, and nothing more:

- placeholders: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``, ``%`` -> ``%%`` (statements are
  always run with a parameter sequence, possibly empty, so psycopg reads the escapes);
- ``INSERT OR IGNORE INTO ...`` -> ``INSERT INTO ... ON CONFLICT DO NOTHING``;
- scalar two-argument ``MIN(a, b)`` / ``MAX(a, b)`` -> ``LEAST`` / ``GREATEST``;
- ``json_each(?)`` over a JSON list -> a ``(value, key)`` table with 0-based keys;
- ``group_concat(x)`` -> ``string_agg((x)::text, ',')``.

String literals keep their text. Anything else SQLite-only (PRAGMA, ``executescript``
of SQLite DDL, sqlite-utils table helpers) is not translated: the hub's modules avoid it
on PostgreSQL through hub/db/compat.py (docs/scale.md, "PostgreSQL store").
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[^'\"]+")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_JSON_EACH = re.compile(r"\bjson_each\(\s*%s\s*\)(\s+(?:AS\s+)?(?!ON\b|WHERE\b|JOIN\b)(\w+))?",
                        re.IGNORECASE)
_FUNC = re.compile(r"\b(MIN|MAX|group_concat)\s*\(", re.IGNORECASE)
_JSON_TABLE = ("(SELECT value, ordinality - 1 AS key FROM "
               "json_array_elements_text(%s::json) WITH ORDINALITY)")


@lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """The PostgreSQL text of one SQLite statement of the hub (see the module docstring)."""
    parts = []
    for token in _TOKEN.findall(sql):
        if token[0] in "'\"":
            parts.append(token.replace("%", "%%"))  # psycopg reads % even in literals
            continue
        token = token.replace("%", "%%").replace("?", "%s")
        parts.append(_NAMED.sub(r"%(\1)s", token))
    out = "".join(parts)
    out = _rewrite_functions(out)
    out = _JSON_EACH.sub(_json_each, out)
    if _OR_IGNORE.search(out):
        out = _OR_IGNORE.sub("INSERT INTO", out).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return out


def _json_each(match: re.Match[str]) -> str:
    alias = match.group(2)
    return f"{_JSON_TABLE} AS {alias or '_each'}"


def _rewrite_functions(sql: str) -> str:
    """MIN/MAX with two top-level arguments -> LEAST/GREATEST; group_concat -> string_agg."""
    out = []
    pos = 0
    for match in _FUNC.finditer(sql):
        if match.start() < pos:
            continue
        name = match.group(1).lower()
        open_at = match.end() - 1
        close_at, commas = _arguments(sql, open_at)
        inner = _rewrite_functions(sql[open_at + 1:close_at])
        out.append(sql[pos:match.start()])
        if name == "group_concat" and not commas:
            out.append(f"string_agg(({inner})::text, ',')")
        elif name in ("min", "max") and len(commas) == 1:
            out.append(("LEAST(" if name == "min" else "GREATEST(") + inner + ")")
        else:
            out.append(sql[match.start():open_at + 1] + inner + ")")
        pos = close_at + 1
    out.append(sql[pos:])
    return "".join(out)


def _arguments(sql: str, open_at: int) -> tuple[int, list[int]]:
    """Index of the parenthesis closing the one at ``open_at``, and its top-level commas."""
    depth = 0
    commas: list[int] = []
    quote = ""
    for i in range(open_at, len(sql)):
        ch = sql[i]
        if quote:
            quote = "" if ch == quote else quote  # '' inside a literal closes and reopens
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i, commas
        elif ch == "," and depth == 1:
            commas.append(i)
    raise ValueError(f"unbalanced parentheses in SQL: {sql[:80]!r}")

"""CSV versions of the utilisation answers: flat rows, one header, pure functions.

Nested figures become dotted column names (``concurrent.tue_thu.average``); lists (the
daily peaks) are left out of the summary CSV, they are rows of their own elsewhere. A
client asks for CSV with ``Accept: text/csv`` or by adding ``.csv`` to the path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

CSV_TYPE = "text/csv; charset=utf-8"


def wants_csv(accept: str | None, path: str) -> bool:
    """True when the path ends in .csv or text/csv is the client's first choice."""
    if path.endswith(".csv"):
        return True
    if not accept:
        return False
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first == "text/csv"


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys; lists are dropped."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif not isinstance(value, list):
            out[name] = value
    return out


def _cell(value: Any) -> Any:
    text = "" if value is None else value
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise ids that do.
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def to_csv(rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None) -> str:
    """The rows as CSV text; columns default to the keys of the first row, in order."""
    materialised = [dict(r) for r in rows]
    if columns is None:
        columns = list(materialised[0]) if materialised else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in materialised:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def report_csv(results: list[dict[str, Any]], context: Mapping[str, Any]) -> str:
    """One row per group with every scalar figure, plus the window and spec columns."""
    return to_csv({**flatten(context), **flatten(r)} for r in results)


def heatmap_csv(results: list[dict[str, Any]], context: Mapping[str, Any]) -> str:
    weekdays = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    rows = (
        {**flatten(context), "key": r["key"], "name": r["name"], "weekday": weekdays[w],
         "hour": h, "mean_u": r["mean_u"][w][h], "bins": r["bins"][w][h]}
        for r in results for w in range(7) for h in range(24)
    )
    return to_csv(rows)


def timeseries_csv(
    bins: list[str], results: list[dict[str, Any]], context: Mapping[str, Any]
) -> str:
    fields = ("occupied_seconds", "valid_seconds", "in_use", "with_data", "u")
    rows = (
        {**flatten(context), "key": r["key"], "name": r["name"], "bin": b,
         **{f: r[f][i] for f in fields}}
        for r in results for i, b in enumerate(bins)
    )
    return to_csv(rows)

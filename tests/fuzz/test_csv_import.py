"""Fuzzing the employee CSV import (issue 10 item 5): it never raises on arbitrary bytes,
and a valid file with one field made invalid loses exactly that row, with a reason."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from hub.admin.people_import import MAX_NAME, parse_employees_csv
from tests.fuzz.budget import budget

NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
               min_size=1, max_size=40).map(str.strip).filter(
    lambda s: bool(s) and not s.startswith(("=", "+", "-", "@")))
LOCAL = st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=12)
BAD_NAMES = st.sampled_from(["", "=1+1", "+SUM(A1)", "-2", "@cmd", "x" * (MAX_NAME + 1),
                             "a\x00b", "a\x1bb"])
BAD_EMAILS = st.sampled_from(["", "no-at-sign", "a@b", "a@@b.c", "a b@c.d", "=a@b.c",
                              "x" * 250 + "@b.cd"])


def to_csv(rows: list[tuple[str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "email", "department"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@budget(300, 20000)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    preview = parse_employees_csv(data)
    assert all(isinstance(line, int) and reason for line, reason in preview.errors)


@budget(200, 10000)
@given(st.text(max_size=400))
def test_arbitrary_text_after_a_header_never_raises(text: str) -> None:
    preview = parse_employees_csv(b"name,email,department\n" + text.encode("utf-8", "replace"))
    assert len(preview.rows) + preview.error_count >= 0
    for row in preview.rows:
        assert not row.name.startswith(("=", "+", "-", "@"))
        assert "@" in row.email


@budget(150, 5000)
@given(names=st.lists(NAME, min_size=1, max_size=8), data=st.data())
def test_one_mutated_row_is_rejected_with_a_reason(names: list[str], data: st.DataObject
                                                   ) -> None:
    rows = [(name, f"user{i}@example.org", "Dept") for i, name in enumerate(names)]
    assert parse_employees_csv(to_csv(rows)).ok
    victim = data.draw(st.integers(0, len(rows) - 1))
    name, email, dept = rows[victim]
    column = data.draw(st.sampled_from(["name", "email", "duplicate"]))
    if column == "name":
        name = data.draw(BAD_NAMES)
    elif column == "email":
        email = data.draw(BAD_EMAILS)
    else:
        email = rows[victim - 1][1] if victim else rows[-1][1]
        if len(rows) == 1:
            rows.append((name, email, dept))
            victim = 1
    rows[victim] = (name, email, dept)
    preview = parse_employees_csv(to_csv(rows))
    assert preview.error_count == 1, preview.errors
    line, reason = preview.errors[0]
    assert line >= 2 and reason
    assert len(preview.rows) == len(rows) - 1

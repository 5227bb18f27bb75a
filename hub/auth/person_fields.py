"""What a person's name, e-mail and department may be: one set of rules (pure).

Why here, below both users: the directory import (hub/admin/people_import.py) and a
person's own correction (hub/privacy/rights.py) refuse the same values for the same
reasons, and hub.privacy may not import hub.admin (docs/architecture.md).
"""

from __future__ import annotations

import re

MAX_NAME = 200
MAX_EMAIL = 254
MAX_DEPARTMENT = 200
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_value(column: str, value: str, limit: int) -> str | None:
    """The reason a value is refused, or None."""
    if len(value) > limit:
        return f"{column} is longer than {limit} characters"
    if value.startswith(FORMULA_START):
        return f"{column} starts with {value[0]!r} (possible spreadsheet formula); rejected"
    if _CONTROL.search(value):
        return f"{column} contains a control character"
    return None


_LIMITS = {"name": MAX_NAME, "email": MAX_EMAIL, "department": MAX_DEPARTMENT}


def field_problem(column: str, value: str) -> str | None:
    """Why one name, email (already lower-case) or department value is refused, or None.

    The one set of rules for a directory row (hub/admin/people_import.py) and for a
    person's own correction (hub/privacy/rights.py): what the import refuses,
    self-service refuses too."""
    reason = _check_value(column, value, _LIMITS[column])
    if reason is None and column == "email" and not _EMAIL.match(value):
        return "invalid email"
    return reason

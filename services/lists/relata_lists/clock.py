"""Today's date, in one place, so tests can move time (relative-date criteria depend on it)."""

from __future__ import annotations

from datetime import date


def today() -> date:
    return date.today()

"""Demo data: a Dutch professional association (filled in by ``crm seed``)."""

from __future__ import annotations


def seed_demo_once(env: dict[str, str]) -> None:
    """Load the demo association unless the platform holds data already."""

"""Write the README's table of public operations from the gateway's routes: for each, the
rights its role needs and the scope an API key needs (``--check`` fails when it is stale)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# The app is built only to read its routes, never served: the source's settings will do.
os.environ.setdefault("CRM_ALLOW_TEST_SECRETS", "true")

from relata_gateway.app import create_api
from relata_gateway.openapi import access_table
from relata_gateway.rights import RIGHT_LABELS, STAFF_RIGHTS

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- api-table:start -->"
END = "<!-- api-table:end -->"


def rights_table() -> list[str]:
    lines = ["| right | English | Nederlands | staff by default |", "|---|---|---|---|"]
    for right, labels in RIGHT_LABELS.items():
        default = "yes" if right in STAFF_RIGHTS else "no"
        lines.append(f"| `{right}` | {labels['en']} | {labels['nl']} | {default} |")
    return lines


def table() -> str:
    lines = [*rights_table(), ""]
    lines += ["| operation | what it does | rights | API key scope |", "|---|---|---|---|"]
    for row in access_table(create_api()):
        rights = ", ".join(f"`{right}`" for right in row.rights) or "—"
        scope = f"`{row.scope}`" if row.scope else "none (no caller needed)"
        summary = row.summary.replace("|", "\\|")
        lines.append(f"| `{row.method} {row.path}` | {summary} | {rights} | {scope} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the README is stale")
    args = parser.parse_args()
    text = README.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    fresh = f"{before}{START}\n{table()}\n{END}{after}"
    if args.check:
        if fresh != text:
            print("README.md's API table is stale: run uv run python scripts/api_table.py")
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a user may do beyond reading and editing in the views granted to them.

Views answer *which relations and fields* a user sees and whether they may edit them (grants,
per user or per role). Rights answer *which capabilities* they have: creating relations,
merging, erasing, managing lists, running buttons, bulk edits, administration. A role is a named
set of rights; every user has one role. The role ``admin`` (functional administrator) always has
every right and every view; ``staff`` starts with the rights of everyday work and can be changed.

API keys carry scopes on top: a key acts as its user but only for what its scopes allow. A route
reads ``read`` (GET) or ``write`` (anything else) unless it names a scope of its own in
``openapi_extra`` (see :func:`scope`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Right(StrEnum):
    RELATIONS_CREATE = "relations.create"
    RELATIONS_ARCHIVE = "relations.archive"
    RELATIONS_MERGE = "relations.merge"
    RELATIONS_ERASE = "relations.erase"
    LISTS_MANAGE = "lists.manage"
    SELECTIONS_MANAGE = "selections.manage"
    DUPLICATES_REVIEW = "duplicates.review"
    BUTTONS_RUN = "buttons.run"
    BULK_EDIT = "bulk.edit"
    AUTOMATION_MANAGE = "automation.manage"
    ADMINISTRATION = "administration"


RIGHT_LABELS: dict[Right, dict[str, str]] = {
    Right.RELATIONS_CREATE: {"en": "Create relations", "nl": "Relaties aanmaken"},
    Right.RELATIONS_ARCHIVE: {"en": "Archive relations", "nl": "Relaties archiveren"},
    Right.RELATIONS_MERGE: {"en": "Merge relations", "nl": "Relaties samenvoegen"},
    Right.RELATIONS_ERASE: {"en": "Erase relations (privacy)", "nl": "Relaties wissen (AVG)"},
    Right.LISTS_MANAGE: {"en": "Manage relation lists", "nl": "Relatielijsten beheren"},
    Right.SELECTIONS_MANAGE: {"en": "Manage selections", "nl": "Selecties beheren"},
    Right.DUPLICATES_REVIEW: {"en": "Review duplicates", "nl": "Dubbelen beoordelen"},
    Right.BUTTONS_RUN: {"en": "Run action buttons", "nl": "Actieknoppen gebruiken"},
    Right.BULK_EDIT: {"en": "Bulk edits", "nl": "Bulkmutaties"},
    Right.AUTOMATION_MANAGE: {
        "en": "Manage rules, buttons and properties",
        "nl": "Regels, knoppen en kenmerken beheren",
    },
    Right.ADMINISTRATION: {"en": "Administration", "nl": "Beheer"},
}

ADMIN_ROLE = "admin"
STAFF_ROLE = "staff"
EVERY_RIGHT = frozenset(Right)
STAFF_RIGHTS = frozenset(
    {
        Right.RELATIONS_CREATE,
        Right.RELATIONS_ARCHIVE,
        Right.LISTS_MANAGE,
        Right.SELECTIONS_MANAGE,
        Right.BUTTONS_RUN,
    }
)
"""What the built-in staff role starts with (administrators may change it)."""


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    MAIL_INGEST = "mail.ingest"
    ADMIN = "admin"


SCOPE_KEY = "x-api-key-scope"
DEFAULT_KEY_SCOPES = (Scope.READ, Scope.WRITE)


def scope(name: Scope) -> dict[str, Any]:
    """``openapi_extra`` for a route whose API-key callers need ``name`` (documented there)."""
    return {SCOPE_KEY: name.value}


def needed_scope(method: str, route_extra: dict[str, Any] | None) -> str:
    """The scope an API key needs for a call: the route's own, else by method."""
    named = (route_extra or {}).get(SCOPE_KEY)
    if named:
        return str(named)
    return Scope.READ.value if method in ("GET", "HEAD", "OPTIONS") else Scope.WRITE.value

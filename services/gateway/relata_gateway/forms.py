"""Relation forms: which tabs and fields a view's relation card shows. Nothing outside a
view's form ever leaves the gateway, so every response passes through these functions."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relata_common.errors import InvalidInput

STANDARD_FIELDS = (
    "relation_number",
    "first_name",
    "initials",
    "infix",
    "last_name",
    "salutation",
    "gender",
    "birth_date",
    "organisation_name",
    "coc_number",
    "iban",
    "addresses",
    "phones",
    "emails",
)
SECTIONS = (
    "functions",
    "contact_moments",
    "lists",
    "history",
    "donations",
    "registrations",
    "properties",
)
"""Card sections a form can include like fields; they also allow filtering on that data.
``properties``: the generated properties a relation holds ("Active member"), shown without the
data behind them."""
NAME_FIELDS = ("first_name", "initials", "infix", "last_name", "organisation_name")
SEARCH_FIELD_SOURCES = {
    "email": "emails",
    "phone": "phones",
    "postal_code": "addresses",
    "city": "addresses",
    "street": "addresses",
    "country": "addresses",
    "relation_number": "relation_number",
}
"""Which form field a search match on a derived field reveals."""


class Tab(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    fields: list[str] = Field(min_length=1, max_length=200)

    @field_validator("fields")
    @classmethod
    def _known(cls, fields: list[str]) -> list[str]:
        for name in fields:
            custom = name.startswith("custom.") and len(name) > 7
            if name not in STANDARD_FIELDS and name not in SECTIONS and not custom:
                raise ValueError(f"{name!r} is not a relation field or card section")
        return fields


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tabs: list[Tab] = Field(min_length=1, max_length=30)

    @cached_property
    def fields(self) -> frozenset[str]:
        return frozenset(name for tab in self.tabs for name in tab.fields)

    def shows(self, name: str) -> bool:
        return name in self.fields


def field_value(fields: dict[str, Any], name: str, state: dict[str, Any]) -> Any:
    if name == "relation_number":
        return state.get("relation_number")
    if name.startswith("custom."):
        return fields.get("custom", {}).get(name.removeprefix("custom."))
    return fields.get(name)


def visible_tabs(form: Form, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The relation's values, tab by tab, for only the fields of the form."""
    fields = state.get("fields", {})
    return [
        {
            "name": tab.name,
            "fields": {
                name: field_value(fields, name, state)
                for name in tab.fields
                if name not in SECTIONS
            },
        }
        for tab in form.tabs
    ]


def display_name(form: Form, fields: dict[str, Any], relation_number: Any) -> str:
    """A name built only from name fields the form shows (else the relation number)."""

    def shown(name: str) -> Any:
        return fields.get(name) if form.shows(name) else None

    last_name = shown("last_name")
    parts = [shown("first_name") or shown("initials"), shown("infix") if last_name else None]
    name = " ".join(str(p) for p in (*parts, last_name) if p)
    name = name or str(shown("organisation_name") or "")
    if name:
        return name
    return f"relation {relation_number}" if form.shows("relation_number") else "relation"


def patch_fields_outside(form: Form, patch: dict[str, Any]) -> list[str]:
    """Fields a patch would change that the form does not show (and so may not change)."""
    outside = []
    for name, value in patch.items():
        if name == "custom" and isinstance(value, dict):
            outside += [f"custom.{k}" for k in value if not form.shows(f"custom.{k}")]
        elif not form.shows(name) or name in SECTIONS:
            outside.append(name)
    return outside


ALWAYS_SHOWN = frozenset({"relation_type"})
"""Filterable data every card shows whatever the form."""


MAX_FILTER_DEPTH = 10
"""Levels of all/any/not a client's filter may nest. The lists service allows 12 and the
gateway wraps every filter in one more (the view's own relations), so 10 leaves room."""


def filter_depth(node: Any, enough: int = MAX_FILTER_DEPTH + 1) -> int:
    """Levels of all/any/not down to the deepest node, counted without recursion (a body of
    a megabyte can nest a hundred thousand levels), stopping once ``enough`` is reached."""
    deepest, stack = 0, [(node, 0)]
    while stack and deepest < enough:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if not isinstance(item, dict):
            continue
        for combinator in ("all", "any"):
            if isinstance(item.get(combinator), list):
                stack += [(child, depth + 1) for child in item[combinator]]
        if "not" in item:
            stack.append((item["not"], depth + 1))
    return deepest


def check_filter_depth(node: Any) -> Any:
    """A filter tree as given, or ValueError when it nests deeper than the gateway allows."""
    if filter_depth(node) > MAX_FILTER_DEPTH:
        raise ValueError(f"a filter nests at most {MAX_FILTER_DEPTH} levels of all/any/not")
    return node


def filter_fields_outside(
    form: Form, node: Any, lists: frozenset[str], path: tuple[Any, ...] = ()
) -> list[tuple]:
    """Criteria of a filter that read data the form does not show, or lists other than
    ``lists`` (the view's own), with their paths."""
    if not path and filter_depth(node) > MAX_FILTER_DEPTH:
        # Refused before walking it: this walk recurses once per level.
        raise InvalidInput.single(
            ("body", "filter"), f"a filter nests at most {MAX_FILTER_DEPTH} levels of all/any/not"
        )
    found: list[tuple] = []
    if isinstance(node, dict):
        for combinator in ("all", "any"):
            if isinstance(node.get(combinator), list):
                for i, child in enumerate(node[combinator]):
                    found += filter_fields_outside(form, child, lists, (*path, combinator, i))
                return found
        if "not" in node:
            return filter_fields_outside(form, node["not"], lists, (*path, "not"))
        kind = node.get("kind")
        for key in ("list_id", "at_list"):
            named = node.get(key) if kind in ("in_list", "function") else None
            if named is not None and str(named) not in lists:
                found.append((*path, key))
        needs = {
            "function": "functions",
            "contact": "contact_moments",
            "in_list": "lists",
        }.get(str(kind))
        if kind == "field":
            name = str(node.get("field", ""))
            source = SEARCH_FIELD_SOURCES.get(name, name)
            shown = name in ALWAYS_SHOWN or form.shows(source) or form.shows(name)
            if not shown:
                found.append((*path, "field"))
        elif (
            (needs is not None and not form.shows(needs))
            or (kind == "donations" and not form.shows("donations"))
            or (kind == "registration" and not form.shows("registrations"))
        ):
            found.append((*path, "kind"))
    return found

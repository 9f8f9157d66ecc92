"""Relation forms: which tabs and fields a view's relation card shows. Nothing outside a
view's form ever leaves the gateway, so every response passes through these functions."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relata_common.errors import InvalidInput
from relata_common.fields import NAME_FIELDS, STORED_FIELDS, is_custom, lookup, stored_value
from relata_common.fields import STANDARD_FIELDS as FILTERABLE
from relata_common.fields import display_name as common_display_name
from relata_common.filters import criteria, levels, walk

STANDARD_FIELDS = ("relation_number", *STORED_FIELDS)
"""What a form can show besides custom fields and sections: the stored fields and the number."""
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
SEARCH_FIELD_SOURCES = {name: spec.source for name, spec in FILTERABLE.items()}
"""Which form field a search match on a derived field reveals."""


MAX_BUTTONS = 10
"""Action buttons one tab may place."""


class Labels(BaseModel):
    """What the web application shows for a tab, field or right, in Dutch and English."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"nl": "Lidmaatschap", "en": "Membership"}]}
    )

    nl: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class Tab(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    fields: list[str] = Field(min_length=1, max_length=200)
    buttons: list[uuid.UUID] = Field(
        default=[],
        max_length=MAX_BUTTONS,
        description="action buttons the tab places on the card: ids of button rules "
        "(/automation/rules with a button trigger), in the order shown",
    )
    labels: Labels | None = Field(
        default=None, description="the tab's title per language (else its name)"
    )

    @field_validator("fields")
    @classmethod
    def _known(cls, fields: list[str]) -> list[str]:
        for name in fields:
            if name not in STANDARD_FIELDS and name not in SECTIONS and not is_custom(name):
                raise ValueError(f"{name!r} is not a relation field or card section")
        return fields


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tabs: list[Tab] = Field(min_length=1, max_length=30)
    field_labels: dict[str, Labels] = Field(
        default_factory=dict,
        description="labels of fields and sections of this form, per language, where the "
        "defaults (GET /admin/forms/catalogue) do not fit",
        examples=[{"custom.member_since": {"nl": "Lid sinds", "en": "Member since"}}],
    )

    @model_validator(mode="after")
    def _labels_of_shown_fields(self) -> Form:
        for name in self.field_labels:
            if not self.shows(name):
                raise ValueError(f"field_labels names {name!r}, which no tab of the form shows")
        return self

    @model_validator(mode="after")
    def _buttons_once(self) -> Form:
        seen: set[uuid.UUID] = set()
        for tab in self.tabs:
            for rule_id in tab.buttons:
                if rule_id in seen:
                    raise ValueError(f"button {rule_id} is placed twice")
                seen.add(rule_id)
        return self

    @cached_property
    def fields(self) -> frozenset[str]:
        return frozenset(name for tab in self.tabs for name in tab.fields)

    @cached_property
    def buttons(self) -> tuple[uuid.UUID, ...]:
        """The button rules the form places, tab by tab, in order."""
        return tuple(rule_id for tab in self.tabs for rule_id in tab.buttons)

    def shows(self, name: str) -> bool:
        return name in self.fields


def field_value(fields: dict[str, Any], name: str, state: dict[str, Any]) -> Any:
    if name == "relation_number":
        return state.get("relation_number")
    return stored_value(fields, name)


def tab_title(tab: Tab) -> dict[str, str]:
    """A tab's title per language: its own labels, else its name."""
    return tab.labels.model_dump() if tab.labels else {"nl": tab.name, "en": tab.name}


def visible_tabs(form: Form, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The relation's values, tab by tab, for only the fields of the form."""
    fields = state.get("fields", {})
    return [
        {
            "name": tab.name,
            "labels": tab_title(tab),
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
    name = common_display_name({n: fields.get(n) for n in NAME_FIELDS if form.shows(n)})
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
    deepest = 0
    for path, _ in walk(node):
        deepest = max(deepest, levels(path))
        if deepest >= enough:
            break
    return deepest


def check_filter_depth(node: Any) -> Any:
    """A filter tree as given, or ValueError when it nests deeper than the gateway allows."""
    if filter_depth(node) > MAX_FILTER_DEPTH:
        raise ValueError(f"a filter nests at most {MAX_FILTER_DEPTH} levels of all/any/not")
    return node


CRITERIA_NEEDS = {
    "function": "functions",
    "contact": "contact_moments",
    "donations": "donations",
    "registration": "registrations",
    "in_list": "lists",
}
"""Which card section a criterion kind reads (the form must show it to filter on it)."""


def filter_fields_outside(form: Form, node: Any, lists: frozenset[str]) -> list[tuple]:
    """Criteria of a filter that read data the form does not show, or lists other than
    ``lists`` (the view's own), with their paths."""
    if filter_depth(node) > MAX_FILTER_DEPTH:
        raise InvalidInput.single(
            ("body", "filter"), f"a filter nests at most {MAX_FILTER_DEPTH} levels of all/any/not"
        )
    found: list[tuple] = []
    for path, item in criteria(node):
        if isinstance(item, dict):
            found += _criterion_outside(form, item, lists, path)
    return found


def _criterion_outside(
    form: Form, node: dict[str, Any], lists: frozenset[str], path: tuple[Any, ...]
) -> list[tuple]:
    found: list[tuple] = []
    kind = node.get("kind")
    for key in ("list_id", "at_list"):
        named = node.get(key) if kind in ("in_list", "function") else None
        if named is not None and str(named) not in lists:
            found.append((*path, key))
    if kind == "field":
        name = str(node.get("field", ""))
        spec = lookup(name)
        source = spec.source if spec is not None else name
        if not (name in ALWAYS_SHOWN or form.shows(source) or form.shows(name)):
            found.append((*path, "field"))
    elif kind in CRITERIA_NEEDS and not form.shows(CRITERIA_NEEDS[kind]):
        found.append((*path, "kind"))
    return found

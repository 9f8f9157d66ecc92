"""The relation vocabulary every service shares: the standard fields a relation stores, custom
fields (``custom.<key>``), the name a relation is shown by, and the filterable fields with their
types and operators (the lists service's field catalogue).

Two views of one relation:

- *stored fields* are what the relations service holds and edits (``addresses`` is a list of
  address objects); a PATCH, a bulk edit, a rule action and a card form name these;
- *filterable fields* are what a filter compares (``city`` is every city of the addresses).
  :func:`filter_values` turns a relation's state into them; the lists read model stores exactly
  those values and the Python evaluator of :mod:`relata_common.filters` reads them, so a filter
  means the same in SQL and in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

# --- stored fields -----------------------------------------------------------------------------

STORED_FIELDS: tuple[str, ...] = (
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
"""The standard fields the relations service stores (besides ``custom``), in its order."""

CUSTOM_PREFIX = "custom."
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""The stable key of a custom field, a generated property or a function role."""

PERSON_NAME_FIELDS = ("first_name", "initials", "infix", "last_name")
NAME_FIELDS = (*PERSON_NAME_FIELDS, "organisation_name")


def is_custom(name: str) -> bool:
    """Whether ``name`` names a custom field (``custom.<key>``, the key not empty)."""
    return name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX)


def custom_key(name: str) -> str:
    return name.removeprefix(CUSTOM_PREFIX)


def is_stored_field(name: str) -> bool:
    """A standard stored field or a custom field: what a change may set or clear."""
    return name in STORED_FIELDS or is_custom(name)


def stored_value(fields: Mapping[str, Any], name: str) -> Any:
    """The value of a stored field (or ``custom.<key>``) in a relation's ``fields``."""
    if name.startswith(CUSTOM_PREFIX):
        return (fields.get("custom") or {}).get(custom_key(name))
    return fields.get(name)


def field_patch(name: str, value: Any) -> dict[str, Any]:
    """The relations service's PATCH body for one field (``None`` clears it)."""
    if name.startswith(CUSTOM_PREFIX):
        return {"custom": {custom_key(name): value}}
    return {name: value}


def display_name(fields: Mapping[str, Any], relation_type: str | None = None) -> str:
    """How a relation is named: a person by given name (or initials), infix and last name, an
    organisation by its name. Without a type, whichever of the two the fields hold (a relation
    holds only the name fields of its type)."""
    if relation_type != "organisation":
        last_name = fields.get("last_name")
        given = fields.get("first_name") or fields.get("initials")
        parts = (given, fields.get("infix") if last_name else None, last_name)
        name = " ".join(str(p) for p in parts if p)
        if name or relation_type == "person":
            return name
    return str(fields.get("organisation_name") or "")


# --- filterable fields -------------------------------------------------------------------------

FieldType = Literal["text", "number", "date", "datetime", "choice", "boolean", "money", "any"]

TEXT_OPS = ("equals", "not_equals", "contains", "starts_with", "in", "empty", "not_empty")
NUMBER_OPS = ("equals", "not_equals", "lt", "gt", "between", "in", "empty", "not_empty")
DATE_OPS = ("equals", "lt", "gt", "between", "empty", "not_empty")
RELATIVE_OPS = ("within_last", "more_than_ago", "less_than_ago")
CHOICE_OPS = ("equals", "not_equals", "in", "empty", "not_empty")
BOOLEAN_OPS = ("equals", "empty", "not_empty")

OPERATORS: dict[str, tuple[str, ...]] = {
    "text": TEXT_OPS,
    "number": NUMBER_OPS,
    "money": NUMBER_OPS,
    "date": DATE_OPS + RELATIVE_OPS,
    "datetime": DATE_OPS + RELATIVE_OPS,
    "choice": CHOICE_OPS,
    "boolean": BOOLEAN_OPS,
    # A custom field without a known definition: values are compared by their JSON type.
    "any": tuple(dict.fromkeys(TEXT_OPS + NUMBER_OPS + DATE_OPS + RELATIVE_OPS)),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    column: str
    """The key of its value in :func:`filter_values` (and the lists read model's column);
    ``custom`` for custom fields."""
    source: str
    """The stored field whose change can change it (as in an event's changed_fields)."""
    multi: bool = False
    """Held as a list (every address, e-mail, phone): a criterion matches any of them."""
    choices: tuple[str, ...] = ()
    item_key: str | None = None
    """For a multi-valued field: the key of each item of ``source`` it reads."""

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS[self.type]


def _multi(name: str, label: str, column: str, source: str, key: str) -> FieldSpec:
    return FieldSpec(name, label, "text", column, source, multi=True, item_key=key)


STANDARD_FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec(
            "relation_type",
            "Relation type",
            "choice",
            "relation_type",
            "relation_type",
            choices=("person", "organisation"),
        ),
        FieldSpec(
            "relation_number", "Relation number", "number", "relation_number", "relation_number"
        ),
        FieldSpec("first_name", "First name", "text", "first_name", "first_name"),
        FieldSpec("initials", "Initials", "text", "initials", "initials"),
        FieldSpec("infix", "Infix", "text", "infix", "infix"),
        FieldSpec("last_name", "Last name", "text", "last_name", "last_name"),
        FieldSpec(
            "organisation_name",
            "Organisation name",
            "text",
            "organisation_name",
            "organisation_name",
        ),
        FieldSpec("salutation", "Salutation", "text", "salutation", "salutation"),
        FieldSpec(
            "gender",
            "Gender",
            "choice",
            "gender",
            "gender",
            choices=("female", "male", "non_binary", "unknown"),
        ),
        FieldSpec("birth_date", "Birth date", "date", "birth_date", "birth_date"),
        FieldSpec("coc_number", "Chamber of commerce number", "text", "coc_number", "coc_number"),
        _multi("street", "Street", "streets", "addresses", "street"),
        _multi("postal_code", "Postal code", "postal_codes", "addresses", "postal_code"),
        _multi("city", "City", "cities", "addresses", "city"),
        _multi("country", "Country", "countries", "addresses", "country"),
        _multi("email", "E-mail address", "emails", "emails", "address"),
        _multi("phone", "Phone number", "phones", "phones", "number"),
        FieldSpec("created_at", "Created", "datetime", "created_at", "created_at"),
        FieldSpec("updated_at", "Last changed", "datetime", "updated_at", "updated_at"),
    )
}
"""Every standard filterable field, by name."""

STATE_SOURCES = frozenset({"relation_type", "relation_number", "created_at", "updated_at"})
"""Filterable values read from the relation's state itself rather than from its fields."""

CUSTOM_TYPES: dict[str, FieldType] = {
    "text": "text",
    "number": "number",
    "date": "date",
    "boolean": "boolean",
    "choice": "choice",
    "money": "money",
}


def custom_field(key: str, label: str, type_: str, choices: list[str] | None) -> FieldSpec:
    """The filterable field of a custom field definition."""
    return FieldSpec(
        name=f"{CUSTOM_PREFIX}{key}",
        label=label,
        type=CUSTOM_TYPES.get(type_, "any"),
        column="custom",
        source=f"{CUSTOM_PREFIX}{key}",
        choices=tuple(choices or ()),
    )


def lookup(name: str, custom: Mapping[str, FieldSpec] | None = None) -> FieldSpec | None:
    """The spec of a filterable field; an unknown ``custom.<key>`` is filterable as ``any``."""
    if name in STANDARD_FIELDS:
        return STANDARD_FIELDS[name]
    if is_custom(name):
        key = custom_key(name)
        return (custom or {}).get(name) or custom_field(key, key, "any", None)
    return None


def timestamp(value: Any) -> datetime | None:
    """An ISO timestamp (``Z`` allowed) as an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _filter_value(spec: FieldSpec, state: Mapping[str, Any], fields: Mapping[str, Any]) -> Any:
    if spec.multi:
        # Lower-cased once here, so a comparison need only lower-case the value it is given.
        items = fields.get(spec.source) or []
        return [str(item[spec.item_key]).lower() for item in items if item.get(spec.item_key)]
    raw = state.get(spec.source) if spec.source in STATE_SOURCES else fields.get(spec.source)
    if spec.type == "date":
        return date.fromisoformat(str(raw)) if raw else None
    if spec.type == "datetime":
        return timestamp(raw)
    return raw


def filter_values(state: Mapping[str, Any]) -> dict[str, Any]:
    """A relation's state (as its events and the relations API carry it) as filters read it:
    one value per standard field's ``column``, and ``custom`` with the custom values."""
    fields = state.get("fields") or {}
    values = {spec.column: _filter_value(spec, state, fields) for spec in STANDARD_FIELDS.values()}
    values["relation_type"] = state["relation_type"]
    values["custom"] = fields.get("custom", {})
    return values

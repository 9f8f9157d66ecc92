"""Every filterable field of a relation: its type, its operators, and what it is read from.

The field catalogue endpoint serves this, so a filter builder can be drawn from it; the
compiler uses it to turn a criterion into SQL over the read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    # A custom field the catalogue has no definition of: the compiler checks value types in SQL.
    "any": tuple(dict.fromkeys(TEXT_OPS + NUMBER_OPS + DATE_OPS + RELATIVE_OPS)),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    column: str
    """The read model column (``custom`` for custom fields)."""
    source: str
    """The relation field whose change can change it (as in an event's changed_fields)."""
    multi: bool = False
    """Held as a list (every address, e-mail, phone): a criterion matches any of them."""
    choices: tuple[str, ...] = ()

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS[self.type]


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
        FieldSpec("street", "Street", "text", "streets", "addresses", multi=True),
        FieldSpec("postal_code", "Postal code", "text", "postal_codes", "addresses", multi=True),
        FieldSpec("city", "City", "text", "cities", "addresses", multi=True),
        FieldSpec("country", "Country", "text", "countries", "addresses", multi=True),
        FieldSpec("email", "E-mail address", "text", "emails", "emails", multi=True),
        FieldSpec("phone", "Phone number", "text", "phones", "phones", multi=True),
        FieldSpec("created_at", "Created", "datetime", "created_at", "created_at"),
        FieldSpec("updated_at", "Last changed", "datetime", "updated_at", "updated_at"),
    )
}

CUSTOM_TYPES: dict[str, FieldType] = {
    "text": "text",
    "number": "number",
    "date": "date",
    "boolean": "boolean",
    "choice": "choice",
    "money": "money",
}


def custom_field(key: str, label: str, type_: str, choices: list[str] | None) -> FieldSpec:
    return FieldSpec(
        name=f"custom.{key}",
        label=label,
        type=CUSTOM_TYPES.get(type_, "any"),
        column="custom",
        source=f"custom.{key}",
        choices=tuple(choices or ()),
    )


def lookup(name: str, custom: dict[str, FieldSpec] | None = None) -> FieldSpec | None:
    """The spec of a field; an unknown ``custom.<key>`` is filterable as text."""
    if name in STANDARD_FIELDS:
        return STANDARD_FIELDS[name]
    if name.startswith("custom.") and len(name) > len("custom."):
        key = name.removeprefix("custom.")
        return (custom or {}).get(name) or custom_field(key, key, "any", None)
    return None

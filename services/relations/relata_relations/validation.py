"""Turning client input into stored relation fields, naming every bad field on the way."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import FieldError, InvalidInput
from relata_relations.custom_fields import CustomFieldDefinition, validate_custom_values
from relata_relations.fields import RelationFields, dump_fields, type_errors
from relata_relations.models import custom_field_definitions

Loc = tuple[str | int, ...]


async def load_definitions(session: AsyncSession) -> dict[str, CustomFieldDefinition]:
    rows = (await session.execute(select(custom_field_definitions))).mappings()
    return {
        row["key"]: CustomFieldDefinition.model_validate(
            {k: v for k, v in row.items() if k != "created_at" and v is not None}
        )
        for row in rows
    }


def field_errors(
    raw: dict[str, Any], relation_type: str, definitions: dict[str, CustomFieldDefinition], loc: Loc
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The stored form of ``raw`` fields, or the errors naming each bad field under ``loc``."""
    errors: list[FieldError] = []
    try:
        fields = RelationFields.model_validate(raw)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            message = detail["msg"].removeprefix("Value error, ")
            errors.append(FieldError((*loc, *detail["loc"]), message, detail["type"]))
        return None, errors
    errors += [FieldError((*loc, name), why) for name, why in type_errors(relation_type, fields)]
    custom, custom_errors = validate_custom_values(fields.custom, definitions, relation_type)
    errors += [FieldError((*loc, "custom", key), why) for key, why in custom_errors]
    if errors:
        return None, errors
    fields.custom = custom
    return dump_fields(fields), []


def validated_fields(
    raw: dict[str, Any],
    relation_type: str,
    definitions: dict[str, CustomFieldDefinition],
    loc: Loc = ("body", "fields"),
) -> dict[str, Any]:
    stored, errors = field_errors(raw, relation_type, definitions, loc)
    if errors:
        raise InvalidInput(errors)
    assert stored is not None
    return stored


def apply_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge a partial update into stored fields: a given key replaces, ``null`` clears.

    Custom values merge key by key, so a patch of one custom field leaves the others alone.
    """
    merged = dict(current)
    for key, value in patch.items():
        if key == "custom" and isinstance(value, dict):
            custom = dict(merged.get("custom", {}))
            for custom_key, custom_value in value.items():
                if custom_value is None:
                    custom.pop(custom_key, None)
                else:
                    custom[custom_key] = custom_value
            merged["custom"] = custom
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def diff_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {old, new}}`` for every changed field; custom values as ``custom.<key>``."""
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted((set(old) | set(new)) - {"custom"}):
        if old.get(key) != new.get(key):
            changes[key] = {"old": old.get(key), "new": new.get(key)}
    old_custom, new_custom = old.get("custom", {}), new.get("custom", {})
    for key in sorted(set(old_custom) | set(new_custom)):
        if old_custom.get(key) != new_custom.get(key):
            changes[f"custom.{key}"] = {"old": old_custom.get(key), "new": new_custom.get(key)}
    return changes

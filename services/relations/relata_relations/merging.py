"""Which value survives a merge: pure decisions, tested on their own."""

from __future__ import annotations

from typing import Any, Literal

from relata_common.errors import FieldError, InvalidInput

Choice = Literal["survivor", "merged", "both"]
LIST_FIELDS = frozenset({"addresses", "phones", "emails"})
EMPTY: tuple[Any, ...] = (None, "", [], {})


def _flatten(fields: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in fields.items() if k != "custom"}
    flat.update({f"custom.{k}": v for k, v in fields.get("custom", {}).items()})
    return flat


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in flat.items():
        if value in EMPTY:
            continue
        if key.startswith("custom."):
            custom[key.removeprefix("custom.")] = value
        else:
            fields[key] = value
    if custom:
        fields["custom"] = custom
    return fields


def default_choice(mine: Any) -> Choice:
    """Without a choice the survivor's value wins, unless it is empty (and so differs from a
    merged value that is not)."""
    return "merged" if mine in EMPTY else "survivor"


def differences(survivor: dict[str, Any], merged: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields whose values differ (custom fields as ``custom.<key>``), by name, with the
    survivor's and the merged relation's value: what a merge asks a choice for."""
    left, right = _flatten(survivor), _flatten(merged)
    return {
        name: (left.get(name), right.get(name))
        for name in sorted(set(left) | set(right))
        if left.get(name) != right.get(name)
    }


def decide(
    survivor: dict[str, Any], merged: dict[str, Any], choices: dict[str, Choice]
) -> tuple[dict[str, Any], dict[str, Choice]]:
    """The survivor's fields after the merge, and which side won each field that differed.

    Without a choice the survivor's value wins, unless it is empty and the merged one is not.
    ``both`` keeps the entries of both sides for addresses, phones and e-mail addresses.
    """
    left, right = _flatten(survivor), _flatten(merged)
    names = set(left) | set(right)
    errors = [
        FieldError(("body", "choices", name), "no such field on either relation")
        for name in choices
        if name not in names
    ]
    errors += [
        FieldError(("body", "choices", name), "only addresses, phones and emails can keep both")
        for name, choice in choices.items()
        if choice == "both" and name not in LIST_FIELDS
    ]
    if errors:
        raise InvalidInput(errors)
    result: dict[str, Any] = {}
    decisions: dict[str, Choice] = {}
    for name in sorted(names):
        mine, theirs = left.get(name), right.get(name)
        if mine == theirs:
            result[name] = mine
            continue
        choice = choices.get(name) or default_choice(mine)
        decisions[name] = choice
        if choice == "both":
            result[name] = (mine or []) + [
                item for item in theirs or [] if item not in (mine or [])
            ]
        else:
            result[name] = mine if choice == "survivor" else theirs
    return _unflatten(result), decisions

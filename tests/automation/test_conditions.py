"""Rule conditions are filters as a list's: the same fields, operators and meaning, decided in
Python from the relation's state; criteria that need facts only the lists service holds are
refused, naming where they are.

Breakage they catch (each tried once): with ``equals`` on text case-sensitive again the first
case fails; with the check for criteria a relation's state cannot decide left out, the
refusal test fails (such a rule would be stored and fail on every run)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from relata_automation.rules import RuleInput, holds, validate
from relata_common.errors import InvalidInput

TODAY = date(2026, 6, 15)
MEMBERS = uuid.UUID(int=7)
STATE = {
    "relation_id": str(uuid.UUID(int=1)),
    "relation_type": "person",
    "relation_number": 12,
    "status": "active",
    "version": 3,
    "created_at": "2026-01-05T10:00:00+00:00",
    "updated_at": "2026-06-01T10:00:00+00:00",
    "fields": {
        "last_name": "Jansen",
        "salutation": "Dear Anna",
        "addresses": [{"city": "Utrecht", "postal_code": "3511 AB"}],
        "custom": {"level": "Gold", "fee": {"amount": 25, "currency": "EUR"}},
    },
}


def field(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"kind": "field", "field": name, "op": op, "value": value}


def rule_with(condition: dict[str, Any]) -> RuleInput:
    return RuleInput.model_validate(
        {
            "name": "r",
            "trigger": {"kind": "created"},
            "condition": condition,
            "actions": [{"kind": "clear_field", "field": "salutation"}],
        }
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # Text compares case-insensitively, as in a list (rules compared exactly before).
        (field("last_name", "equals", "JANSEN"), True),
        (field("salutation", "in", ["dear anna", "Hi"]), True),
        (field("salutation", "not_equals", "dear anna"), False),
        # Derived and multi-valued fields of the field catalogue.
        (field("city", "equals", "utrecht"), True),
        (field("postal_code", "starts_with", "3511"), True),
        (field("email", "empty"), True),
        (field("relation_number", "between", [10, 12]), True),
        (field("created_at", "more_than_ago", {"amount": 3, "unit": "months"}), True),
        (field("custom.level", "equals", "gold"), True),
        (field("custom.fee", "gt", 20), True),
        (field("custom.missing", "not_equals", "x"), True),
        ({"all": [field("city", "equals", "Utrecht"), {"not": field("infix", "empty")}]}, False),
        ({"any": [{"kind": "in_list", "list_id": str(MEMBERS)}, field("gender", "empty")]}, True),
        ({"kind": "in_list", "list_id": str(uuid.UUID(int=8))}, False),
    ],
)
def test_conditions_mean_what_a_list_means(condition: dict[str, Any], expected: bool) -> None:
    validate(rule_with(condition))
    assert holds(condition, STATE, {MEMBERS}, TODAY) is expected


def test_criteria_on_facts_of_other_services_are_refused_with_their_path() -> None:
    condition = {
        "any": [
            field("city", "equals", "Utrecht"),
            {"not": {"kind": "donations", "min_count": 1}},
            {"kind": "contact", "this_year": True},
        ]
    }
    with pytest.raises(InvalidInput) as refused:
        validate(rule_with(condition))
    locs = [e["loc"] for e in refused.value.errors]
    assert locs == [
        ["body", "condition", "any", 1, "not", "kind"],
        ["body", "condition", "any", 2, "kind"],
    ]
    assert "donations" in refused.value.errors[0]["msg"]


def test_bad_fields_operators_and_values_are_named() -> None:
    condition = {
        "all": [
            field("shoe_size", "equals", 42),
            field("city", "gt", "A"),
            field("birth_date", "equals", "soon"),
        ]
    }
    with pytest.raises(InvalidInput) as refused:
        validate(rule_with(condition))
    assert [e["loc"] for e in refused.value.errors] == [
        ["body", "condition", "all", 0, "field"],
        ["body", "condition", "all", 1, "op"],
        ["body", "condition", "all", 2, "value"],
    ]

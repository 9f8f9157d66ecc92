"""Pure unit tests of standard fields, custom fields, patches and merge decisions (no database)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from relata_common.errors import InvalidInput
from relata_common.fields import STORED_FIELDS
from relata_relations.custom_fields import CustomFieldDefinition, validate_custom_values
from relata_relations.fields import RelationFields, dump_fields, type_errors
from relata_relations.merging import decide
from relata_relations.validation import apply_patch, diff_fields, field_errors


def error_locations(raw: dict[str, Any]) -> set[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as caught:
        RelationFields.model_validate(raw)
    return {tuple(error["loc"]) for error in caught.value.errors()}


def definition(**given: Any) -> CustomFieldDefinition:
    return CustomFieldDefinition.model_validate({"key": "k", "label": "K", **given})


# --- standard fields ---------------------------------------------------------------------------


def test_the_common_vocabulary_names_every_stored_field():
    """Other services check field names against the common vocabulary; a field added here
    but not there (or the reverse) would be refused by them or accepted only by them."""
    assert (*STORED_FIELDS, "custom") == tuple(RelationFields.model_fields)


def test_contact_details_are_normalised():
    fields = RelationFields.model_validate(
        {
            "last_name": "  Berg  ",
            "emails": [{"address": "Jan@Example.ORG"}],
            "phones": [{"number": "06-12345678"}, {"number": "+32 470 12 34 56", "type": "work"}],
            "iban": "nl91 abna 0417 1643 00",
            "coc_number": "1234 5678",
        }
    )
    assert fields.last_name == "Berg"
    assert fields.emails[0].address == "Jan@example.org"
    assert fields.emails[0].type == "private"
    assert [p.number for p in fields.phones] == ["+31612345678", "+32470123456"]
    assert fields.phones[0].type == "mobile"
    assert fields.iban == "NL91ABNA0417164300"
    assert fields.coc_number == "12345678"


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        ({"emails": [{"address": "no-at-sign"}]}, ("emails", 0, "address")),
        ({"phones": [{"number": "12"}]}, ("phones", 0, "number")),
        ({"phones": [{"number": "call me"}]}, ("phones", 0, "number")),
        ({"iban": "NL00ABNA0000000000"}, ("iban",)),
        ({"coc_number": "1234567"}, ("coc_number",)),
        ({"birth_date": "1849-12-31"}, ("birth_date",)),
        ({"gender": "other"}, ("gender",)),
        ({"addresses": [{"country": "Netherlands"}]}, ("addresses", 0, "country")),
        ({"addresses": [{"postal_code": "0123 AB"}]}, ("addresses", 0, "postal_code")),
        ({"addresses": [{"postal_code": "1234 SS"}]}, ("addresses", 0, "postal_code")),
        ({"addresses": [{"type": "summer"}]}, ("addresses", 0, "type")),
        ({"nickname": "Jantje"}, ("nickname",)),
        ({"last_name": ""}, ("last_name",)),
    ],
)
def test_bad_standard_values_are_named(raw: dict[str, Any], location: tuple[str | int, ...]):
    assert location in error_locations(raw)


def test_birth_date_cannot_lie_in_the_future():
    tomorrow = date.today() + timedelta(days=1)
    assert ("birth_date",) in error_locations({"birth_date": tomorrow.isoformat()})
    assert RelationFields(birth_date=date.today()).birth_date == date.today()


def test_postal_codes_are_checked_only_for_the_netherlands():
    dutch = RelationFields.model_validate({"addresses": [{"postal_code": "3511ab"}]})
    assert dutch.addresses[0].postal_code == "3511 AB"
    assert dutch.addresses[0].country == "NL"
    belgian = RelationFields.model_validate(
        {"addresses": [{"country": "be", "postal_code": "1000"}]}
    )
    assert belgian.addresses[0].country == "BE"
    assert belgian.addresses[0].postal_code == "1000"


def test_type_errors_name_foreign_fields_and_the_missing_name():
    person = RelationFields(organisation_name="Acme", coc_number="12345678")
    assert type_errors("person", person) == [
        ("coc_number", "not a field of a person"),
        ("organisation_name", "not a field of a person"),
        ("last_name", "a person needs a last name"),
    ]
    organisation = RelationFields(organisation_name="Acme", birth_date=date(1990, 1, 1))
    assert type_errors("organisation", organisation) == [
        ("birth_date", "not a field of a organisation")
    ]
    assert type_errors("person", RelationFields(last_name="Berg")) == []


def test_dump_fields_leaves_out_empty_values():
    fields = RelationFields.model_validate(
        {"last_name": "Berg", "infix": "", "birth_date": "1970-05-01", "phones": [], "custom": {}}
    )
    assert dump_fields(fields) == {"last_name": "Berg", "birth_date": "1970-05-01"}


def test_field_errors_prefix_locations_and_normalise_custom_values():
    definitions = {"dues": definition(key="dues", type="money")}
    raw = {"last_name": "Berg", "custom": {"dues": "12,5"}}
    stored, errors = field_errors(raw, "person", definitions, ("fields",))
    assert errors == []
    assert stored == {
        "last_name": "Berg",
        "custom": {"dues": {"amount": "12.50", "currency": "EUR"}},
    }
    stored, errors = field_errors(
        {"organisation_name": "Acme", "custom": {"colour": "red"}}, "person", {}, ("row",)
    )
    assert stored is None
    assert {tuple(e["loc"]) for e in errors} == {
        ("row", "organisation_name"),
        ("row", "last_name"),
        ("row", "custom", "colour"),
    }


# --- custom fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        {"type": "choice"},
        {"type": "choice", "choices": []},
        {"type": "text", "choices": ["a"]},
        {"type": "text", "pattern": "("},
        {"type": "number", "min_value": 5, "max_value": 1},
        {"type": "colour"},
        {"type": "text", "key": "Member Since"},
        {"type": "money", "currency": "euro"},
    ],
)
def test_inconsistent_definitions_are_refused(given: dict[str, Any]):
    with pytest.raises(ValidationError):
        definition(**given)


@pytest.mark.parametrize(
    ("given", "value", "stored"),
    [
        ({"type": "text", "max_length": 5}, "abcde", "abcde"),
        ({"type": "text", "pattern": r"[A-Z]{2}\d"}, "AB1", "AB1"),
        ({"type": "number"}, "12,5", 12.5),
        ({"type": "number"}, " 7 ", 7),
        ({"type": "number"}, 3.0, 3),
        ({"type": "number", "min_value": 0, "max_value": 10}, 10, 10),
        ({"type": "date"}, "2001-02-03", "2001-02-03"),
        ({"type": "date"}, date(2001, 2, 3), "2001-02-03"),
        ({"type": "boolean"}, "Ja", True),
        ({"type": "boolean"}, "nee", False),
        ({"type": "boolean"}, False, False),
        ({"type": "choice", "choices": ["a", "b"]}, "b", "b"),
        ({"type": "money"}, "12,5", {"amount": "12.50", "currency": "EUR"}),
        ({"type": "money"}, {"amount": 3}, {"amount": "3.00", "currency": "EUR"}),
        (
            {"type": "money", "currency": "USD"},
            {"amount": "1", "currency": "USD"},
            {"amount": "1.00", "currency": "USD"},
        ),
    ],
)
def test_custom_values_are_normalised(given: dict[str, Any], value: Any, stored: Any):
    result = definition(**given).normalise(value)
    assert result == stored
    assert type(result) is type(stored)


@pytest.mark.parametrize(
    ("given", "value", "reason"),
    [
        ({"type": "text"}, 12, "must be text"),
        ({"type": "text", "max_length": 5}, "abcdef", "longer than 5 characters"),
        ({"type": "text", "pattern": r"[A-Z]{2}\d"}, "AB1x", "does not match"),
        ({"type": "number"}, "twelve", "must be a number"),
        ({"type": "number"}, True, "must be a number"),
        ({"type": "number"}, "NaN", "must be a finite number"),
        ({"type": "number"}, "Infinity", "must be a finite number"),
        ({"type": "number", "min_value": 0}, "-1", "less than the minimum"),
        ({"type": "number", "max_value": 10}, 10.5, "greater than the maximum"),
        ({"type": "date"}, "03-02-2001", "must be a date"),
        ({"type": "date"}, 20010203, "must be a date"),
        ({"type": "boolean"}, "maybe", "must be true or false"),
        ({"type": "choice", "choices": ["a", "b"]}, "c", "must be one of"),
        ({"type": "money"}, {"amount": "1", "currency": "USD"}, "currency must be EUR"),
        ({"type": "money", "min_value": 0}, "-0.01", "less than the minimum"),
    ],
)
def test_bad_custom_values_say_why(given: dict[str, Any], value: Any, reason: str):
    with pytest.raises(ValueError, match=reason):
        definition(**given).normalise(value)


def test_validate_custom_values_checks_keys_types_and_required():
    definitions = {
        "member_since": definition(key="member_since", type="date", applies_to="person"),
        "employees": definition(key="employees", type="number", applies_to="organisation"),
        "membership": definition(
            key="membership", type="choice", choices=["regular"], required=True
        ),
        "note": definition(key="note", type="text"),
    }
    values, errors = validate_custom_values(
        {"member_since": "2001-02-03", "employees": 5, "colour": "red", "note": None},
        definitions,
        "person",
    )
    assert values == {"member_since": "2001-02-03"}
    assert sorted(errors) == [
        ("colour", "no such custom field"),
        ("employees", "not a field of a person"),
        ("membership", "required"),
    ]
    values, errors = validate_custom_values({"membership": "regular"}, definitions, "organisation")
    assert (values, errors) == ({"membership": "regular"}, [])
    _, errors = validate_custom_values({"membership": "gold"}, definitions, "person")
    assert errors == [("membership", "must be one of ['regular']")]


# --- patches and diffs -------------------------------------------------------------------------


def test_apply_patch_replaces_clears_and_merges_custom_values_per_key():
    current = {"last_name": "Berg", "first_name": "Jan", "custom": {"a": 1, "b": 2}}
    patched = apply_patch(current, {"first_name": None, "infix": "van", "custom": {"a": None}})
    assert patched == {"last_name": "Berg", "infix": "van", "custom": {"b": 2}}
    assert current == {"last_name": "Berg", "first_name": "Jan", "custom": {"a": 1, "b": 2}}


def test_diff_fields_names_changed_fields_and_custom_keys():
    old = {"last_name": "Berg", "first_name": "Jan", "custom": {"a": 1, "b": 2}}
    new = {"last_name": "Berg", "infix": "van", "custom": {"a": 1, "b": 3}}
    assert diff_fields(old, new) == {
        "first_name": {"old": "Jan", "new": None},
        "infix": {"old": None, "new": "van"},
        "custom.b": {"old": 2, "new": 3},
    }
    assert diff_fields(old, old) == {}


# --- merge decisions ---------------------------------------------------------------------------

SURVIVOR = {
    "last_name": "Berg",
    "first_name": "Jan",
    "emails": [{"type": "private", "address": "jan@example.org"}],
    "custom": {"a": "survivor"},
}
MERGED = {
    "last_name": "Bergh",
    "infix": "van den",
    "birth_date": "1970-05-01",
    "emails": [
        {"type": "work", "address": "jan@acme.example"},
        {"type": "private", "address": "jan@example.org"},
    ],
    "phones": [{"type": "mobile", "number": "+31612345678"}],
    "custom": {"a": "merged", "b": "only merged"},
}


def test_survivor_wins_by_default_unless_its_value_is_empty():
    fields, decisions = decide(SURVIVOR, MERGED, {})
    assert fields == {
        "last_name": "Berg",
        "first_name": "Jan",
        "infix": "van den",
        "birth_date": "1970-05-01",
        "emails": SURVIVOR["emails"],
        "phones": MERGED["phones"],
        "custom": {"a": "survivor", "b": "only merged"},
    }
    assert decisions == {
        "last_name": "survivor",
        "first_name": "survivor",
        "infix": "merged",
        "birth_date": "merged",
        "emails": "survivor",
        "phones": "merged",
        "custom.a": "survivor",
        "custom.b": "merged",
    }


def test_an_empty_string_counts_as_empty():
    fields, decisions = decide(
        {"last_name": "Berg", "infix": ""}, {"last_name": "Berg", "infix": "van"}, {}
    )
    assert fields == {"last_name": "Berg", "infix": "van"}
    assert decisions == {"infix": "merged"}


def test_choices_pick_a_side_per_field_and_both_keeps_every_entry():
    fields, decisions = decide(
        SURVIVOR,
        MERGED,
        {"last_name": "merged", "first_name": "merged", "emails": "both", "custom.a": "merged"},
    )
    assert fields["last_name"] == "Bergh"
    assert "first_name" not in fields  # the merged relation had none, and that was chosen
    assert fields["emails"] == [
        {"type": "private", "address": "jan@example.org"},
        {"type": "work", "address": "jan@acme.example"},
    ]
    assert fields["custom"] == {"a": "merged", "b": "only merged"}
    assert decisions["emails"] == "both" and decisions["first_name"] == "merged"


def test_equal_values_need_no_decision():
    fields, decisions = decide(SURVIVOR, SURVIVOR, {"last_name": "merged"})
    assert fields == SURVIVOR
    assert decisions == {}


@pytest.mark.parametrize(
    ("choices", "location", "reason"),
    [
        ({"nickname": "merged"}, ("body", "choices", "nickname"), "no such field"),
        ({"custom.c": "merged"}, ("body", "choices", "custom.c"), "no such field"),
        ({"last_name": "both"}, ("body", "choices", "last_name"), "only addresses"),
    ],
)
def test_impossible_choices_are_refused(
    choices: dict[str, Any], location: tuple[str, ...], reason: str
):
    with pytest.raises(InvalidInput) as caught:
        decide(SURVIVOR, MERGED, choices)
    assert [tuple(e["loc"]) for e in caught.value.errors] == [location]
    assert reason in caught.value.errors[0]["msg"]

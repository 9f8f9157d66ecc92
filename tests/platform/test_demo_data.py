"""The demo association's data: deterministic, and valid by the relations service's own rules."""

from __future__ import annotations

import re

import phonenumbers
from stdnum import iban

from relata_cli import demo_data
from relata_cli.seed import CUSTOM_FIELDS
from relata_relations.custom_fields import CustomFieldDefinition
from relata_relations.validation import field_errors

DEFINITIONS = {d["key"]: CustomFieldDefinition.model_validate(d) for d in CUSTOM_FIELDS}


def test_same_relations_on_every_run_and_for_every_size() -> None:
    small_orgs, small_persons = demo_data.association(400)
    large_orgs, large_persons = demo_data.association(1_000)
    assert small_persons == large_persons[: len(small_persons)]
    assert small_orgs == large_orgs[: len(small_orgs)]
    assert len(small_orgs) + len(small_persons) == 400


def test_every_relation_passes_the_relations_service_validation() -> None:
    organisations, persons = demo_data.association(1_000)
    for relation in [*organisations, *persons]:
        stored, problems = field_errors(
            relation.fields, relation.relation_type, DEFINITIONS, ("fields",)
        )
        assert not problems, (relation.external_id, problems)
        assert stored is not None


def test_dutch_details_are_valid() -> None:
    organisations, persons = demo_data.association(1_000)
    for person in persons:
        address = person.fields["addresses"][0]
        assert re.fullmatch(r"[1-9][0-9]{3} [A-Z]{2}", address["postal_code"])
        assert address["postal_code"][-2:] not in {"SA", "SD", "SS"}
        number = person.fields["phones"][0]["number"]
        assert number.startswith("06")
        assert phonenumbers.is_valid_number(phonenumbers.parse(number, "NL"))
    for organisation in organisations:
        assert re.fullmatch(r"[0-9]{8}", organisation.fields["coc_number"])
        assert iban.is_valid(organisation.fields["iban"])
    coc_numbers = [o.fields["coc_number"] for o in organisations]
    assert len(set(coc_numbers)) == len(coc_numbers)
    assert any(p.fields.get("infix") == "van der" for p in persons)


def test_memberships_functions_and_facts_are_all_there() -> None:
    organisations, persons = demo_data.association(2_000)
    known = {o.external_id for o in organisations}
    types = {p.fields.get("custom", {}).get("membership_type") for p in persons}
    assert set(demo_data.MEMBERSHIP_TYPES) <= types
    assert None in types, "some persons are not members (donors, contacts)"
    functions = [plan for p in persons for plan in p.functions]
    assert {"employee", "director", "board_member"} <= {plan.role for plan in functions}
    assert all(plan.organisation in known for plan in functions)
    assert sum(len(p.donations) for p in persons) > 100
    assert sum(len(p.registrations) for p in persons) > 100
    assert sum(len(p.contact_moments) for p in persons) > 50

"""Blocking keys, scoring and merge-rule decisions: pure functions."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from relata_automation import scoring
from relata_automation.blocking import blocking_keys, fold, profile_of
from relata_automation.duplicates import Pair
from relata_automation.merge_rules import (
    MergeRuleInput,
    choose_candidate,
    fields_match,
    merge_choices,
    older_survives,
)
from relata_automation.scoring import jaro_winkler, nearly_same_date, score, stars_for

JAN: dict[str, Any] = {
    "first_name": "Jan",
    "last_name": "Berg",
    "infix": "van den",
    "birth_date": "1970-03-04",
    "emails": [{"type": "private", "address": "jan@example.org"}],
    "phones": [{"type": "mobile", "number": "+31612345678"}],
    "addresses": [{"postal_code": "3511 AB", "house_number": "12", "street": "Oudegracht"}],
}


def person(**changes: object) -> dict[str, Any]:
    return {**JAN, **changes}


def test_fold_drops_case_accents_and_punctuation():
    assert fold(" Jansen-Ðe Vriés ") == "jansendevries"
    assert fold(None) == ""


def test_blocking_keys_cover_email_phone_address_and_name_with_birth_date():
    keys = blocking_keys(profile_of("person", JAN))
    assert "Pe:jan@example.org" in keys
    assert "Pp:31612345678" in keys
    assert "Pa:3511ab|12" in keys
    assert "Pn:vandenberg|1970-03-04" in keys
    assert "Pd:1970-03-04|3511ab" in keys
    # organisations never share a key with persons
    org = blocking_keys(profile_of("organisation", {"organisation_name": "X", **JAN}))
    assert all(key.startswith("O") for key in org)


def test_same_person_scores_five_stars_with_reasons():
    result = score(profile_of("person", JAN), profile_of("person", person()))
    assert result.stars == 5
    reasons = {r.reason for r in result.reasons}
    assert {"same e-mail address", "same birth date", "same last name"} <= reasons


def test_same_email_but_different_birth_date_counts_against():
    other = person(
        first_name="Piet",
        birth_date="1999-12-01",
        phones=[],
        addresses=[],
    )
    result = score(profile_of("person", JAN), profile_of("person", other))
    by_reason = {r.reason: r.points for r in result.reasons}
    assert by_reason["same e-mail address"] == 4
    assert by_reason["different birth date"] == -4
    assert result.stars <= 2


def test_typo_in_birth_date_and_name_still_scores_high():
    other = person(last_name="Bergh", birth_date="1970-04-03", emails=[], phones=[])
    result = score(profile_of("person", JAN), profile_of("person", other))
    by_reason = {r.reason: r.points for r in result.reasons}
    assert by_reason["birth date one typing error apart"] == 1
    assert by_reason["nearly the same last name"] == 1
    assert result.stars >= 3


def test_stars_and_helpers():
    assert [stars_for(p) for p in (-3, 3, 5, 7, 10)] == [1, 2, 3, 4, 5]
    assert jaro_winkler("martha", "marhta") > 0.95
    assert jaro_winkler("jan", "") == 0.0
    assert nearly_same_date("1970-03-04", "1970-03-05")
    assert nearly_same_date("1970-03-04", "1907-03-04")
    assert not nearly_same_date("1970-03-04", "1981-11-24")


def test_merge_rule_fields_and_choices():
    rule = MergeRuleInput(
        name="same e-mail and birth date",
        match_fields=["email", "birth_date"],
        keep={"last_name": "new", "phones": "existing"},
        default_keep="newest",
    )
    a = profile_of("person", JAN)
    assert fields_match(rule, a, profile_of("person", person(last_name="Other")))
    assert not fields_match(rule, a, profile_of("person", person(birth_date=None)))
    existing = {
        "fields": JAN,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }
    new = {
        "fields": person(last_name="Bergen", phones=[], custom={"newsletter": True}),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    assert merge_choices(rule, existing, new) == {
        "last_name": "merged",
        "phones": "survivor",
        "custom.newsletter": "merged",  # newest by default
    }


def test_a_rule_chooses_only_candidates_in_its_lists():
    rule = MergeRuleInput(name="r", match_fields=["email"], list_ids=[uuid.uuid4()])
    new_id, member, outsider = (uuid.uuid4() for _ in range(3))
    profile = profile_of("person", JAN)
    pairs = [
        Pair(uuid.uuid4(), min(new_id, other), max(new_id, other), 5, 12, [], "open")
        for other in (member, outsider)
    ]
    others = {member: profile, outsider: profile}
    chosen = choose_candidate(rule, new_id, profile, pairs, others, {member})
    assert [p.other(new_id) for p in chosen] == [member]


def test_swapped_names_and_a_mistyped_postal_code_still_meet():
    swapped = {
        "first_name": "Berg",
        "last_name": "Jan",
        "birth_date": "1970-03-04",
        "addresses": [
            {
                "postal_code": "3512 AB",
                "house_number": "12",
                "street": "Oudegracht",
                "city": "Utrecht",
            }
        ],
    }
    jan = {**JAN, "infix": None, "addresses": [{**JAN["addresses"][0], "city": "Utrecht"}]}
    a = profile_of("person", jan)
    b = profile_of("person", swapped)
    assert set(blocking_keys(a)) & set(blocking_keys(b)) >= {"Pg:berg|jan", "Ps:oudegracht|12|utr"}
    reasons = {r.reason for r in score(a, b).reasons}
    assert "same names, first and last swapped" in reasons
    assert "same street and house number" in reasons
    assert score(a, b).stars >= 4


def test_the_relation_created_first_survives_a_rule_merge():
    older: dict[str, Any] = {
        "relation_id": str(uuid.uuid4()),
        "created_at": "2026-01-02T10:00:00+00:00",
    }
    newer: dict[str, Any] = {
        "relation_id": str(uuid.uuid4()),
        "created_at": "2026-01-02T10:00:05+00:00",
    }
    older["relation_number"], newer["relation_number"] = 7, 8
    expected = (uuid.UUID(older["relation_id"]), uuid.UUID(newer["relation_id"]))
    assert older_survives(older, newer) == expected
    assert older_survives(newer, older) == expected


def test_every_reason_names_the_fields_it_rests_on():
    """Catches: a reason added to the scorer without its fields (a view hiding that field
    would then be told what two relations share there, or lose the reason altogether)."""
    source = Path(scoring.__file__).read_text()
    given = set(re.findall(r'tally\.add\(-?\d+, "([^"]+)"\)', source))
    assert given and given == set(scoring.REASON_FIELDS)
    assert all(scoring.REASON_FIELDS[reason] for reason in given)

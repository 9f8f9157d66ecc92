"""The search document of a relation: what the index needs of its state, and its index terms.

Built once per relation event and kept in the read model, so an index is (re)built from the
database without re-parsing events. Holds only what search shows or matches on.
"""

from __future__ import annotations

from typing import TypedDict

from relata_common.events import RelationState
from relata_common.fields import PERSON_NAME_FIELDS, display_name
from relata_search.normalise import email_key, phone_keys, postal_keys, tokens


class SearchDocument(TypedDict):
    relation_id: str
    relation_type: str
    relation_number: int
    display_name: str
    names: dict[str, str]
    organisation_name: str | None
    emails: list[str]
    phones: list[str]
    addresses: list[dict[str, str]]


class IndexTerms(TypedDict):
    """Per index field, the already-normalised terms (the index stores them verbatim)."""

    name: list[str]
    city: list[str]
    email: list[str]
    phone: list[str]
    postal: list[str]
    number: list[str]


def document_from_state(state: RelationState) -> SearchDocument:
    fields = state.fields
    return SearchDocument(
        relation_id=str(state.relation_id),
        relation_type=state.relation_type,
        relation_number=state.relation_number,
        display_name=display_name(fields, state.relation_type),
        names={name: str(fields[name]) for name in PERSON_NAME_FIELDS if fields.get(name)},
        organisation_name=fields.get("organisation_name"),
        emails=[e["address"] for e in fields.get("emails", []) if e.get("address")],
        phones=[p["number"] for p in fields.get("phones", []) if p.get("number")],
        addresses=[
            {k: str(a[k]) for k in ("street", "house_number", "postal_code", "city") if a.get(k)}
            for a in fields.get("addresses", [])
        ],
    )


def index_terms(document: SearchDocument) -> IndexTerms:
    # Person and organisation names share one field: one clause per typed word, not two.
    names = [t for value in document["names"].values() for t in tokens(value)]
    names += tokens(document["organisation_name"])
    addresses = document["addresses"]
    return IndexTerms(
        name=names,
        city=[t for a in addresses for t in tokens(a.get("city"))],
        email=[email_key(e) for e in document["emails"]],
        phone=[k for p in document["phones"] for k in phone_keys(p)],
        postal=[
            k for a in addresses for k in postal_keys(a.get("postal_code"), a.get("house_number"))
        ],
        number=[str(document["relation_number"])],
    )

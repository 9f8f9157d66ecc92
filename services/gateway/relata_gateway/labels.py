"""What the web application calls each field and section of a form, in Dutch and English.

A form may name its own labels (``Form.field_labels``, ``Tab.labels``); otherwise a standard
field or section has the default below and a custom field its definition's label (kept by the
relations service, cached here and dropped when it is changed through the gateway).
"""

from __future__ import annotations

from typing import Any

import orjson

from relata_common.errors import ServiceUnavailable
from relata_common.fields import custom_key, is_custom
from relata_gateway import cache
from relata_gateway.cards import CardContext
from relata_gateway.forms import SECTIONS, STANDARD_FIELDS, Form, Labels

DEFAULT_LABELS: dict[str, Labels] = {
    name: Labels(nl=nl, en=en)
    for name, nl, en in (
        ("relation_number", "Relatienummer", "Relation number"),
        ("first_name", "Voornaam", "First name"),
        ("initials", "Voorletters", "Initials"),
        ("infix", "Tussenvoegsel", "Infix"),
        ("last_name", "Achternaam", "Last name"),
        ("salutation", "Aanhef", "Salutation"),
        ("gender", "Geslacht", "Gender"),
        ("birth_date", "Geboortedatum", "Birth date"),
        ("organisation_name", "Organisatienaam", "Organisation name"),
        ("coc_number", "KvK-nummer", "Chamber of commerce number"),
        ("iban", "IBAN", "IBAN"),
        ("addresses", "Adressen", "Addresses"),
        ("phones", "Telefoonnummers", "Phone numbers"),
        ("emails", "E-mailadressen", "E-mail addresses"),
        ("functions", "Functies", "Functions"),
        ("contact_moments", "Contactmomenten", "Contact moments"),
        ("lists", "Relatielijsten", "Relation lists"),
        ("history", "Historie", "History"),
        ("donations", "Donaties", "Donations"),
        ("registrations", "Registraties", "Registrations"),
        ("properties", "Kenmerken", "Properties"),
    )
}
"""The default label of every standard field and section a form may place."""
assert set(DEFAULT_LABELS) == {*STANDARD_FIELDS, *SECTIONS}, "a field or section lacks labels"

CUSTOM_FIELDS = ("definitions", "custom-fields")
"""Where the custom field definitions are cached (as a card part, with its generation)."""


def custom_field_keys() -> tuple[str, str]:
    """The cache keys of the definitions and their generation (read with a card's parts)."""
    return cache.keys_of(*CUSTOM_FIELDS)


async def custom_field_definitions(
    ctx: CardContext, raw: tuple[cache.Raw, cache.Raw] | None = None
) -> list[dict[str, Any]]:
    """Every custom field definition (cached; ``raw`` when read with the card's parts)."""
    hit, generation = raw if raw is not None else await ctx.redis.mget(custom_field_keys())
    if hit is not None:
        definitions: list[dict[str, Any]] = orjson.loads(hit)
        return definitions
    definitions = (await ctx.services.relations.call("GET", "/custom-fields")).json()
    await cache.store(ctx.redis, *CUSTOM_FIELDS, cache.generation(generation), definitions, ctx.ttl)
    return definitions


async def custom_fields_changed(ctx: CardContext) -> None:
    """Cards and catalogues read the definitions again (after a change through the gateway)."""
    await cache.invalidate(ctx.redis, CUSTOM_FIELDS[1], CUSTOM_FIELDS[0])


def custom_label(definition: dict[str, Any]) -> Labels:
    label = str(definition.get("label") or definition["key"])
    return Labels(nl=label, en=label)


def default_label(name: str, custom: dict[str, Labels]) -> Labels:
    """A field's or section's label when the form names none (a custom field without a
    definition, one deleted since, keeps its key)."""
    if is_custom(name):
        key = custom_key(name)
        return custom.get(key) or Labels(nl=key, en=key)
    return DEFAULT_LABELS[name]


def needs_definitions(form: Form) -> bool:
    """Whether the form shows a custom field without a label of its own."""
    return any(is_custom(name) and name not in form.field_labels for name in form.fields)


async def custom_labels(
    ctx: CardContext, raw: tuple[cache.Raw, cache.Raw] | None = None
) -> dict[str, Labels]:
    """Each custom field's label by key; none when the relations service does not answer
    (such a field then keeps its key: a label is not worth failing a card for)."""
    try:
        definitions = await custom_field_definitions(ctx, raw)
    except ServiceUnavailable:
        return {}
    return {d["key"]: custom_label(d) for d in definitions}


def resolved(form: Form, custom: dict[str, Labels]) -> dict[str, Labels]:
    """The label of every field and section the form shows: the form's own, else the default."""
    return {
        name: form.field_labels.get(name) or default_label(name, custom)
        for tab in form.tabs
        for name in tab.fields
    }


async def form_labels(
    ctx: CardContext, form: Form, raw: tuple[cache.Raw, cache.Raw] | None = None
) -> dict[str, Labels]:
    """The label of every field and section the form shows; the custom field definitions
    are read only when the form needs them."""
    custom = await custom_labels(ctx, raw) if needs_definitions(form) else {}
    return resolved(form, custom)

"""What duplicate detection compares: a relation's *profile* (its identifying fields, normalised)
and its *blocking keys*.

Comparing every relation with every other is quadratic (10^12 pairs at a million relations).
Instead each relation gets a few keys, and only relations sharing a key are compared: the same
e-mail address, phone number, postal code with house number, last name with birth date, or birth
date with postal code. A key shared by very many relations (a shared office phone) says little
and is left out of the comparison (see ``max_block`` of the batch).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# Letters Unicode does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"ð": "d", "đ": "d", "ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l"})


def fold(value: Any) -> str:
    """Lower case, accents off, only letters and digits: 'Jansen-Ðe Vries ' -> 'jansendevries'."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKD", str(value).lower().translate(_LETTERS))
    return _NOT_ALNUM.sub("", text.encode("ascii", "ignore").decode())


@dataclass(frozen=True)
class Profile:
    """The fields duplicate detection looks at, normalised once."""

    relation_type: str
    first_name: str = ""
    initials: str = ""
    last_name: str = ""
    birth_date: str = ""
    gender: str = ""
    organisation_name: str = ""
    coc_number: str = ""
    iban: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    addresses: tuple[tuple[str, str], ...] = ()
    """(postal code, house number) pairs, both folded."""
    streets: tuple[str, ...] = field(default=())
    street_numbers: tuple[str, ...] = field(default=())
    """street|house number|town's first letters, folded: the same address when a postal code
    is mistyped."""

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v not in ("", ())}
        return {k: list(map(list, v)) if k == "addresses" else v for k, v in data.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        values = dict(data)
        for name in ("emails", "phones", "streets", "street_numbers"):
            values[name] = tuple(values.get(name, ()))
        values["addresses"] = tuple(tuple(a) for a in values.get("addresses", ()))
        return cls(**values)


def profile_of(relation_type: str, fields: dict[str, Any]) -> Profile:
    """The profile of a relation from its stored fields (as relation events carry them)."""
    addresses = fields.get("addresses") or []
    first = fold(fields.get("first_name"))
    return Profile(
        relation_type=relation_type,
        first_name=first,
        initials=fold(fields.get("initials")) or first[:1],
        # The infix belongs to the name ("van der Berg" and "Berg, van der" are one person).
        last_name=fold(f"{fields.get('infix') or ''}{fields.get('last_name') or ''}"),
        birth_date=str(fields.get("birth_date") or ""),
        gender=str(fields.get("gender") or "") if fields.get("gender") != "unknown" else "",
        organisation_name=fold(fields.get("organisation_name")),
        coc_number=fold(fields.get("coc_number")),
        iban=fold(fields.get("iban")),
        emails=tuple(sorted({str(e["address"]).lower() for e in fields.get("emails") or []})),
        phones=tuple(sorted({fold(p["number"]) for p in fields.get("phones") or []})),
        addresses=tuple(
            sorted(
                {
                    (fold(a.get("postal_code")), fold(a.get("house_number")))
                    for a in addresses
                    if a.get("postal_code") and a.get("house_number")
                }
            )
        ),
        streets=tuple(sorted({fold(a.get("street")) for a in addresses if a.get("street")})),
        street_numbers=tuple(
            sorted(
                {
                    # The town's first letters: "Kerkstraat 1" is in hundreds of towns, and a
                    # mistyped town usually keeps its start.
                    f"{fold(a.get('street'))}|{fold(a.get('house_number'))}"
                    f"|{fold(a.get('city'))[:3]}"
                    for a in addresses
                    if a.get("street") and a.get("house_number")
                }
            )
        ),
    )


def blocking_keys(profile: Profile) -> list[str]:
    """The keys under which this relation is compared with others (prefixed by kind)."""
    keys: list[str] = [f"e:{email}" for email in profile.emails]
    keys += [f"p:{phone}" for phone in profile.phones]
    keys += [f"a:{postal}|{number}" for postal, number in profile.addresses]
    keys += [f"s:{street}" for street in profile.street_numbers]
    if profile.relation_type == "organisation":
        if profile.coc_number:
            keys.append(f"k:{profile.coc_number}")
        if profile.organisation_name:
            keys += [f"o:{profile.organisation_name}|{postal}" for postal, _ in profile.addresses]
    else:
        if profile.last_name and profile.birth_date:
            keys.append(f"n:{profile.last_name}|{profile.birth_date}")
        if profile.first_name and profile.birth_date:
            # A misspelt or changed last name (marriage) still meets its twin.
            keys.append(f"f:{profile.first_name}|{profile.birth_date}")
        if profile.birth_date:
            keys += [f"d:{profile.birth_date}|{postal}" for postal, _ in profile.addresses]
        if profile.first_name and profile.last_name:
            # Either order: first and last name are sometimes entered the wrong way round.
            keys.append("g:" + "|".join(sorted((profile.first_name, profile.last_name))))
    if profile.iban:
        keys.append(f"i:{profile.iban}")
    # Keys are per relation type: a person is never compared with an organisation.
    prefix = "P" if profile.relation_type == "person" else "O"
    return sorted({prefix + key for key in keys})

"""The demo association's data, generated deterministically: relation ``i`` is the same on
every machine and for every size, so ``crm seed --relations 5000`` after 2,000 adds 3,000.

The association is a Dutch professional association (the "Nederlandse Vereniging van
Adviseurs"): persons, most of them members, and the organisations they work at. Everything
here is plain data; :mod:`relata_cli.seed` sends it to the platform.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DEMO_NAMESPACE = uuid.UUID("6a1f3c52-8a55-4c1e-9f0e-52454c415441")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TODAY = date.today()
"""Dates are drawn as distances from the day the demo is loaded: who and what relation ``i``
is never changes, and "in the last 12 months" finds people whenever the demo is loaded."""

MEMBERSHIP_TYPES = ("regular", "student", "honorary", "retired")

FEMALE_NAMES = (
    "Anna", "Emma", "Sophie", "Julia", "Lotte", "Sanne", "Eva", "Lisa", "Fleur", "Anouk",
    "Maria", "Johanna", "Cornelia", "Willemijn", "Ingrid", "Marieke", "Ellen", "Petra", "Linda",
    "Monique", "Esther", "Karin", "Saskia", "Marloes", "Femke", "Iris", "Noor", "Tess", "Yara",
    "Fatima", "Naima", "Sevda", "Hanneke", "Wilma", "Annelies", "Margriet", "Ilse", "Roos",
)  # fmt: skip
MALE_NAMES = (
    "Jan", "Piet", "Kees", "Henk", "Willem", "Johannes", "Cornelis", "Pieter", "Dirk", "Gerrit",
    "Bram", "Daan", "Sem", "Lucas", "Milan", "Thijs", "Ruben", "Jeroen", "Maarten", "Bas",
    "Sander", "Martijn", "Erik", "Joost", "Wouter", "Hans", "Frank", "Marco", "Mohammed",
    "Youssef", "Mehmet", "Stijn", "Niels", "Koen", "Teun", "Gijs", "Hendrik", "Arjen",
)  # fmt: skip
SURNAMES: tuple[tuple[str, str], ...] = (
    ("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), ("", "Bakker"),
    ("", "Janssen"), ("", "Visser"), ("", "Smit"), ("", "Meijer"), ("de", "Boer"),
    ("", "Mulder"), ("de", "Groot"), ("", "Bos"), ("", "Vos"), ("", "Peters"),
    ("", "Hendriks"), ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"),
    ("", "Dijkstra"), ("", "Smits"), ("de", "Graaf"), ("van der", "Meer"), ("van der", "Linden"),
    ("", "Kok"), ("", "Jacobs"), ("de", "Haan"), ("", "Vermeulen"), ("van den", "Heuvel"),
    ("van der", "Veen"), ("van den", "Broek"), ("de", "Bruijn"), ("van der", "Heijden"),
    ("", "Schouten"), ("van", "Beek"), ("", "Willems"), ("van", "Vliet"), ("van de", "Ven"),
    ("", "Hoekstra"), ("", "Maas"), ("", "Verhoeven"), ("", "Koster"), ("van", "Dam"),
    ("van der", "Wal"), ("", "Prins"), ("", "Blom"), ("", "Huisman"), ("de", "Jong"),
    ("", "Kuipers"), ("van", "Veen"), ("", "Post"), ("", "Kramer"), ("van den", "Brink"),
    ("", "Scholten"), ("van", "Wijk"), ("", "Postma"), ("", "Vink"), ("de", "Ruiter"),
    ("", "Timmermans"), ("", "Groen"), ("", "Gerritsen"), ("", "Jonker"), ("van", "Loon"),
    ("", "Boersma"), ("van der", "Velde"), ("", "Willemsen"), ("", "Wouters"), ("ter", "Horst"),
    ("", "Yilmaz"), ("", "El Amrani"), ("", "Bouzid"), ("in 't", "Veld"), ("van 't", "Hof"),
)  # fmt: skip
CITIES: tuple[tuple[str, int, int, str], ...] = (
    # (city, lowest and highest four-digit part of its postal codes, telephone area code)
    ("Amsterdam", 1011, 1109, "020"),
    ("Rotterdam", 3011, 3089, "010"),
    ("Den Haag", 2491, 2599, "070"),
    ("Utrecht", 3511, 3585, "030"),
    ("Eindhoven", 5611, 5658, "040"),
    ("Groningen", 9711, 9747, "050"),
    ("Tilburg", 5011, 5049, "013"),
    ("Almere", 1311, 1363, "036"),
    ("Breda", 4811, 4841, "076"),
    ("Nijmegen", 6511, 6546, "024"),
    ("Apeldoorn", 7311, 7339, "055"),
    ("Haarlem", 2011, 2037, "023"),
    ("Arnhem", 6811, 6846, "026"),
    ("Enschede", 7511, 7548, "053"),
    ("Amersfoort", 3811, 3829, "033"),
    ("Zwolle", 8011, 8047, "038"),
    ("Leiden", 2311, 2334, "071"),
    ("Maastricht", 6211, 6229, "043"),
    ("Dordrecht", 3311, 3319, "078"),
    ("Zoetermeer", 2711, 2729, "079"),
    ("'s-Hertogenbosch", 5211, 5237, "073"),
    ("Delft", 2611, 2629, "015"),
    ("Leeuwarden", 8911, 8939, "058"),
    ("Deventer", 7411, 7429, "0570"),
)
STREETS = (
    "Dorpsstraat", "Kerkstraat", "Schoolstraat", "Molenweg", "Stationsweg", "Julianastraat",
    "Beatrixlaan", "Wilhelminastraat", "Nieuwstraat", "Hoofdstraat", "Kastanjelaan",
    "Eikenlaan", "Lindelaan", "Oranjestraat", "Marktstraat", "Havenstraat", "Prins Hendrikkade",
    "Burgemeester de Withstraat", "Vondelstraat", "Rembrandtlaan", "Sportlaan", "Parkweg",
    "Emmalaan", "Tulpstraat", "Populierenlaan", "Van Goghstraat", "Spoorstraat", "Achterweg",
)  # fmt: skip
ORGANISATION_PATTERNS = (
    "{name} Advies B.V.", "Adviesbureau {name}", "{name} & Partners", "Bouwbedrijf {name}",
    "Accountantskantoor {name}", "Architectenbureau {name}", "{name} Installatietechniek B.V.",
    "{city} Consultancy B.V.", "Zorggroep {city}", "Stichting Welzijn {city}",
    "{name} Juristen", "Ingenieursbureau {name}", "{name} ICT Diensten", "Notariskantoor {name}",
)  # fmt: skip
UNSUITABLE_LETTERS = frozenset({"SA", "SD", "SS"})
LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
BANKS = ("ABNA", "INGB", "RABO", "TRIO", "SNSB", "ASNB", "KNAB", "BUNQ")
CAMPAIGNS = ("jaarlijkse-gift", "studiefonds", "jubileum-50-jaar", "noodfonds-leden")
EVENT_DAYS = (
    ("ALV", -10),
    ("JAARCONGRES", 130),
    ("NIEUWJAARSBORREL", -136),
    ("MASTERCLASS-ETHIEK", -80),
    ("REGIODAG-UTRECHT", 109),
)
"""The association's events, days from today: four behind it, two ahead."""


def _event(name: str, days: int) -> tuple[str, date]:
    day = TODAY + timedelta(days=days)
    return f"{name}-{day.year}", day


EVENTS: tuple[tuple[str, date], ...] = tuple(_event(name, days) for name, days in EVENT_DAYS)
CONTACT_SUBJECTS: tuple[tuple[str, str, str], ...] = (
    ("phone", "in", "Vraag over contributie"),
    ("phone", "out", "Welkomstgesprek nieuw lid"),
    ("email", "in", "Adreswijziging doorgegeven"),
    ("email", "out", "Herinnering jaarcongres"),
    ("visit", "out", "Bezoek op kantoor"),
    ("letter", "out", "Felicitatie 25 jaar lidmaatschap"),
    ("meeting", "in", "Gesprek over commissiewerk"),
)


def organisation_count(relations: int) -> int:
    """One organisation per twenty relations (at least one)."""
    return max(1, relations // 20)


@dataclass(frozen=True)
class Donation:
    donation_id: uuid.UUID
    amount: str
    received_on: date
    campaign: str


@dataclass(frozen=True)
class Registration:
    registration_id: uuid.UUID
    event_code: str
    event_date: date
    status: str


@dataclass(frozen=True)
class ContactMoment:
    kind: str
    direction: str
    subject: str
    notes: str
    occurred_at: datetime


@dataclass(frozen=True)
class FunctionPlan:
    role: str
    organisation: str
    """External id of the organisation the role is held at."""
    start_date: date


@dataclass(frozen=True)
class DemoRelation:
    """One relation to import, and the facts about it other modules and users record."""

    external_id: str
    relation_type: str
    fields: dict[str, Any]
    functions: tuple[FunctionPlan, ...] = ()
    donations: tuple[Donation, ...] = ()
    registrations: tuple[Registration, ...] = ()
    contact_moments: tuple[ContactMoment, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_facts(self) -> bool:
        return bool(self.functions or self.donations or self.registrations or self.contact_moments)

    def import_row(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "relation_type": self.relation_type,
            "fields": self.fields,
        }


def _rng(kind: str, index: int) -> random.Random:
    return random.Random(f"relata-demo:{kind}:{index}")


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, ":".join(str(p) for p in parts))


def organisation_id(index: int) -> str:
    return f"demo-org-{index:06d}"


def person_id(index: int) -> str:
    return f"demo-person-{index:07d}"


def postal_code(rng: random.Random, low: int, high: int) -> str:
    """A valid Dutch postal code (1234 AB) within a city's range."""
    while True:
        letters = rng.choice(LETTERS) + rng.choice(LETTERS)
        if letters not in UNSUITABLE_LETTERS:
            return f"{rng.randint(low, high)} {letters}"


def mobile_number(rng: random.Random) -> str:
    """A Dutch mobile number: 06 followed by eight digits (06-1 to 06-5 are mobile)."""
    return f"06{rng.randint(1, 5)}{rng.randint(0, 9_999_999):07d}"


def iban(rng: random.Random) -> str:
    """A Dutch IBAN with a correct ISO 7064 mod-97 check."""
    bank = rng.choice(BANKS)
    account = f"{rng.randint(100_000_000, 9_999_999_999):010d}"
    digits = "".join(str(int(c, 36)) for c in f"{bank}{account}NL00")
    check = 98 - int(digits) % 97
    return f"NL{check:02d}{bank}{account}"


def coc_number(index: int) -> str:
    """An eight-digit chamber-of-commerce (KvK) number, unique per organisation."""
    return f"{(index * 7_919 + 10_000_019) % 90_000_000 + 10_000_000:08d}"


City = tuple[str, int, int, str]


def landline_number(rng: random.Random, city: City) -> str:
    """A Dutch landline number in the city's area (ten digits with the area code)."""
    area = city[3]
    digits = 10 - len(area)
    return f"{area}{rng.randint(2, 9)}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


def _address(rng: random.Random, kind: str, city: City | None = None) -> dict[str, str]:
    name, low, high, _ = city or rng.choice(CITIES)
    number = str(rng.randint(1, 180))
    if rng.random() < 0.12:
        number += rng.choice(("a", "b", "-1", "-2", "bis"))
    return {
        "type": kind,
        "street": rng.choice(STREETS),
        "house_number": number,
        "postal_code": postal_code(rng, low, high),
        "city": name,
        "country": "NL",
    }


def _email_local(first: str, infix: str, last: str) -> str:
    surname = f"{infix}{last}".replace(" ", "").replace("'", "").lower()
    return f"{first.lower()}.{surname}"


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())[:30] or "bedrijf"


def organisation(index: int) -> DemoRelation:
    rng = _rng("organisation", index)
    infix, last = rng.choice(SURNAMES)
    city = rng.choice(CITIES)
    name = rng.choice(ORGANISATION_PATTERNS).format(
        name=f"{infix.capitalize()} {last}".strip() if infix else last, city=city[0]
    )
    domain = f"{_slug(name)}.example.nl"
    return DemoRelation(
        external_id=organisation_id(index),
        relation_type="organisation",
        fields={
            "organisation_name": name,
            "coc_number": coc_number(index),
            "iban": iban(rng),
            "addresses": [_address(rng, "visiting", city)],
            "phones": [{"type": "work", "number": landline_number(rng, city)}],
            "emails": [{"type": "work", "address": f"info@{domain}"}],
        },
    )


def _membership(rng: random.Random, birth: date) -> dict[str, Any]:
    """Custom values: most persons are members, some only donors or contacts."""
    age = (TODAY - birth).days // 365
    custom: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.72:
        if age < 27 and rng.random() < 0.7:
            kind = "student"
        elif age >= 67 and rng.random() < 0.8:
            kind = "retired"
        elif rng.random() < 0.015:
            kind = "honorary"
        else:
            kind = "regular"
        earliest = max(TODAY - timedelta(days=50 * 365), birth + timedelta(days=18 * 365))
        span = max(1, (TODAY - earliest).days)
        custom["membership_type"] = kind
        custom["member_since"] = (earliest + timedelta(days=rng.randrange(span))).isoformat()
    newsletter = rng.random()
    if newsletter < 0.55:
        custom["newsletter"] = True
    elif newsletter < 0.8:
        custom["newsletter"] = False
    return custom


def person(index: int) -> DemoRelation:
    """Person ``index`` (the same whatever the size of the data set)."""
    rng = _rng("person", index)
    female = rng.random() < 0.5
    first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    infix, last = rng.choice(SURNAMES)
    birth = TODAY - timedelta(days=85 * 365) + timedelta(days=rng.randrange(365 * 65))
    custom = _membership(rng, birth)
    fields: dict[str, Any] = {
        "first_name": first,
        "initials": f"{first[0]}.",
        "last_name": last,
        "gender": "female" if female else "male",
        "salutation": "Mevrouw" if female else "De heer",
        "birth_date": birth.isoformat(),
        "addresses": [_address(rng, "home")],
        "phones": [{"type": "mobile", "number": mobile_number(rng)}],
        "emails": [
            {
                "type": "private",
                "address": f"{_email_local(first, infix, last)}{rng.randint(1, 99)}@example.com",
            }
        ],
    }
    if infix:
        fields["infix"] = infix
    if custom:
        fields["custom"] = custom
    engaged = index % 5 == 0  # one in five persons: the ones with a history to show
    tags = {"member"} if "membership_type" in custom else set()
    if not engaged:
        return DemoRelation(person_id(index), "person", fields, tags=frozenset(tags))
    return DemoRelation(
        person_id(index),
        "person",
        fields,
        functions=_functions(rng, index),
        donations=_donations(rng, index),
        registrations=_registrations(rng, index, tags),
        contact_moments=_contact_moments(rng, index),
        tags=frozenset(tags),
    )


def _functions(rng: random.Random, index: int) -> tuple[FunctionPlan, ...]:
    """Roles at organisations that exist whenever this person does (see ``association``).

    Only the first 25,000 persons hold functions: each is an API call, and a large data set
    should load in minutes.
    """
    if rng.random() >= 0.6 or index >= 25_000:
        return ()
    organisations = max(1, (index + 1) // 20)
    employer = organisation_id(rng.randrange(organisations))
    start = TODAY - timedelta(days=rng.randrange(30, 365 * 20))
    plans = [FunctionPlan("employee", employer, start)]
    roll = rng.random()
    if roll < 0.12:
        plans.append(FunctionPlan("director", employer, start + timedelta(days=365)))
    elif roll < 0.22:
        board = organisation_id(rng.randrange(organisations))
        if board != employer:
            plans.append(FunctionPlan("board_member", board, start + timedelta(days=200)))
    return tuple(plans)


def _donations(rng: random.Random, index: int) -> tuple[Donation, ...]:
    if rng.random() >= 0.45:
        return ()
    return tuple(
        Donation(
            donation_id=_id("donation", index, n),
            amount=f"{rng.choice((10, 15, 25, 25, 50, 50, 75, 100, 250, 500))}.00",
            received_on=TODAY - timedelta(days=rng.randrange(730)),
            campaign=rng.choice(CAMPAIGNS),
        )
        for n in range(rng.randint(1, 4))
    )


def _registrations(rng: random.Random, index: int, tags: set[str]) -> tuple[Registration, ...]:
    if rng.random() >= (0.5 if "member" in tags else 0.1):
        return ()
    chosen = rng.sample(EVENTS, rng.randint(1, 2))
    return tuple(
        Registration(
            registration_id=_id("registration", index, code),
            event_code=code,
            event_date=day,
            status=("attended" if day < TODAY and rng.random() < 0.8 else "registered"),
        )
        for code, day in chosen
    )


def _contact_moments(rng: random.Random, index: int) -> tuple[ContactMoment, ...]:
    if index % 20 != 0 or index >= 10_000:  # one in a hundred persons, at most 500
        return ()
    moments = []
    for _ in range(rng.randint(1, 3)):
        kind, direction, subject = rng.choice(CONTACT_SUBJECTS)
        day = TODAY - timedelta(days=rng.randrange(400))
        at = datetime.combine(day, time(rng.randint(9, 16), rng.choice((0, 15, 30, 45))))
        moments.append(
            ContactMoment(
                kind=kind,
                direction=direction,
                subject=subject,
                notes=f"{subject}. Afgehandeld door de ledenadministratie.",
                occurred_at=at.replace(tzinfo=AMSTERDAM),
            )
        )
    return tuple(moments)


def association(relations: int) -> tuple[list[DemoRelation], list[DemoRelation]]:
    """The organisations and the persons of a data set of ``relations`` relations."""
    organisations = organisation_count(relations)
    return (
        [organisation(i) for i in range(organisations)],
        [person(i) for i in range(max(0, relations - organisations))],
    )

"""Security properties of the gateway, with randomised users, views, forms and relations.

Every relation carries a unique marker string in every field. For each user and each view, every
response (cards, search, list members, ad-hoc evaluation, the activity feed, the dashboard's
recent items) is scanned as JSON text: no relation outside the view, and no marker of a field
outside the view's form, may appear. Tokens and internal service tokens are checked on every
route family and every service.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from stdnum import iban as stdnum_iban

from tests.gateway.conftest import INTERNAL, Admin
from tests.helpers import eventually
from tests.selections.conftest import (  # noqa: F401 - fixtures used through pytest
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
)

CUSTOM = ("custom.cf_alpha", "custom.cf_beta")
PERSON_FIELDS = ("first_name", "initials", "infix", "last_name", "salutation", "birth_date")
ORGANISATION_FIELDS = ("organisation_name", "coc_number")
SHARED_FIELDS = ("iban", "addresses", "phones", "emails", *CUSTOM)
SECTIONS = ("contact_moments", "lists", "functions")
FORM_FIELDS = (
    *PERSON_FIELDS,
    *ORGANISATION_FIELDS,
    *SHARED_FIELDS,
    "relation_number",
    *SECTIONS,
)
SEEDS = (11, 23)


@dataclass
class Rel:
    relation_id: str
    relation_type: str
    city: str
    markers: dict[str, list[str]] = field(default_factory=dict)
    """Form field → the unique strings only that field of this relation holds."""


@dataclass
class ViewCase:
    view: dict
    members: set[str]
    form: frozenset[str]

    @property
    def view_id(self) -> str:
        return self.view["view_id"]


class Markers:
    def __init__(self, rng: random.Random, tag: str) -> None:
        self.rng = rng
        self.tag = tag
        self.count = 0

    def word(self) -> str:
        self.count += 1
        letters = "".join(self.rng.choices(string.ascii_lowercase, k=6))
        return f"zq{self.tag}{letters}{string.ascii_lowercase[self.count % 26]}"

    def digits(self, n: int) -> str:
        return str(self.rng.randrange(10 ** (n - 1), 10**n))

    def iban(self) -> str:
        while True:
            bban = "ABNA" + self.digits(10)
            number = f"NL{stdnum_iban.calc_check_digits('NL00' + bban)}{bban}"
            if stdnum_iban.is_valid(number):
                return number

    def postal_code(self) -> str:
        letters = "".join(self.rng.choices("BCEFGHJKLMNPRTVWXZ", k=2))
        return f"{self.digits(4)} {letters}"


def relation_body(m: Markers, relation_type: str, city: str, i: int) -> tuple[dict, dict]:
    """A relation with a marker in every field, and those markers by form field."""
    markers: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    names = PERSON_FIELDS if relation_type == "person" else ORGANISATION_FIELDS
    for name in names:
        if name == "birth_date":
            value = date(1901 + i, 1 + i % 12, 1 + i % 28).isoformat()
        elif name == "coc_number":
            value = m.digits(8)
        elif name == "initials":
            value = m.word()[:20]
        else:
            value = m.word()
        fields[name] = value
        markers[name] = [value]
    iban = m.iban()
    street, postal = m.word(), m.postal_code()
    phone, email = "+3162" + m.digits(7), m.word()
    fields |= {
        "iban": iban,
        "addresses": [{"street": street, "house_number": "7", "postal_code": postal, "city": city}],
        "phones": [{"number": phone}],
        "emails": [{"address": f"{email}@example.org"}],
        "custom": {"cf_alpha": m.word(), "cf_beta": m.word()},
    }
    markers |= {
        "iban": [iban],
        "addresses": [street, postal],
        "phones": [phone.removeprefix("+")],
        "emails": [email],
        "custom.cf_alpha": [fields["custom"]["cf_alpha"]],
        "custom.cf_beta": [fields["custom"]["cf_beta"]],
    }
    return {"relation_type": relation_type, "fields": fields}, markers


NAME_PARTS = ("first_name", "infix", "last_name", "organisation_name")


def _hidden_name_probe(rel: Rel, form: frozenset[str]) -> str | None:
    """A shown name part and the start of a hidden one in one query, which must not find the
    relation: finding it would confirm the hidden name. (The shown word matches exactly and so
    outranks the hidden prefix: the hit would name the shown field as the one that matched.)"""
    named = [n for n in NAME_PARTS if n in rel.markers]
    shown = [rel.markers[n][0] for n in named if n in form]
    hidden = [rel.markers[n][0] for n in named if n not in form]
    return f"{shown[0]} {hidden[0][:-2]}" if shown and hidden else None


class Scanner:
    """Finds what a response of a view may not contain."""

    def __init__(self, relations: list[Rel]) -> None:
        self.relations = relations

    def leaks(self, text: str, members: set[str], form: frozenset[str]) -> list[str]:
        found = []
        for rel in self.relations:
            inside = rel.relation_id in members
            if not inside and rel.relation_id in text:
                found.append(f"relation {rel.relation_id} outside the view")
            for name, values in rel.markers.items():
                if inside and name in form:
                    continue
                found += [f"{name} of {rel.relation_id}: {v}" for v in values if v in text]
        return found


async def _seed(
    rng: random.Random,
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    cm_api: httpx.AsyncClient,
) -> tuple[list[Rel], list[ViewCase], list[dict[str, str]], dict[str, list[ViewCase]]]:
    # Letters only: a digit would make the search read a marker as a number, not a name.
    tag = uuid.uuid4().hex[:4].translate(str.maketrans("0123456789", "ghijklmnop"))
    m = Markers(rng, tag)
    for key in ("cf_alpha", "cf_beta"):
        response = await gateway.post(
            "/admin/custom-fields",
            json={"key": key, "label": key, "type": "text"},
            headers=admin.headers,
        )
        assert response.status_code in (201, 409), response.text
    cities = [f"{city}{tag}" for city in ("Utrecht", "Zwolle", "Delft")]
    relations = []
    for i in range(12):
        relation_type = rng.choice(["person", "person", "organisation"])
        city = rng.choice(cities)
        body, markers = relation_body(m, relation_type, city, i)
        response = await relations_api.post("/relations", json=body)
        assert response.status_code == 201, response.text
        relations.append(Rel(response.json()["relation_id"], relation_type, city, markers))
    for rel in relations[::2]:  # contact moments with markers, for half of them
        subject, notes = m.word(), m.word()
        logged = await cm_api.post(
            "/contact-moments",
            json={
                "kind": "phone",
                "direction": "in",
                "subject": subject,
                "notes": notes,
                "occurred_at": "2025-03-04T10:00:00+01:00",
                "relation_ids": [rel.relation_id],
            },
        )
        assert logged.status_code == 201, logged.text
        rel.markers["contact_moments"] = [subject, notes]

    cases = []
    for v in range(4):
        city, kind = rng.choice(cities), rng.choice(["person", "organisation"])
        options: list[tuple[dict[str, Any], set[str]]] = [  # a filter and who it selects
            (
                {"kind": "field", "field": "city", "op": "equals", "value": city},
                {r.relation_id for r in relations if r.city == city},
            ),
            (
                {
                    "all": [
                        {
                            "kind": "field",
                            "field": "relation_type",
                            "op": "equals",
                            "value": kind,
                        },
                        {"kind": "field", "field": "city", "op": "in", "value": cities},
                    ]
                },
                {r.relation_id for r in relations if r.relation_type == kind},
            ),
        ]
        base, members = rng.choice(options)
        chosen = rng.sample(FORM_FIELDS, rng.randint(1, 8))
        split = rng.randint(1, len(chosen))
        tabs = [{"name": "One", "fields": chosen[:split]}]
        if chosen[split:]:
            tabs.append({"name": "Two", "fields": chosen[split:]})
        view = await admin.view(f"View {tag} {v}", base, tabs)
        cases.append(ViewCase(view, members, frozenset(chosen)))
        saved = await gateway.post(  # a second list under the view (relation_type is always shown)
            f"/views/{view['view_id']}/lists",
            json={
                "name": "Persons",
                "filter": {
                    "kind": "field",
                    "field": "relation_type",
                    "op": "equals",
                    "value": "person",
                },
            },
            headers=admin.headers,
        )
        assert saved.status_code == 201, saved.text
        view["lists"].append(saved.json())

    users, granted = [], {}
    for u in range(3):
        headers = await admin.user(f"user{tag}{u}")
        mine = rng.sample(cases, rng.randint(1, 2))
        for case in mine:
            await admin.grant(headers, case.view, can_edit=rng.random() < 0.5)
        users.append(headers)
        granted[headers["X-User-Id"]] = mine
    return relations, cases, users, granted


async def _settle(
    relations: list[Rel],
    cases: list[ViewCase],
    lists_api: httpx.AsyncClient,
    search_api: httpx.AsyncClient,
) -> None:
    """Wait until the lists and search services hold every relation where it belongs."""
    mine = {r.relation_id for r in relations}

    async def lists_settled() -> bool:
        for case in cases:
            page = await lists_api.get(
                f"/lists/{case.view['lists'][0]['list_id']}/members", params={"limit": 200}
            )
            found = {r["relation_id"] for r in page.json()["relations"]} & mine
            if found != case.members:
                return False
        return True

    await eventually(lists_settled, timeout=60)
    bases = ",".join(c.view["lists"][0]["list_id"] for c in cases)

    async def search_settled() -> bool:
        for rel in relations:
            if not any(rel.relation_id in c.members for c in cases):
                continue
            name = rel.markers["last_name" if "last_name" in rel.markers else "organisation_name"]
            answer = await search_api.get("/search", params={"q": name[0], "views": bases})
            if rel.relation_id not in {r["relation_id"] for r in answer.json()["results"]}:
                return False
        return True

    await eventually(search_settled, timeout=60)


async def _edit(relations_api: httpx.AsyncClient, rel: Rel, actor: dict, m: str) -> None:
    """A change made elsewhere (a colleague, or the relation itself): new custom value."""
    current = await relations_api.get(f"/relations/{rel.relation_id}")
    response = await relations_api.patch(
        f"/relations/{rel.relation_id}",
        json={"fields": {"custom": {"cf_alpha": m}}},
        headers={**actor, "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    rel.markers["custom.cf_alpha"].append(m)


@dataclass
class Probe:
    """One user looking through one view they were granted, gathering what leaks."""

    gateway: httpx.AsyncClient
    scanner: Scanner
    user: dict[str, str]
    case: ViewCase
    problems: list[str]

    @property
    def base(self) -> str:
        return f"/views/{self.case.view_id}"

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.gateway.get(f"{self.base}{path}", params=params, headers=self.user)

    def check(self, where: str, response: httpx.Response) -> None:
        """The response succeeded and shows nothing outside the view and its form."""
        assert response.status_code == 200, f"{where}: {response.status_code} {response.text}"
        self.problems.extend(
            f"{where}: {p}"
            for p in self.scanner.leaks(response.text, self.case.members, self.case.form)
        )


async def _refused_outside_grant(
    gateway: httpx.AsyncClient, user: dict[str, str], case: ViewCase, relations: list[Rel]
) -> None:
    """A view not granted to the user answers 404 on every route, as if it did not exist."""
    base = f"/views/{case.view_id}"
    some = next(iter(case.members), relations[0].relation_id)
    for url in (f"{base}/relations/{some}", f"{base}/lists", f"{base}/activity"):
        assert (await gateway.get(url, headers=user)).status_code == 404, url
    assert (
        await gateway.get(f"{base}/search", params={"q": "zq"}, headers=user)
    ).status_code == 404


async def _cards(probe: Probe, relations: list[Rel], mine: list[ViewCase]) -> None:
    """Cards of members show only the form and granted views; others are 404 naming nothing."""
    for rel in relations:
        card = await probe.get(f"/relations/{rel.relation_id}")
        if rel.relation_id in probe.case.members:
            probe.check(f"card {rel.relation_id} in {probe.case.view_id}", card)
            assert {v["view_id"] for v in card.json()["other_views"]} <= {c.view_id for c in mine}
        else:
            assert card.status_code == 404, card.text
            # the 404 names only the id that was asked for
            probe.problems.extend(probe.scanner.leaks(card.text, {rel.relation_id}, frozenset()))


async def _searches(probe: Probe, sampled: list[Rel]) -> None:
    """Searching for any marker finds nothing outside the view and its form."""
    for rel in sampled:
        for values in rel.markers.values():
            for value in values:
                hits = await probe.get("/search", q=value, limit=20)
                probe.check(f"search {value!r} in {probe.case.view_id}", hits)


async def _hidden_names(probe: Probe, relations: list[Rel]) -> None:
    """A member is not found through a name its view's form hides."""
    for rel in [r for r in relations if r.relation_id in probe.case.members][:6]:
        query = _hidden_name_probe(rel, probe.case.form)
        if query is None:
            continue
        hits = await probe.get("/search", q=query, limit=20)
        probe.check(f"search {query!r} in {probe.case.view_id}", hits)
        if rel.relation_id in hits.text:
            probe.problems.append(f"{query!r} finds {rel.relation_id} through a hidden name")


async def _list_pages(probe: Probe) -> None:
    """The members of the view's lists, first and (through the opaque cursor) second page."""
    for ref in probe.case.view["lists"]:
        path = f"/lists/{ref['list_id']}/members"
        page = await probe.get(path, limit=3)
        probe.check(f"members of {ref['list_id']}", page)
        if page.json().get("next"):
            more = await probe.get(path, limit=3, cursor=page.json()["next"])
            probe.check(f"members of {ref['list_id']}, page 2", more)


async def _evaluation_and_feed(probe: Probe) -> None:
    """Ad-hoc evaluation and the activity feed; the feed names only fields of the form."""
    evaluated = await probe.gateway.post(
        f"{probe.base}/evaluate",
        json={"filter": {"kind": "field", "field": "relation_type", "op": "not_empty"}},
        headers=probe.user,
    )
    probe.check(f"evaluate in {probe.case.view_id}", evaluated)
    feed = await probe.get("/activity", limit=200)
    probe.check(f"activity of {probe.case.view_id}", feed)
    for item in feed.json():
        assert set(item["changed_fields"]) <= probe.case.form, item


async def _recent_items(
    gateway: httpx.AsyncClient,
    scanner: Scanner,
    user: dict[str, str],
    mine: list[ViewCase],
    problems: list[str],
) -> None:
    """The dashboard's recent items stay within the views the user was granted."""
    recent = await gateway.get("/dashboard/recent", headers=user)
    assert recent.status_code == 200
    by_view = {c.view_id: c for c in mine}
    for item in recent.json():
        case = by_view[item["view_id"]]
        problems.extend(scanner.leaks(str(item), case.members, case.form))
        if item["kind"] == "relation":
            assert item["id"] in case.members, item


@pytest.mark.parametrize("seed", SEEDS)
async def test_nothing_outside_views_and_forms_leaves_the_gateway(
    seed: int,
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    cm_api: httpx.AsyncClient,
    search_api: httpx.AsyncClient,
):
    rng = random.Random(seed)
    relations, cases, users, granted = await _seed(rng, gateway, admin, relations_api, cm_api)
    m = Markers(rng, "ed")
    for rel in rng.sample(relations, 4):
        actor = rng.choice(
            [
                {"X-Actor-Kind": "user", "X-Actor-Id": str(uuid.uuid4())},
                {"X-Actor-Kind": "relation", "X-Actor-Id": rel.relation_id},
            ]
        )
        await _edit(relations_api, rel, actor, m.word())
    await _settle(relations, cases, lists_api, search_api)
    scanner = Scanner(relations)
    problems: list[str] = []
    for user in users:
        mine = granted[user["X-User-Id"]]
        for case in cases:
            if case not in mine:
                await _refused_outside_grant(gateway, user, case, relations)
                continue
            probe = Probe(gateway, scanner, user, case, problems)
            await _cards(probe, relations, mine)
            await _searches(probe, rng.sample(relations, 6))
            await _hidden_names(probe, relations)
            await _list_pages(probe)
            await _evaluation_and_feed(probe)
        await _recent_items(gateway, scanner, user, mine, problems)
    assert not problems, "\n".join(problems[:30])


async def test_filters_on_hidden_data_or_other_views_lists_are_refused(
    gateway: httpx.AsyncClient, admin: Admin
):
    narrow = await admin.view(
        "Narrow",
        {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"},
        [{"name": "Person", "fields": ["last_name", "lists"]}],
    )
    other = await admin.view(
        "Other",
        {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"},
        [{"name": "Org", "fields": ["organisation_name"]}],
    )
    staff = await admin.user("filterer")
    await admin.grant(staff, narrow, can_edit=True)
    for node in (
        {"kind": "field", "field": "email", "op": "contains", "value": "@"},
        {"kind": "field", "field": "custom.secret", "op": "equals", "value": "x"},
        {"kind": "in_list", "list_id": other["lists"][0]["list_id"]},
        {"not": {"kind": "contact"}},
    ):
        for route, body in (
            ("evaluate", {"filter": node}),
            ("lists", {"name": "x", "filter": node}),
        ):
            response = await gateway.post(
                f"/views/{narrow['view_id']}/{route}", json=body, headers=staff
            )
            assert response.status_code == 422, (node, response.text)
    allowed = await gateway.post(
        f"/views/{narrow['view_id']}/evaluate",
        json={"filter": {"kind": "in_list", "list_id": narrow["lists"][0]["list_id"]}},
        headers=staff,
    )
    assert allowed.status_code == 200, allowed.text


def _token(secret: str, minutes: int, **claims: Any) -> str:
    body = {
        "sub": str(uuid.uuid4()),
        "name": "x",
        "role": "admin",
        "exp": datetime.now(UTC) + timedelta(minutes=minutes),
        **claims,
    }
    return jwt.encode(body, secret, algorithm="HS256")


async def test_bad_tokens_get_401_on_every_route_family(
    gateway: httpx.AsyncClient, admin: Admin, gateway_settings
):
    secret = gateway_settings.jwt_secret.get_secret_value()
    view = await admin.view(
        "Tokens",
        {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"},
        [{"name": "Person", "fields": ["last_name"]}],
    )
    v, r, some = view["view_id"], str(uuid.uuid4()), view["lists"][0]["list_id"]
    relation_type = {"kind": "field", "field": "relation_type", "op": "not_empty"}
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/views", None),
        ("GET", f"/views/{v}/relations/{r}", None),
        ("PATCH", f"/views/{v}/relations/{r}", {"fields": {"last_name": "X"}}),
        ("GET", f"/views/{v}/search?q=berg", None),
        ("GET", f"/views/{v}/lists", None),
        ("POST", f"/views/{v}/lists", {"name": "x", "filter": relation_type}),
        ("GET", f"/views/{v}/lists/{some}/members", None),
        ("POST", f"/views/{v}/evaluate", {"filter": relation_type}),
        ("GET", f"/views/{v}/activity", None),
        ("POST", f"/views/{v}/relations/{r}/archive", None),
        ("POST", f"/views/{v}/relations/{r}/unarchive", None),
        ("POST", f"/views/{v}/relations/{r}/erasure", None),
        ("GET", f"/views/{v}/merges/preview?survivor_id={r}&merged_id={uuid.uuid4()}", None),
        ("POST", f"/views/{v}/merges", {"survivor_id": r, "merged_id": str(uuid.uuid4())}),
        ("POST", f"/views/{v}/merges/{uuid.uuid4()}/undo", None),
        ("GET", f"/views/{v}/relations/{r}/functions", None),
        ("PATCH", f"/views/{v}/functions/{uuid.uuid4()}", {"end_date": "2026-01-01"}),
        ("DELETE", f"/views/{v}/functions/{uuid.uuid4()}", None),
        ("GET", "/roles/functions", None),
        ("GET", "/dashboard/recent", None),
        (
            "POST",
            "/users",
            {"username": "x", "display_name": "x", "password": "p" * 12, "role": "staff"},
        ),
        ("POST", f"/users/{uuid.uuid4()}/api-keys", {"name": "x"}),
        ("POST", "/admin/views", {"name": "x", "base_filter": relation_type, "form": {"tabs": []}}),
        ("PUT", f"/admin/views/{v}/grants", {"user_id": str(uuid.uuid4())}),
        ("POST", "/admin/custom-fields", {"key": "x", "label": "x", "type": "text"}),
    ]
    valid = _token(secret, 5)
    header, payload, signature = valid.split(".")
    bad_credentials = {
        "none": {},
        "expired": {"Authorization": f"Bearer {_token(secret, -1)}"},
        "forged": {"Authorization": f"Bearer {_token('not-the-secret-but-long-enough-32', 5)}"},
        "tampered": {"Authorization": f"Bearer {header}.{payload}x.{signature}"},
        "alg none": {
            "Authorization": "Bearer "
            + jwt.encode({"sub": str(uuid.uuid4()), "name": "x", "role": "admin"}, None, "none")
        },
        "garbage": {"Authorization": "Bearer not-a-token"},
        "bad api key": {"X-API-Key": "rk_" + "x" * 40},
    }
    for method, url, body in routes:
        for why, headers in bad_credentials.items():
            response = await gateway.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, url, why, response.text)
    ok = await gateway.get(f"/views/{v}/lists", headers=admin.headers)
    assert ok.status_code == 200


async def test_internal_services_refuse_calls_without_the_internal_token(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    cm_api: httpx.AsyncClient,
    search_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
):
    r = uuid.uuid4()
    calls = {
        relations_api: ("GET", f"/relations/{r}"),
        lists_api: ("GET", "/lists"),
        cm_api: ("GET", f"/relations/{r}/contact-moments"),
        search_api: ("GET", "/search?q=berg&views=" + str(uuid.uuid4())),
        selections_api: ("GET", "/selections"),
    }
    for client, (method, url) in calls.items():
        headers = {"X-Actor-Kind": "user", "X-Actor-Id": "u1"}
        bare = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
        async with bare:
            missing = await bare.request(method, url, headers=headers)
            assert missing.status_code == 401, (client.base_url, missing.text)
            wrong = await bare.request(
                method, url, headers={**headers, "X-Internal-Token": "wrong-token"}
            )
            assert wrong.status_code == 403, (client.base_url, wrong.text)
            right = await bare.request(method, url, headers={**headers, **INTERNAL})
            assert right.status_code in (200, 404), (client.base_url, right.text)

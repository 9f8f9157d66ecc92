"""The lists API: definitions, validation, browsing, history, re-evaluation, membership events."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from relata_common.db import create_engine, create_sessionmaker
from relata_common.filters import months_before
from relata_lists import clock, consumers
from relata_lists.settings import ListsSettings
from tests.helpers import eventually
from tests.lists.support import (
    Scope,
    field,
    known,
    matching,
    membership_events,
    new_list,
    period,
)
from tests.relations.fixtures import create, person


def ids(*relations: dict[str, Any]) -> set[str]:
    return {r["relation_id"] for r in relations}


def city(name: str) -> dict[str, Any]:
    return {"all": [field("city", "equals", name)]}


async def patch(relations_api: httpx.AsyncClient, relation: dict[str, Any], fields: dict) -> dict:
    response = await relations_api.patch(
        f"/relations/{relation['relation_id']}",
        json={"fields": fields},
        headers={"If-Match": f'"{relation["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_definition_crud_with_etags(lists_api: httpx.AsyncClient):
    created = await lists_api.post(
        "/lists", json={"name": "Utrecht", "view_id": "members", "filter": city("Utrecht")}
    )
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    list_id = created.json()["list_id"]
    assert created.headers["Location"] == f"/lists/{list_id}"
    got = await lists_api.get(f"/lists/{list_id}")
    assert got.headers["ETag"] == '"1"'
    assert got.json()["filter"] == city("Utrecht")
    await new_list(lists_api, city("Zeist"), "Zeist")
    in_view = (await lists_api.get("/lists", params={"view_id": "members"})).json()
    assert [item["list_id"] for item in in_view] == [list_id]
    assert len((await lists_api.get("/lists")).json()) == 2

    body = {"name": "Amsterdam", "view_id": "members", "filter": city("Amsterdam")}
    unconditional = await lists_api.put(f"/lists/{list_id}", json=body)
    assert unconditional.status_code == 428
    changed = await lists_api.put(f"/lists/{list_id}", json=body, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["name"] == "Amsterdam"
    stale = await lists_api.put(f"/lists/{list_id}", json=body, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (
        await lists_api.put(f"/lists/{uuid.uuid4()}", json=body, headers={"If-Match": '"1"'})
    ).status_code == 404

    assert (await lists_api.delete(f"/lists/{list_id}")).status_code == 204
    assert (await lists_api.get(f"/lists/{list_id}")).status_code == 404
    assert (await lists_api.delete(f"/lists/{list_id}")).status_code == 404


async def refused(lists_api: httpx.AsyncClient, node: Any) -> list[dict[str, Any]]:
    """The 422 errors for a filter, both when saved as a list and when evaluated ad hoc."""
    saved = await lists_api.post("/lists", json={"name": "bad", "filter": node})
    assert saved.status_code == 422, saved.text
    evaluated = await lists_api.post("/evaluate", json={"filter": node})
    assert evaluated.status_code == 422, evaluated.text
    return saved.json()["detail"]


async def test_bad_filters_are_refused_with_the_path_of_the_bad_node(lists_api: httpx.AsyncClient):
    base = ["body", "filter"]
    unknown = await refused(
        lists_api, {"all": [field("city", "equals", "X"), field("shoe_size", "equals", 42)]}
    )
    assert unknown[0]["loc"] == [*base, "all", 1, "field"]
    assert "shoe_size" in unknown[0]["msg"]

    wrong_op = await refused(lists_api, {"any": [{"not": field("birth_date", "contains", "19")}]})
    assert wrong_op[0]["loc"] == [*base, "any", 0, "not", "op"]
    assert "date" in wrong_op[0]["msg"]

    bad_value = await refused(lists_api, {"all": [field("birth_date", "equals", "yesterday")]})
    assert bad_value[0]["loc"] == [*base, "all", 0, "value"]
    between = await refused(lists_api, field("relation_number", "between", [1]))
    assert between[0]["loc"] == [*base, "value"]
    period_value = await refused(lists_api, field("birth_date", "within_last", {"amount": 3}))
    assert period_value[0]["loc"] == [*base, "value"]
    choice = await refused(lists_api, field("gender", "equals", "robot"))
    assert "female" in choice[0]["msg"]

    missing_list = str(uuid.uuid4())
    no_list = await refused(lists_api, {"all": [{"kind": "in_list", "list_id": missing_list}]})
    assert no_list[0]["loc"] == [*base, "all", 0, "list_id"]
    no_org_list = await refused(lists_api, {"kind": "function", "at_list": missing_list})
    assert no_org_list[0]["loc"] == [*base, "at_list"]

    no_threshold = await refused(lists_api, {"kind": "donations"})
    assert no_threshold[0]["loc"] == base
    shape = await refused(
        lists_api, {"all": [{"kind": "contact", "within_last": {"amount": 1, "unit": "eons"}}]}
    )
    assert shape[0]["loc"][:4] == [*base, "all", 0]
    assert "unit" in shape[0]["loc"]
    assert (await refused(lists_api, {"kind": "telepathy"}))[0]["loc"][:2] == base

    deep: dict[str, Any] = field("city", "equals", "X")
    for _ in range(12):
        deep = {"not": deep}
    assert (await lists_api.post("/evaluate", json={"filter": deep})).status_code == 200
    deep = {"not": deep}
    assert "nests at most 12" in (await refused(lists_api, deep))[0]["msg"]
    wide = {"any": [field("city", "equals", str(i)) for i in range(200)]}
    assert "at most 200 nodes" in (await refused(lists_api, wide))[0]["msg"]


async def test_cycles_and_deleting_a_referenced_list_are_refused(lists_api: httpx.AsyncClient):
    a = await new_list(lists_api, city("Utrecht"), "A")
    b = await new_list(lists_api, {"kind": "in_list", "list_id": a}, "B")
    c = await new_list(lists_api, {"kind": "function", "at_list": b}, "C")
    cycle = await lists_api.put(
        f"/lists/{a}",
        json={"name": "A", "filter": {"any": [city("Utrecht"), {"kind": "in_list", "list_id": c}]}},
        headers={"If-Match": '"1"'},
    )
    assert cycle.status_code == 422, cycle.text
    assert "cycle" in cycle.json()["detail"][0]["msg"]
    itself = await lists_api.put(
        f"/lists/{a}",
        json={"name": "A", "filter": {"kind": "in_list", "list_id": a}},
        headers={"If-Match": '"1"'},
    )
    assert itself.status_code == 422
    assert (await lists_api.get(f"/lists/{a}")).json()["version"] == 1

    referenced = await lists_api.delete(f"/lists/{a}")
    assert referenced.status_code == 409
    assert referenced.json()["referring_lists"] == [b]
    assert (await lists_api.delete(f"/lists/{c}")).status_code == 204
    assert (await lists_api.delete(f"/lists/{b}")).status_code == 204
    assert (await lists_api.delete(f"/lists/{a}")).status_code == 204


async def test_field_catalogue_includes_custom_fields(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient
):
    for definition in (
        {"key": "tier", "label": "Tier", "type": "choice", "choices": ["gold", "silver"]},
        {"key": "member_since", "label": "Member since", "type": "date"},
    ):
        assert (await relations_api.post("/custom-fields", json=definition)).status_code == 201
    catalogue = (await lists_api.get("/fields")).json()
    assert catalogue["custom_fields_available"] is True
    fields = {f["name"]: f for f in catalogue["fields"]}
    assert {"city", "email", "birth_date", "created_at", "gender"} <= set(fields)
    assert fields["city"]["operators"] == [
        "equals",
        "not_equals",
        "contains",
        "starts_with",
        "in",
        "empty",
        "not_empty",
    ]
    assert "more_than_ago" in fields["birth_date"]["operators"]
    assert fields["custom.tier"] == {
        "name": "custom.tier",
        "label": "Tier",
        "type": "choice",
        "operators": ["equals", "not_equals", "in", "empty", "not_empty"],
        "choices": ["gold", "silver"],
    }
    assert "within_last" in fields["custom.member_since"]["operators"]
    assert {"function", "contact", "donations", "registration", "in_list"} == set(
        catalogue["criteria"]
    )
    bad_choice = await refused(lists_api, field("custom.tier", "equals", "bronze"))
    assert bad_choice[0]["loc"] == ["body", "filter", "value"]
    bad_op = await refused(lists_api, field("custom.member_since", "contains", "20"))
    assert bad_op[0]["loc"] == ["body", "filter", "op"]


async def import_people(relations_api: httpx.AsyncClient, town: str, count: int) -> None:
    rows = [
        {
            "external_id": f"{town}-{i}",
            "relation_type": "person",
            "fields": {"last_name": f"Person {i:03d}", "addresses": [{"city": town}]},
        }
        for i in range(count)
    ]
    body = b"\n".join(orjson.dumps(row) for row in rows)
    response = await relations_api.post(
        "/relations/import", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == count, response.text


async def test_too_large_lists_give_their_count_and_paging_follows_the_cursor(
    relations_api: httpx.AsyncClient, live_lists: httpx.AsyncClient
):
    big, small = f"Big{uuid.uuid4().hex[:6]}", f"Small{uuid.uuid4().hex[:6]}"
    await import_people(relations_api, big, 51)
    await import_people(relations_api, small, 5)

    async def all_there() -> bool:
        counts = [
            (await live_lists.post("/evaluate", json={"filter": city(town)})).json()["count"]
            for town in (big, small)
        ]
        return counts == [51, 5]

    await eventually(all_there)
    page = (await live_lists.post("/evaluate", json={"filter": city(big)})).json()
    assert page["too_large"] is True
    assert page["count"] == 51
    assert page["relations"] == []
    assert "narrow" in page["hint"]
    big_list = await new_list(live_lists, city(big), "Big")
    members = (await live_lists.get(f"/lists/{big_list}/members")).json()
    assert (members["count"], members["too_large"], members["relations"]) == (51, True, [])

    small_list = await new_list(live_lists, city(small), "Small")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await live_lists.get(f"/lists/{small_list}/members", params=params)).json()
        assert page["count"] == 5 and not page["too_large"]
        seen += [r["display_name"] for r in page["relations"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"Person {i:03d}" for i in range(5)]
    adhoc = (
        await live_lists.post("/evaluate", params={"limit": 3}, json={"filter": city(small)})
    ).json()
    assert [r["display_name"] for r in adhoc["relations"]] == seen[:3]
    rest = (
        await live_lists.post(
            "/evaluate", params={"limit": 3, "cursor": adhoc["next"]}, json={"filter": city(small)}
        )
    ).json()
    assert [r["display_name"] for r in rest["relations"]] == seen[3:]


async def test_lists_of_a_relation_history_members_at_and_events(
    relations_api: httpx.AsyncClient, live_lists: httpx.AsyncClient, kafka_bootstrap: str
):
    jan = await create(relations_api, person("Berg", addresses=[{"city": "Utrecht"}]))
    piet = await create(relations_api, person("Jansen", addresses=[{"city": "Amsterdam"}]))
    await known(live_lists, jan, piet)
    scope = Scope(live_lists, ids(jan, piet))
    utrecht = await new_list(live_lists, city("Utrecht"), "Utrecht")
    named = await new_list(live_lists, field("last_name", "starts_with", "Ber"), "Ber")
    await scope.wait(utrecht, ids(jan))
    lists_of_jan = (await live_lists.get(f"/relations/{jan['relation_id']}/lists")).json()
    assert {item["list_id"] for item in lists_of_jan} == {utrecht, named}
    assert (await live_lists.get(f"/relations/{piet['relation_id']}/lists")).json() == []
    # Many at once answer what one at a time does, a relation in no list (or unknown) included.
    unknown = str(uuid.uuid4())
    looked_up = await live_lists.post(
        "/relations/lists/lookup", json={"ids": [jan["relation_id"], piet["relation_id"], unknown]}
    )
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.json() == {
        jan["relation_id"]: lists_of_jan,
        piet["relation_id"]: [],
        unknown: [],
    }
    too_many = await live_lists.post("/relations/lists/lookup", json={"ids": [unknown] * 1001})
    assert too_many.status_code == 422

    before = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await patch(relations_api, jan, {"addresses": [{"city": "Zeist"}]})
    await patch(relations_api, piet, {"addresses": [{"city": "Utrecht"}]})
    await scope.wait(utrecht, ids(piet))
    at = await live_lists.get(f"/lists/{utrecht}/members-at", params={"at": before.isoformat()})
    assert set(at.json()) & scope.mine == ids(jan)
    now = await live_lists.get(
        f"/lists/{utrecht}/members-at", params={"at": datetime.now(UTC).isoformat()}
    )
    assert set(now.json()) & scope.mine == ids(piet)

    history = (
        await live_lists.get(f"/lists/{utrecht}/members/{jan['relation_id']}/history")
    ).json()
    assert [h["change"] for h in history] == ["left", "entered"]
    # A list that does not exist has no history, rather than an empty one.
    nowhere = uuid.uuid4()
    for path in (
        f"/lists/{nowhere}/members/{jan['relation_id']}/history",
        f"/lists/{nowhere}/members-at",
    ):
        missing = await live_lists.get(path, params={"at": before.isoformat()})
        assert missing.status_code == 404, (path, missing.text)
    left, entered = history
    assert left["cause"]["event_type"] == "relation.updated"
    assert left["cause"]["event_id"] is not None
    assert left["cause"]["criteria"] == ["city equals 'Utrecht'"]
    assert entered["cause"]["event_type"] == "list.defined"
    assert entered["cause"]["criteria"] == ["city equals 'Utrecht'"]

    events = await membership_events(kafka_bootstrap, ids(jan, piet), at_least=4)
    about_utrecht = Counter(
        (e.type, e.subject_id) for e in events if e.payload["list_id"] == utrecht
    )
    assert about_utrecht == {
        ("membership.entered", jan["relation_id"]): 1,
        ("membership.left", jan["relation_id"]): 1,
        ("membership.entered", piet["relation_id"]): 1,
    }
    left_event = next(e for e in events if e.type == "membership.left")
    assert left_event.payload["cause"]["event_id"] == left["cause"]["event_id"]


async def test_changing_a_definition_publishes_the_difference(
    relations_api: httpx.AsyncClient, live_lists: httpx.AsyncClient, kafka_bootstrap: str
):
    a = await create(relations_api, person("A", addresses=[{"city": "Utrecht"}]))
    b = await create(relations_api, person("B", addresses=[{"city": "Amsterdam"}]))
    c = await create(
        relations_api, person("C", addresses=[{"city": "Utrecht"}, {"city": "Amsterdam"}])
    )
    await known(live_lists, a, b, c)
    scope = Scope(live_lists, ids(a, b, c))
    list_id = await new_list(live_lists, city("Utrecht"), "Moving")
    await scope.wait(list_id, ids(a, c))
    changed = await live_lists.put(
        f"/lists/{list_id}",
        json={"name": "Moving", "filter": city("Amsterdam")},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200
    await scope.wait(list_id, ids(b, c))
    events = await membership_events(kafka_bootstrap, ids(a, b, c), at_least=4)
    transitions = Counter((e.type, e.subject_id) for e in events if e.payload["list_id"] == list_id)
    assert transitions == {
        ("membership.entered", a["relation_id"]): 1,
        ("membership.entered", c["relation_id"]): 1,
        ("membership.left", a["relation_id"]): 1,
        ("membership.entered", b["relation_id"]): 1,
    }
    change = next(e for e in events if e.type == "membership.left")
    assert change.payload["cause"]["event_type"] == "list.changed"

    deleted = await live_lists.delete(f"/lists/{list_id}")
    assert deleted.status_code == 204
    events = await membership_events(kafka_bootstrap, ids(a, b, c), at_least=6)
    gone = [e for e in events if e.payload["list_id"] == list_id and e.type == "membership.left"]
    assert {e.subject_id for e in gone} == ids(a, b, c)


@pytest.fixture
async def lists_sessions(lists_settings: ListsSettings):
    engine = create_engine(lists_settings.database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_relative_lists_are_re_evaluated_daily_and_on_demand(
    relations_api: httpx.AsyncClient,
    live_lists: httpx.AsyncClient,
    lists_sessions: Any,
    monkeypatch: pytest.MonkeyPatch,
):
    today = date.today()
    turning = months_before(today, 65 * 12) + timedelta(days=3)  # 65 in three days
    senior = await create(relations_api, person("Oud", birth_date="1940-01-01"))
    nearly = await create(relations_api, person("Bijna", birth_date=turning.isoformat()))
    await known(live_lists, senior, nearly)
    scope = Scope(live_lists, ids(senior, nearly))
    over_65 = field("birth_date", "more_than_ago", period(65, "years"))
    list_id = await new_list(live_lists, over_65, "Over 65")
    assert (await live_lists.get(f"/lists/{list_id}")).json()["relative"] is True
    not_relative = await new_list(live_lists, {"not": {"kind": "in_list", "list_id": list_id}})
    assert (await live_lists.get(f"/lists/{not_relative}")).json()["relative"] is False
    await scope.wait(list_id, ids(senior))
    await scope.wait(not_relative, ids(nearly))

    # Four days on, the daily run (of any worker) takes the list in; the list reading it follows.
    monkeypatch.setattr(clock, "today", lambda: today + timedelta(days=4))
    while await consumers.evaluate_due_list(lists_sessions):
        pass
    assert await consumers.evaluate_due_list(lists_sessions) is False
    await scope.wait(list_id, ids(senior, nearly))
    await scope.wait(not_relative, set())
    history = (
        await live_lists.get(f"/lists/{list_id}/members/{nearly['relation_id']}/history")
    ).json()
    assert history[0]["cause"]["event_type"] == "schedule.daily"
    assert history[0]["cause"]["criteria"] == ["birth_date more than 65 years ago"]

    # Back in time, on demand.
    monkeypatch.setattr(clock, "today", lambda: today)
    evaluation = await live_lists.post(f"/lists/{list_id}/evaluation")
    assert evaluation.status_code == 200
    assert evaluation.json()["left"] >= 1
    await scope.wait(list_id, ids(senior))
    await scope.wait(not_relative, ids(nearly))
    assert await matching(live_lists, over_65) >= ids(senior)

"""The daily walkthrough, end to end on every service at once, seen only through the gateway:
log in, search a name, open the card, change the address, a colleague sees it under 'recently
edited', the relation enters the list 'Members in Utrecht' and the list shows it."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import Admin, log_in
from tests.helpers import eventually
from tests.relations.fixtures import create, person

MEMBERS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
IN_UTRECHT = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}
FORM = [
    {"name": "Person", "fields": ["first_name", "infix", "last_name", "emails"]},
    {"name": "Address", "fields": ["addresses"]},
    {"name": "Relations", "fields": ["lists", "contact_moments"]},
]


async def test_daily_walkthrough(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient
):
    # The functional administrator set up the view, its list and two colleagues.
    view = await admin.view("Members", MEMBERS, FORM)
    v = view["view_id"]
    saved = await gateway.post(
        f"/views/{v}/lists",
        json={"name": "Members in Utrecht", "filter": IN_UTRECHT},
        headers=admin.headers,
    )
    assert saved.status_code == 201, saved.text
    in_utrecht = saved.json()["list_id"]
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    # A member who lives in Amersfoort (registered earlier, by another module).
    jan = await create(
        relations_api,
        person(
            "Vries",
            first_name="Jan",
            infix="de",
            emails=[{"address": "jan@devries.example"}],
            addresses=[{"street": "Stationsplein", "house_number": "1", "city": "Amersfoort"}],
        ),
    )

    # 1. Anna logs in.
    headers = await log_in(gateway, "anna", "anna-password-1")
    mine = (await gateway.get("/views", headers=headers)).json()
    assert [item["name"] for item in mine] == ["Members"]
    assert [ref["name"] for ref in mine[0]["lists"]] == ["All relations", "Members in Utrecht"]

    # 2. She searches the name.
    async def found() -> list[dict]:
        response = await gateway.get(f"/views/{v}/search", params={"q": "vries"}, headers=headers)
        assert response.status_code == 200, response.text
        return [hit for hit in response.json() if hit["relation_id"] == jan["relation_id"]]

    async def is_found() -> bool:
        return bool(await found())

    await eventually(is_found, timeout=30)
    hit = (await found())[0]
    assert hit["display_name"] == "Jan de Vries" and hit["matched_field"] == "last_name"
    # Beside the name, what tells namesakes apart, as far as the form shows it (no number).
    assert (hit["city"], hit["email"]) == ("Amersfoort", "jan@devries.example")
    assert hit["relation_number"] is None

    # 3. She opens the card.
    url = f"/views/{v}/relations/{hit['relation_id']}"
    card = await gateway.get(url, headers=headers)
    assert card.status_code == 200, card.text
    assert card.json()["tabs"][1]["fields"]["addresses"][0]["city"] == "Amersfoort"
    assert [ref["name"] for ref in card.json()["lists"]] == ["All relations"]
    assert card.json()["unavailable"] == []

    # 4. She changes the address (If-Match with the card's ETag).
    moved = [{"street": "Oudegracht", "house_number": "12", "city": "Utrecht"}]
    changed = await gateway.patch(
        url,
        json={"fields": {"addresses": moved}},
        headers={**headers, "If-Match": card.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tabs"][1]["fields"]["addresses"][0]["city"] == "Utrecht"
    assert changed.headers["ETag"] != card.headers["ETag"]

    # 5. Her colleague sees it under 'recently edited'; she does not see her own change.
    async def bert_sees_it() -> bool:
        feed = (await gateway.get(f"/views/{v}/activity", headers=bert)).json()
        return bool(feed) and (
            feed[0]["relation_id"] == jan["relation_id"]
            and feed[0]["actor_id"] == anna["X-User-Id"]
            and "addresses" in feed[0]["changed_fields"]
        )

    await eventually(bert_sees_it, timeout=30)
    own = (await gateway.get(f"/views/{v}/activity", headers=headers)).json()
    assert all(item["actor_id"] != anna["X-User-Id"] for item in own)

    # 6. The relation enters 'Members in Utrecht', and the list shows it.
    async def list_shows_it() -> bool:
        page = await gateway.get(f"/views/{v}/lists/{in_utrecht}/members", headers=bert)
        assert page.status_code == 200, page.text
        rows = {row["relation_id"]: row for row in page.json()["relations"]}
        return rows.get(jan["relation_id"], {}).get("display_name") == "Jan de Vries"

    await eventually(list_shows_it, timeout=30)

    async def card_names_the_list() -> bool:
        names = [ref["name"] for ref in (await gateway.get(url, headers=bert)).json()["lists"]]
        return names == ["All relations", "Members in Utrecht"]

    await eventually(card_names_the_list, timeout=30)  # the cached lists part was dropped

    # The dashboard remembers what each of them looked at last.
    recent = (await gateway.get("/dashboard/recent", headers=bert)).json()
    assert [(item["kind"], item["id"]) for item in recent[:2]] == [
        ("relation", jan["relation_id"]),
        ("list", in_utrecht),
    ]
    assert recent[1]["label"] == "Members in Utrecht"
    recent = (await gateway.get("/dashboard/recent", headers=headers)).json()
    assert recent[0]["id"] == jan["relation_id"] and recent[0]["label"] == "Jan de Vries"

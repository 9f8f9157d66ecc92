"""CSV export of members with the fields asked for, read from the relations service."""

from __future__ import annotations

import csv
import io

import httpx
import orjson
import pytest

from tests.relations.fixtures import create, organisation, person
from tests.selections.conftest import city_filter, create_selection, town, wait_for_count

COMPANY = "Bakkerij \u2019t Stoepje\nB.V."  # a typographic apostrophe and a line break

DELFT = town("Delft")


@pytest.mark.usefixtures("lists_api")
async def test_export_chosen_fields_with_quoting_and_non_ascii(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    await relations_api.post(
        "/custom-fields", json={"key": "member_since", "label": "Member since", "type": "number"}
    )
    zoe = await create(
        relations_api,
        person(
            "Ñúñez-Øster",
            first_name="Zoë",
            infix="van der",
            emails=[{"address": "zoe@example.org"}],
            phones=[{"number": "+31 6 12345678"}],
            addresses=[{"street": "Straße", "city": "Den Haag", "postal_code": "2511 AA"}],
            custom={"member_since": 1998},
        ),
    )
    quoted = await create(relations_api, person('Berg, "de Jongere"', first_name="=HYPERLINK(1)"))
    company = await create(relations_api, organisation(COMPANY))
    selection = await create_selection(
        selections_api,
        "Export",
        {
            "kind": "manual",
            "relation_ids": [r["relation_id"] for r in (zoe, quoted, company)],
        },
    )
    sid = selection["selection_id"]

    fields = "relation_number,name,first_name,last_name,email,phone,street,city,custom.member_since"
    response = await selections_api.get(f"/selections/{sid}/export", params={"fields": fields})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == fields.split(",")
    by_number = {row[0]: row for row in rows[1:]}
    assert len(by_number) == 3
    assert by_number[str(zoe["relation_number"])] == [
        str(zoe["relation_number"]),
        "Zoë van der Ñúñez-Øster",
        "Zoë",
        "Ñúñez-Øster",
        "zoe@example.org",
        zoe["fields"]["phones"][0]["number"],
        "Straße",
        "Den Haag",
        "1998",
    ]
    assert by_number[str(quoted["relation_number"])][1:4] == [
        '\'=HYPERLINK(1) Berg, "de Jongere"',
        "'=HYPERLINK(1)",
        'Berg, "de Jongere"',
    ]
    assert '"Berg, ""de Jongere"""' in text  # RFC 4180 quoting
    assert by_number[str(company["relation_number"])][1] == COMPANY

    default = await selections_api.get(f"/selections/{sid}/export")
    assert default.text.splitlines()[0] == "relation_number,name,email"

    unknown = await selections_api.get(
        f"/selections/{sid}/export", params={"fields": "last_name,iban,shoe_size"}
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "fields"]
    assert "iban, shoe_size" in unknown.json()["detail"][0]["msg"]

    missing = await selections_api.get("/selections/00000000-0000-0000-0000-000000000000/export")
    assert missing.status_code == 404


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_export_of_many_members_comes_in_member_order(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    rows = 2_300  # three lookups of 1000
    body = b"\n".join(
        orjson.dumps(
            {
                "relation_type": "person",
                "external_id": f"exp-{i}",
                "fields": {"last_name": f"Lid {i}", "addresses": [{"city": DELFT}]},
            }
        )
        for i in range(rows)
    )
    imported = await relations_api.post(
        "/relations/import", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert imported.status_code == 200, imported.text
    await wait_for_count(lists_api, city_filter(DELFT), rows)
    selection = await create_selection(
        selections_api, DELFT, {"kind": "filter", "filter": city_filter(DELFT)}
    )
    response = await selections_api.get(
        f"/selections/{selection['selection_id']}/export",
        params={"fields": "relation_id,last_name,city"},
    )
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.text, newline="")))[1:]
    assert len(lines) == rows
    ids = [line[0] for line in lines]
    assert ids == sorted(ids)
    assert {line[2] for line in lines} == {DELFT}

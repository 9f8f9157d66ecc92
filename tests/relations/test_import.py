"""Bulk import (POST /relations/import) of NDJSON and CSV against a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from tests.relations.db import count, history_rows, outbox_events
from tests.relations.fixtures import create, person

NDJSON = "application/x-ndjson"
CSV = "text/csv"


def ndjson(*rows: dict[str, Any] | str) -> bytes:
    lines = [row if isinstance(row, str) else orjson.dumps(row).decode() for row in rows]
    return ("\n".join(lines) + "\n").encode()


def row(external_id: str, last_name: str = "Berg", **fields: Any) -> dict[str, Any]:
    return {
        "relation_type": "person",
        "external_id": external_id,
        "fields": {"last_name": last_name, **fields},
    }


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    """The body in small chunks, so lines and UTF-8 characters straddle chunk boundaries."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def import_body(
    client: httpx.AsyncClient, body: bytes, content_type: str = NDJSON, chunk: int | None = None
) -> dict[str, Any]:
    content: bytes | AsyncIterator[bytes] = body if chunk is None else pieces(body, chunk)
    response = await client.post(
        "/relations/import", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def by_external_id(client: httpx.AsyncClient, external_id: str) -> dict[str, Any]:
    found = (await client.get("/relations", params={"external_id": external_id})).json()
    assert len(found) == 1, found
    return found[0]


def invalid_by_line(report: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    return {entry["line"]: entry["errors"] for entry in report["invalid"]}


async def test_ndjson_keeps_valid_rows_and_reports_each_invalid_row_by_line(
    relations_api: httpx.AsyncClient,
):
    body = ndjson(
        row("m-1", "Ñúñez", first_name="Zoë", emails=[{"address": "zoe@example.org"}]),
        "",
        '{"relation_type": "person", "external_id": "m-x", ',
        "[1, 2]",
        {"relation_type": "person", "fields": {"last_name": "Nobody"}},
        row("m-4", emails=[{"address": "not-an-address"}]),
        {**row("m-5"), "colour": "red"},
        {
            "relation_type": "organisation",
            "external_id": "o-1",
            "fields": {"organisation_name": "Ærø Fietsen BV"},
        },
        {"relation_type": "animal", "external_id": "a-1", "fields": {}},
        {"relation_type": "person", "external_id": "  ", "fields": {"last_name": "Blank"}},
        {"relation_type": "organisation", "external_id": "o-2", "fields": {"last_name": "X"}},
    )
    report = await import_body(relations_api, body)
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert report["invalid_count"] == 8
    invalid = invalid_by_line(report)
    assert sorted(invalid) == [3, 4, 5, 6, 7, 9, 10, 11]
    assert invalid[3][0]["msg"].startswith("not valid JSON")
    assert invalid[4][0]["msg"] == "each line must be a JSON object"
    assert invalid[5] == [{"loc": ["external_id"], "msg": "required: imports match on external_id"}]
    assert [e["loc"] for e in invalid[6]] == [["fields", "emails", 0, "address"]]
    assert invalid[7] == [{"loc": ["colour"], "msg": "unknown key"}]
    assert invalid[9] == [{"loc": ["relation_type"], "msg": "must be person or organisation"}]
    assert [e["loc"] for e in invalid[10]] == [["external_id"]]
    assert {tuple(e["loc"]) for e in invalid[11]} == {
        ("fields", "last_name"),
        ("fields", "organisation_name"),
    }
    by_line = {entry["line"]: entry["external_id"] for entry in report["invalid"]}
    assert by_line[6] == "m-4" and by_line[5] is None

    zoe = await by_external_id(relations_api, "m-1")
    assert zoe["fields"] == {
        "first_name": "Zoë",
        "last_name": "Ñúñez",
        "emails": [{"type": "private", "address": "zoe@example.org"}],
    }
    organisation = await by_external_id(relations_api, "o-1")
    assert organisation["fields"] == {"organisation_name": "Ærø Fietsen BV"}
    for missing in ("m-4", "m-5", "a-1", "o-2"):
        assert (await relations_api.get("/relations", params={"external_id": missing})).json() == []


CSV_FILE = (
    "\ufeffrelation_type,external_id,first_name,infix,last_name,street,house_number,"
    "postal_code,city,phone,email\r\n"
    "person,c-1,Jan,van der,Berg,Oudegracht,1,3511ab,Utrecht,06 1234 5678,jan@example.org\r\n"
    'person,c-2,Chloë,,"Müller, Jr.","Achter de Dom\r\n(achterhuis)",2,3512 JN,Utrecht,,\r\n'
    "person,c-3,Too,Few\r\n"
    "\r\n"
    "person,c-4,Jan,,Berg,Oudegracht,1,3511ab,Utrecht,06 1234 5678,jan@example.org,extra\r\n"
    "person,,José,,García,,,,,,\r\n"
    'organisation,c-6,,,,"Stationsplein ""Oost""",9,1012 AB,Amsterdam,020-1234567,\r\n'
    "organisation,c-7,,,,,,,,,info@example.org\r\n"
    "person,c-8,Łukasz,,Wiśniewski,,,1234 SA,,,\r\n"
)


async def test_csv_with_bom_quoted_lines_and_non_ascii_names(relations_api: httpx.AsyncClient):
    report = await import_body(relations_api, CSV_FILE.encode(), CSV, chunk=7)
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    invalid = invalid_by_line(report)
    assert sorted(invalid) == [5, 7, 8, 9, 10, 11]
    assert invalid[5] == [{"loc": [], "msg": "4 values for 11 columns"}]
    assert invalid[7] == [{"loc": [], "msg": "12 values for 11 columns"}]
    assert invalid[8][0]["loc"] == ["external_id"]
    # line 9: an organisation needs its name (the CSV row has none)
    assert ["fields", "organisation_name"] in [e["loc"] for e in invalid[9]]
    assert ["fields", "organisation_name"] in [e["loc"] for e in invalid[10]]
    assert [e["loc"] for e in invalid[11]] == [["fields", "addresses", 0, "postal_code"]]

    jan = await by_external_id(relations_api, "c-1")
    assert jan["fields"] == {
        "first_name": "Jan",
        "infix": "van der",
        "last_name": "Berg",
        "addresses": [
            {
                "type": "home",
                "country": "NL",
                "street": "Oudegracht",
                "house_number": "1",
                "postal_code": "3511 AB",
                "city": "Utrecht",
            }
        ],
        "phones": [{"type": "mobile", "number": "+31612345678"}],
        "emails": [{"type": "private", "address": "jan@example.org"}],
    }
    chloe = await by_external_id(relations_api, "c-2")
    assert chloe["fields"]["first_name"] == "Chloë"
    assert chloe["fields"]["last_name"] == "Müller, Jr."
    assert chloe["fields"]["addresses"][0]["street"] == "Achter de Dom\n(achterhuis)"
    assert "infix" not in chloe["fields"] and "phones" not in chloe["fields"]


async def test_csv_header_only_and_unterminated_quote(relations_api: httpx.AsyncClient):
    header_only = await import_body(relations_api, b"relation_type,external_id,last_name\n", CSV)
    assert header_only == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "invalid_count": 0,
        "invalid": [],
    }
    body = b'relation_type,external_id,last_name\nperson,u-1,Berg\nperson,u-2,"Open\nstill open\n'
    report = await import_body(relations_api, body, CSV)
    assert report["created"] == 1
    assert report["invalid"] == [
        {
            "line": 3,
            "external_id": None,
            "errors": [{"loc": [], "msg": "unterminated quoted value"}],
        }
    ]


async def test_reimporting_the_same_file_changes_nothing(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    await relations_api.post(
        "/custom-fields",
        json={"key": "member_since", "label": "Member since", "type": "date"},
    )
    await relations_api.post(
        "/custom-fields", json={"key": "dues", "label": "Dues", "type": "money"}
    )
    body = (
        b"relation_type,external_id,first_name,last_name,birth_date,phone,country,"
        b"custom.member_since,custom.dues\n"
        b'person,r-1,Jan,Berg,1970-05-01,0612345678,nl,2001-02-03,"12,5"\n'
        b"person,r-2,Piet,Groot,,+31201234567,NL,,10\n"
        b"organisation,r-3,,,,,BE,,\n"
    )
    first = await import_body(relations_api, body, CSV)
    assert first["invalid"] and first["invalid"][0]["line"] == 4  # no organisation name
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    states = [await by_external_id(relations_api, f"r-{n}") for n in (1, 2)]
    assert states[0]["fields"]["custom"] == {
        "member_since": "2001-02-03",
        "dues": {"amount": "12.50", "currency": "EUR"},
    }
    events, changes = (
        await count(relations_db, "outbox"),
        await count(relations_db, "relation_changes"),
    )

    second = await import_body(relations_api, body, CSV)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 2)
    assert second["invalid_count"] == 1
    assert [await by_external_id(relations_api, f"r-{n}") for n in (1, 2)] == states
    assert await count(relations_db, "outbox") == events
    assert await count(relations_db, "relation_changes") == changes


async def test_a_changed_row_updates_the_relation(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    await import_body(relations_api, ndjson(row("m-1", first_name="Jan"), row("m-2")))
    report = await import_body(relations_api, ndjson(row("m-1", first_name="Johan"), row("m-2")))
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 1)
    johan = await by_external_id(relations_api, "m-1")
    assert johan["version"] == 2
    assert johan["fields"] == {"first_name": "Johan", "last_name": "Berg"}
    assert (await by_external_id(relations_api, "m-2"))["version"] == 1
    history = (await relations_api.get(f"/relations/{johan['relation_id']}/history")).json()
    assert [(h["version"], h["kind"]) for h in history] == [
        (2, "relation.updated"),
        (1, "relation.created"),
    ]
    assert history[0]["changes"] == [{"field": "first_name", "old": "Jan", "new": "Johan"}]
    updated = await outbox_events(relations_db, "relation.updated")
    assert len(updated) == 1
    key, event = updated[0]
    assert key == johan["relation_id"] and event.subject_version == 2
    assert event.payload["changed_fields"] == ["first_name"]
    assert event.payload["state"]["fields"] == johan["fields"]


async def test_rows_of_one_external_id_in_one_file(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    await import_body(relations_api, ndjson(row("m-1")))
    report = await import_body(
        relations_api,
        ndjson(
            row("m-1", first_name="Jan"),
            row("m-1", first_name="Johan"),
            row("n-1", first_name="Piet"),
            row("n-1", infix="de"),
            {
                "relation_type": "organisation",
                "external_id": "n-1",
                "fields": {"organisation_name": "Acme"},
            },
        ),
    )
    assert report["created"] == 1 and report["updated"] == 2
    assert [entry["line"] for entry in report["invalid"]] == [5]
    assert "never changes" in report["invalid"][0]["errors"][0]["msg"]
    m1 = await by_external_id(relations_api, "m-1")
    assert m1["version"] == 3 and m1["fields"]["first_name"] == "Johan"
    history = await history_rows(relations_db, m1["relation_id"])
    assert [h["version"] for h in history] == [1, 2, 3]
    n1 = await by_external_id(relations_api, "n-1")
    assert n1["relation_type"] == "person"
    assert n1["fields"] == {"first_name": "Piet", "infix": "de", "last_name": "Berg"}
    events = await outbox_events(relations_db)
    assert [e.subject_version for key, e in events if key == m1["relation_id"]] == [1, 2, 3]
    assert [e.subject_version for key, e in events if key == n1["relation_id"]] == [1]
    last = next(e for key, e in reversed(events) if key == m1["relation_id"])
    assert last.payload["state"]["version"] == 3
    assert last.payload["changed_fields"] == ["first_name"]


async def test_a_row_may_not_change_the_relation_type(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    await import_body(relations_api, ndjson(row("x-1", first_name="Jan")))
    before = await by_external_id(relations_api, "x-1")
    report = await import_body(
        relations_api,
        ndjson(
            row("x-2"),
            {
                "relation_type": "organisation",
                "external_id": "x-1",
                "fields": {"organisation_name": "Jan BV"},
            },
        ),
    )
    assert report["created"] == 1 and report["updated"] == 0
    assert report["invalid"] == [
        {
            "line": 2,
            "external_id": "x-1",
            "errors": [{"loc": ["relation_type"], "msg": "relation_type never changes"}],
        }
    ]
    assert await by_external_id(relations_api, "x-1") == before
    assert len(await history_rows(relations_db, before["relation_id"])) == 1


async def test_an_unsupported_content_type_is_415(relations_api: httpx.AsyncClient):
    body = ndjson(row("m-1"))
    for content_type in ("application/json", "text/plain", ""):
        response = await relations_api.post(
            "/relations/import", content=body, headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert response.json()["type"] == "unsupported_media_type"
    with_charset = await relations_api.post(
        "/relations/import", content=body, headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert with_charset.status_code == 200
    assert (await relations_api.get("/relations", params={"external_id": "m-1"})).json() == []


async def test_a_row_with_an_unknown_custom_field_is_refused(relations_api: httpx.AsyncClient):
    await relations_api.post(
        "/custom-fields",
        json={
            "key": "membership",
            "label": "Membership",
            "type": "choice",
            "choices": ["regular", "student"],
        },
    )
    body = (
        b"relation_type,external_id,last_name,custom.membership,custom.colour\n"
        b"person,k-1,Berg,student,\n"
        b"person,k-2,Groot,regular,red\n"
        b"person,k-3,Klein,gold,\n"
    )
    report = await import_body(relations_api, body, CSV)
    assert report["created"] == 1
    invalid = invalid_by_line(report)
    assert invalid[3] == [
        {
            "loc": ["fields", "custom", "colour"],
            "msg": "no such custom field",
            "type": "value_error",
        }
    ]
    assert invalid[4][0]["loc"] == ["fields", "custom", "membership"]
    assert (await by_external_id(relations_api, "k-1"))["fields"]["custom"] == {
        "membership": "student"
    }
    ndjson_report = await import_body(relations_api, ndjson(row("k-1", custom={"colour": "blue"})))
    assert ndjson_report["invalid"][0]["errors"][0]["loc"] == ["fields", "custom", "colour"]


async def test_an_import_of_several_chunks_creates_every_relation_once(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    total = 1200  # the test settings write chunks of 500 rows
    rows = [row(f"bulk-{n:04d}", f"Achternaam {n}", first_name="Émile") for n in range(total)]
    rows[700] = row("bulk-0700", "")  # one bad row in the middle chunk
    report = await import_body(relations_api, ndjson(*rows), chunk=4096)
    assert (report["created"], report["invalid_count"]) == (total - 1, 1)
    assert report["invalid"][0]["line"] == 701
    assert await count(relations_db, "relations") == total - 1

    per_relation = await relations_db.fetch(
        "SELECT r.id::text AS id, count(c.id) AS entries, min(c.kind) AS kind"
        " FROM relations r LEFT JOIN relation_changes c ON c.relation_id = r.id GROUP BY r.id"
    )
    assert {(row["entries"], row["kind"]) for row in per_relation} == {(1, "relation.created")}

    created = await outbox_events(relations_db, "relation.created")
    assert len(created) == total - 1 == len(await outbox_events(relations_db))
    assert {key for key, _ in created} == {row["id"] for row in per_relation}
    for key, event in created:
        assert event.subject_id == key and event.subject_version == 1
        assert event.actor.model_dump(mode="json") == {"kind": "user", "id": "u1"}
    sample_key, sample = created[999]
    state = (await relations_api.get(f"/relations/{sample_key}")).json()
    assert sample.payload["state"] == state
    assert sample.payload["changed_fields"] == ["first_name", "last_name"]
    assert state["external_id"] == "bulk-1000"


async def test_an_import_does_not_touch_relations_without_its_external_ids(
    relations_api: httpx.AsyncClient,
):
    manual = await create(relations_api, person("Berg"))
    report = await import_body(relations_api, ndjson(row("m-1")))
    assert report["created"] == 1
    after = (await relations_api.get(f"/relations/{manual['relation_id']}")).json()
    assert after == manual

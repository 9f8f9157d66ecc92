"""E-mail ingestion from mail-client add-ins, with the corpus under ``mail/``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.contactmoments.conftest import MAIL, Feed, post_mail, relation_changed

JUERGEN, ACME, MARIE, MARIE_TOO = (uuid.uuid4() for _ in range(4))

pytestmark = pytest.mark.usefixtures("relations")


@pytest.fixture
async def relations(feed: Feed) -> None:
    """Jürgen (person), Acme (organisation) and Marie, known from their relation events.

    Marie's address is on two relations (say, a duplicate not merged yet): both get the mail.
    """
    await feed(relation_changed(JUERGEN, 1, ["Juergen.Mueller@example.de"]))
    await feed(relation_changed(ACME, 1, ["info@acme.example"], relation_type="organisation"))
    await feed(relation_changed(MARIE, 1, ["marie@example.org"]))
    await feed(relation_changed(MARIE_TOO, 3, ["Marie@Example.org", "curie@example.org"]))


async def test_multipart_mail_with_attachments_and_encoded_headers(cm_api: httpx.AsyncClient):
    response = await post_mail(cm_api, "multipart_attachments.eml")
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    assert body["created"] is True
    assert body["unknown_addresses"] == ["nobody-known@elsewhere.example"]
    moment = body["contact_moment"]
    assert moment["kind"] == "email" and moment["source"] == "email"
    assert moment["direction"] == "in"  # the sender is a known relation
    assert moment["subject"] == "Jahresbericht für März and the nächste meeting"
    assert moment["occurred_at"] == "2025-03-04T13:30:00Z"
    assert moment["user_id"] == "u1"
    assert moment["notes"].startswith("Guten Tag,") and "für März" in moment["notes"]
    assert set(moment["relation_ids"]) == {str(r) for r in (JUERGEN, ACME, MARIE, MARIE_TOO)}
    email = moment["email"]
    assert email["message_id"] == "multipart-0001@mail.example.de"
    assert email["from"] == [{"name": "Jürgen Müller", "address": "juergen.mueller@example.de"}]
    assert email["cc"][0] == {"name": "Marie Curié", "address": "marie@example.org"}
    assert email["attachments"] == [
        {"filename": "report.pdf", "content_type": "application/pdf", "size": 53},
        {"filename": "Grüße März.bin", "content_type": "application/octet-stream", "size": 1024},
        {"filename": "lögo.png", "content_type": "image/png", "size": 8},
    ]
    fetched = await cm_api.get(f"/contact-moments/{moment['contact_moment_id']}")
    assert fetched.json() == moment
    timeline = await cm_api.get(f"/relations/{ACME}/contact-moments")
    assert [m["contact_moment_id"] for m in timeline.json()["items"]] == [
        moment["contact_moment_id"]
    ]


async def test_the_same_message_id_gives_the_same_moment(cm_api: httpx.AsyncClient):
    first = await post_mail(cm_api, "multipart_attachments.eml")
    assert first.status_code == 201
    again = await post_mail(cm_api, "multipart_attachments.eml")
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["contact_moment"] == first.json()["contact_moment"]
    assert again.json()["unknown_addresses"] == ["nobody-known@elsewhere.example"]
    # Another copy of the message (other headers, same Message-ID) is the same e-mail.
    variant = await post_mail(cm_api, "duplicate_of_multipart.eml")
    assert variant.status_code == 200
    assert (
        variant.json()["contact_moment"]["contact_moment_id"]
        == (first.json()["contact_moment"]["contact_moment_id"])
    )


async def test_concurrent_posts_of_one_message_make_one_moment(cm_api: httpx.AsyncClient):
    raw = (MAIL / "plain_outgoing.eml").read_bytes()
    responses = await asyncio.gather(*(post_mail(cm_api, raw) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["contact_moment"]["contact_moment_id"] for r in responses}) == 1


async def test_direction_follows_the_sender(cm_api: httpx.AsyncClient):
    outgoing = await post_mail(cm_api, "plain_outgoing.eml")
    assert outgoing.status_code == 201, outgoing.text
    moment = outgoing.json()["contact_moment"]
    assert moment["direction"] == "out"  # staff wrote to a relation
    # MARIE@EXAMPLE.ORG matches marie@example.org and Marie@Example.org: case is ignored.
    assert set(moment["relation_ids"]) == {str(MARIE), str(MARIE_TOO)}
    assert outgoing.json()["unknown_addresses"] == ["staff@our-association.example"]

    incoming = await post_mail(cm_api, "html_only_incoming.eml")
    assert incoming.status_code == 201, incoming.text
    moment = incoming.json()["contact_moment"]
    assert moment["direction"] == "in"
    assert moment["notes"] == "Hello,\nIs there & will there be parking?"  # text of the HTML


async def test_legacy_charsets_missing_date_and_forwarded_messages(cm_api: httpx.AsyncClient):
    latin1 = await post_mail(cm_api, "latin1_no_date.eml")
    assert latin1.status_code == 201, latin1.text
    moment = latin1.json()["contact_moment"]
    assert moment["subject"] == "Grüße" and moment["notes"] == "Schöne Grüße"
    assert moment["email"]["from"][0]["name"] == "Jürgen"
    # No Date header: the moment happened when it was ingested.
    occurred = datetime.fromisoformat(moment["occurred_at"])
    assert abs(occurred - datetime.now(UTC)) < timedelta(minutes=1)

    forwarded = await post_mail(cm_api, "forwarded.eml")
    assert forwarded.status_code == 201, forwarded.text
    email = forwarded.json()["contact_moment"]["email"]
    # The forwarded message is one attachment; its own attachment is not listed separately.
    assert [a["content_type"] for a in email["attachments"]] == ["message/rfc822"]
    assert email["attachments"][0]["size"] > 0
    assert forwarded.json()["contact_moment"]["direction"] == "out"


async def test_a_mail_without_known_relations_is_refused_listing_the_addresses(
    cm_api: httpx.AsyncClient,
):
    response = await post_mail(cm_api, "only_unknown_addresses.eml")
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "no_known_relation"
    assert body["unknown_addresses"] == [
        "stranger@elsewhere.example",
        "staff@our-association.example",
        "another-stranger@elsewhere.example",
    ]


@pytest.mark.parametrize(
    ("name", "problems"),
    [
        ("malformed_no_from.eml", {("body", "From"): "no From header"}),
        ("malformed_no_message_id.eml", {("body", "Message-ID"): "no Message-ID"}),
        ("malformed_unparsable_from.eml", {("body", "From"): "unparsable address"}),
        (
            "malformed_nothing_usable.eml",
            {("body", "From"): "holds no address", ("body", "Message-ID"): "no Message-ID"},
        ),
        ("not_a_message.txt", {("body", "message"): "not an RFC 822 message"}),
    ],
)
async def test_malformed_mail_is_refused_naming_the_problem(
    cm_api: httpx.AsyncClient, name: str, problems: dict
):
    response = await post_mail(cm_api, name)
    assert response.status_code == 422, response.text
    found = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert set(found) == set(problems)
    for loc, words in problems.items():
        assert words in found[loc]


async def test_what_is_not_a_mail_upload_is_refused(cm_api: httpx.AsyncClient):
    empty = await post_mail(cm_api, b"")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"][0]["msg"]
    binary = await post_mail(cm_api, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    assert binary.status_code == 422
    json_body = await cm_api.post("/contact-moments/email", json={"from": "marie@example.org"})
    assert json_body.status_code == 415
    assert "message/rfc822" in json_body.json()["detail"]


async def test_oversized_mail_is_refused_with_413(cm_api: httpx.AsyncClient):
    header = (MAIL / "plain_outgoing.eml").read_bytes()
    huge = header + b"x" * (10 * 1024 * 1024)
    declared = await post_mail(cm_api, huge)
    assert declared.status_code == 413
    assert declared.json()["type"] == "message_too_large"

    async def chunks():
        for _ in range(11):
            yield b"y" * (1024 * 1024)

    # Streamed without a Content-Length: refused once the limit is passed.
    streamed = await cm_api.post(
        "/contact-moments/email", content=chunks(), headers={"Content-Type": "message/rfc822"}
    )
    assert streamed.status_code == 413

"""Input no client should send is refused early, with an error that says what is wrong:
bodies over the limit (413), filter trees nested too deep (422), pages too large (422)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from relata_testing.workload import World

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LIMIT_BYTES = 1024 * 1024
CITY = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}


def _nested(depth: int, combinator: str = "not") -> dict[str, Any]:
    node: dict[str, Any] = CITY
    for _ in range(depth):
        node = {"not": node} if combinator == "not" else {combinator: [node]}
    return node


def _raw_nested(depth: int) -> bytes:
    """A filter body too deep to build as Python objects comfortably: written as text."""
    return b'{"filter": ' + b'{"not": ' * depth + json.dumps(CITY).encode() + b"}" * (depth + 1)


def _messages(response: httpx.Response) -> str:
    return json.dumps(response.json())


def test_oversized_body_is_refused_with_413(world: World) -> None:
    body = {"filter": {**CITY, "value": "x" * (LIMIT_BYTES + 10)}}
    response = httpx.post(
        f"{world.gateway}/views/{world.view_id}/evaluate",
        json=body,
        headers=world.staff,
        timeout=30,
    )
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "payload_too_large"
    assert str(LIMIT_BYTES) in response.json()["detail"]


def test_oversized_streamed_body_without_length_is_refused(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"filter": {"kind": "field", "field": "city", "op": "equals", "value": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}}'

    response = httpx.post(
        f"{world.gateway}/views/{world.view_id}/evaluate",
        content=chunks(),  # chunked: no Content-Length to refuse on up front
        headers={**world.staff, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413, response.text


@pytest.mark.parametrize("combinator", ["not", "all", "any"])
def test_filter_nested_too_deep_is_refused_with_422(world: World, combinator: str) -> None:
    response = httpx.post(
        f"{world.gateway}/views/{world.view_id}/evaluate",
        json={"filter": _nested(40, combinator)},
        headers=world.staff,
        timeout=30,
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"][:2] == ["body", "filter"], detail
    assert "nests at most" in detail[0]["msg"], detail


@pytest.mark.parametrize("depth", [900, 5000, 100_000])
def test_pathologically_deep_filter_is_a_4xx_not_a_crash(world: World, depth: int) -> None:
    response = httpx.post(
        f"{world.gateway}/views/{world.view_id}/evaluate",
        content=_raw_nested(depth),
        headers={**world.staff, "Content-Type": "application/json"},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, response.text
    assert "nest" in _messages(response) or "pars" in _messages(response)


def test_deep_filters_are_refused_when_saving_lists_and_views(world: World) -> None:
    saved = httpx.post(
        f"{world.gateway}/views/{world.view_id}/lists",
        json={"name": "Too deep", "filter": _nested(40)},
        headers=world.staff,
        timeout=30,
    )
    assert saved.status_code == 422, saved.text
    assert "nests at most" in _messages(saved)
    view = httpx.post(
        f"{world.gateway}/admin/views",
        json={
            "name": "Too deep",
            "base_filter": _nested(40),
            "form": {"tabs": [{"name": "Name", "fields": ["last_name"]}]},
        },
        headers=world.admin,
        timeout=30,
    )
    assert view.status_code == 422, view.text
    assert "nests at most" in _messages(view)


def test_a_filter_at_the_depth_limit_is_accepted(world: World) -> None:
    response = httpx.post(
        f"{world.gateway}/views/{world.view_id}/evaluate",
        json={"filter": _nested(10)},
        headers=world.staff,
        timeout=30,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/views/{view}/lists/{list}/members",
        "/views/{view}/search",
        "/views/{view}/activity",
    ],
)
@pytest.mark.parametrize("limit", [201, 1_000_000, -1, 0])
def test_page_sizes_outside_bounds_are_refused_with_422(
    world: World, path: str, limit: int
) -> None:
    url = world.gateway + path.format(view=world.view_id, list=world.list_ids[0])
    params: dict[str, str | int] = {"limit": limit}
    if path.endswith("search"):
        params["q"] = "test"
    response = httpx.get(url, params=params, headers=world.staff, timeout=30)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["query", "limit"], detail


def test_huge_page_size_on_evaluate_is_refused(world: World) -> None:
    response = httpx.post(
        f"{world.gateway}/views/{world.view_id}/evaluate",
        params={"limit": 10**9},
        json={"filter": CITY},
        headers=world.staff,
        timeout=30,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


# --- the kinds that once answered 5xx, refused as a class at the edge ---------------------------

NUL = "a\u0000b"


def _post(
    world: World, path: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(f"{world.gateway}{path}", json=body, headers=headers, timeout=30)


def _refused_at(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc, response.text


def test_a_nul_in_text_is_refused_naming_the_field(world: World) -> None:
    """At login, in a relation's name, in a contact moment's subject. Catches: the edge's
    check dropped (PostgreSQL refuses a NUL in text: a 500 before)."""
    _refused_at(
        _post(world, "/auth/token", {"username": NUL, "password": "x"}), ["body", "username"]
    )
    created = _post(
        world,
        f"/views/{world.view_id}/relations",
        {"relation_type": "person", "fields": {"last_name": NUL}},
        world.staff,
    )
    _refused_at(created, ["body", "fields", "last_name"])
    moment = {"kind": "phone", "direction": "in", "subject": NUL}
    logged = _post(
        world,
        f"/views/{world.view_id}/relations/{world.relation_ids[0]}/contact-moments",
        moment,
        world.staff,
    )
    _refused_at(logged, ["body", "subject"])


def test_non_finite_and_huge_numbers_are_refused(world: World) -> None:
    path = f"{world.gateway}/views/{world.view_id}/evaluate"
    number = {"kind": "field", "field": "relation_number", "op": "equals"}
    for raw, why in (
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("1e999", "finite"),
        (str(2**64), "64 bits"),
    ):
        body = json.dumps({"filter": {**number, "value": 0}}).replace("0}}", raw + "}}")
        response = httpx.post(
            path,
            content=body,
            headers={**world.staff, "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 422, (raw, response.text)
        assert why in response.json()["detail"][0]["msg"], response.text


def test_a_period_that_leaves_the_calendar_is_refused(world: World) -> None:
    """Catches: a period bounded by its number alone (10,000 years once reached year -8000)."""
    long_ago = {"kind": "donations", "within_last": {"amount": 9000, "unit": "years"}}
    response = _post(world, f"/views/{world.view_id}/evaluate", {"filter": long_ago}, world.staff)
    assert response.status_code == 422, response.text
    assert "200 years" in json.dumps(response.json())


def test_a_very_long_filter_value_is_refused_quickly(world: World) -> None:
    """Catches: an unbounded text value (100,000 characters kept the lists service busy past
    the gateway's timeout: a 503 or worse)."""
    huge = {"kind": "field", "field": "city", "op": "contains", "value": "x" * 100_000}
    response = _post(world, f"/views/{world.view_id}/evaluate", {"filter": huge}, world.staff)
    assert response.status_code == 422, response.text
    assert response.elapsed.total_seconds() < 2
    assert "1000 characters" in json.dumps(response.json())

"""Logging in and out through the gateway: a logout ends the login (its token can no longer
be refreshed), and failed logins are limited per username and per client address."""

from __future__ import annotations

import httpx
import pytest

from relata_gateway.settings import GatewaySettings
from tests.gateway.conftest import ADMIN_PASSWORD, log_in

pytestmark = pytest.mark.timeout(120)
PER_USER = 3
PER_ADDRESS = 5


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    """Small limits, so a test reaches them in a few requests."""
    return gateway_settings.model_copy(
        update={"login_failures_per_user": PER_USER, "login_failures_per_address": PER_ADDRESS}
    )


async def _attempt(gateway: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await gateway.post("/auth/token", json={"username": username, "password": password})


async def test_logging_out_ends_the_login(gateway: httpx.AsyncClient) -> None:
    """Catches: a logout that leaves the refresh working (the login kept alive for ever by
    refreshing a token taken before the logout)."""
    headers = await log_in(gateway, "admin", ADMIN_PASSWORD)
    refreshed = await gateway.post("/auth/refresh", headers=headers)
    assert refreshed.status_code == 200, refreshed.text
    newer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await gateway.post("/auth/logout", headers=newer)).status_code == 204
    for token in (headers, newer):  # both belong to the ended login
        again = await gateway.post("/auth/refresh", headers=token)
        assert again.status_code == 401 and "ended" in again.json()["detail"]
    other = await log_in(gateway, "admin", ADMIN_PASSWORD)  # a new login is a new session
    assert (await gateway.post("/auth/refresh", headers=other)).status_code == 200


async def test_failed_logins_are_limited_per_user(gateway: httpx.AsyncClient) -> None:
    """Catches: no limit (a password guesser tries for ever), a limit that a correct
    password passes (the guesser would learn when it guessed right), or one that counts
    successes."""
    for _ in range(2):
        await log_in(gateway, "admin", ADMIN_PASSWORD)  # successes do not count
    for _ in range(PER_USER):
        assert (await _attempt(gateway, "admin", "wrong")).status_code == 401
    refused = await _attempt(gateway, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert "this user" in refused.json()["detail"]
    # Another username from the same address is not locked out by admin's count.
    assert (await _attempt(gateway, "someone-else", "wrong")).status_code == 401


async def test_failed_logins_are_limited_per_address(gateway: httpx.AsyncClient) -> None:
    """Catches: a guesser trying one password on many usernames, never reaching a per-user
    limit, going on unlimited."""
    for n in range(PER_ADDRESS):
        assert (await _attempt(gateway, f"user-{n}", "wrong")).status_code == 401
    refused = await _attempt(gateway, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 429 and "this address" in refused.json()["detail"]

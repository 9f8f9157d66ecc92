"""Logins kept in Redis: the failed attempts that slow a password guesser down, and the login
sessions a refresh needs (logging out ends one).

Failures are counted per username and per client address in a fixed window: past the limit a
login is refused with 429 (and Retry-After) before the password is even checked, so a guesser
learns nothing more. A successful login clears its username's count.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from relata_common.errors import TooManyRequests

PREFIX = "relata:login"


@dataclass(frozen=True)
class Throttle:
    redis: Redis
    per_user: int
    per_address: int
    window_seconds: int

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return (
            f"{PREFIX}:failed:user:{username.casefold()}",
            f"{PREFIX}:failed:address:{address}",
        )

    async def check(self, username: str, address: str) -> None:
        """Refuse (429) when either count reached its limit in the current window."""
        user_key, address_key = self._keys(username, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            for command in (pipe.get, pipe.ttl):
                command(user_key)
                command(address_key)
            by_user, by_address, user_ttl, address_ttl = await pipe.execute()
        if int(by_user or 0) >= self.per_user:
            raise TooManyRequests(
                "too many failed logins for this user: try again later", _wait(user_ttl)
            )
        if int(by_address or 0) >= self.per_address:
            raise TooManyRequests(
                "too many failed logins from this address: try again later", _wait(address_ttl)
            )

    async def failed(self, username: str, address: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in self._keys(username, address):
                # The window starts at the first failure (NX): later ones do not stretch it.
                pipe.incr(key)
                pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()

    async def succeeded(self, username: str, address: str) -> None:
        await self.redis.delete(self._keys(username, address)[0])


def _wait(ttl: int) -> int:
    return max(int(ttl), 1)


@dataclass(frozen=True)
class LoginSessions:
    """One entry per login, alive for ``hours``; a refresh needs it, logging out removes it."""

    redis: Redis
    hours: int

    async def start(self, user_id: str) -> str:
        session_id = secrets.token_urlsafe(24)
        await self.redis.set(f"{PREFIX}:session:{session_id}", user_id, ex=self.hours * 3600)
        return session_id

    async def alive(self, session_id: str, user_id: str) -> bool:
        kept = await self.redis.get(f"{PREFIX}:session:{session_id}")
        return kept is not None and (kept.decode() if isinstance(kept, bytes) else kept) == user_id

    async def end(self, session_id: str) -> None:
        await self.redis.delete(f"{PREFIX}:session:{session_id}")

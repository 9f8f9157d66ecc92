"""Functional administration under ``/admin``: users and their API keys, roles and rights,
views with their forms and grants, custom fields. Every route needs the administration right
(the admin role has it) and, from an API key, the ``admin`` scope."""

from __future__ import annotations

from fastapi import APIRouter

from relata_gateway.routes.administration import definitions, roles, users, views

router = APIRouter()
for part in (users.router, roles.router, views.router, definitions.router):
    router.include_router(part)

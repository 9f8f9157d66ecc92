"""Bad input at the public API: schemathesis generates requests from the gateway's own OpenAPI
document, valid and invalid, against a real gateway in front of real services.

Every answer must be below 500 and match the document (a 422 has the validation-error shape);
invalid input must be refused with a 4xx. Path parameters are often the real view, list,
relation and user, so generated bodies reach the services and not only the 404s.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

from relata_gateway.app import create_api
from relata_testing.workload import World

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MAX_EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "25"))
"""Per operation and mode: 25 in CI (a few minutes); a recorded run sets
``CRM_SCHEMATHESIS_EXAMPLES=200``."""


def _without_security(document: dict[str, Any]) -> dict[str, Any]:
    """The document minus its security schemes: the test logs in as a real user itself (or
    sends nothing), so generated credentials would only ever be refused with 401."""
    document = copy.deepcopy(document)
    document.get("components", {}).pop("securitySchemes", None)
    document.pop("security", None)
    for methods in document["paths"].values():
        for operation in methods.values():
            operation.pop("security", None)
    return document


@schemathesis.serializer("message/rfc822")
def _raw_mail(_: schemathesis.SerializationContext, value: Any) -> bytes:
    """A generated e-mail goes on the wire as it is: bytes, or text as UTF-8 (surrogates
    included, as a careless client might send them)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


DOCUMENT = _without_security(create_api().openapi())
# Any 4xx is a refusal: an edit with a malformed If-Match is refused with 412 before its body
# is read, and that is as good a refusal as a 422.
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": ["4XX"]}}}
)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
OPERATIONS = [
    (method.upper(), path)
    for path, methods in DOCUMENT["paths"].items()
    for method in methods
    if path not in ("/health", "/ready")
]
CALLERS = ("admin", "staff", "staff", "nobody")


@dataclass
class Findings:
    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    unsendable: bool = False

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def _real_ids(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """Path parameters naming things that exist (or not: None keeps the generated value)."""
    return st.fixed_dictionaries(
        {
            "view_id": st.sampled_from([world.view_id, None]),
            "relation_id": st.sampled_from([*world.relation_ids[:3], None]),
            "list_id": st.sampled_from([*world.list_ids, None]),
            "user_id": st.sampled_from([world.staff_id, None]),
        }
    )


def _run_operation(
    world: World, method: str, path: str, mode: GenerationMode, findings: Findings
) -> None:
    operation = SCHEMA[path][method]
    streams = _is_stream(DOCUMENT["paths"][path][method.lower()])
    client = httpx.Client(base_url=world.gateway, timeout=30)
    checks = [not_a_server_error, response_schema_conformance]
    if mode is GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure reproduces
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode), caller=st.sampled_from(CALLERS), ids=_real_ids(world))
    def exercise(case: schemathesis.Case, caller: str, ids: dict[str, Any]) -> None:
        if mode is GenerationMode.POSITIVE and case.path_parameters:
            for name, value in ids.items():
                if value is not None and name in case.path_parameters:
                    case.path_parameters[name] = value
        kwargs = case.as_transport_kwargs(base_url=world.gateway)
        headers = {**kwargs.get("headers", {})}
        headers.update({"admin": world.admin, "staff": world.staff}.get(caller, {}))
        request = client.build_request(
            kwargs["method"],
            kwargs["url"],
            headers=headers,
            params=kwargs.get("params"),
            content=_content(kwargs),
        )
        try:
            response = client.send(request, stream=streams)
        except httpx.LocalProtocolError:
            assume(False)  # no HTTP client can send it (a header value h11 refuses)
            raise
        findings.count(response.status_code)
        if streams:  # an event stream never ends: its status and headers are the answer
            response.close()
            if response.status_code >= 500:
                findings.failures.append(f"{method} {path} [{caller}]: {response.status_code}")
            return
        response.read()
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # collect all: one run shows each bug
            findings.failures.append(f"{method} {path} [{mode.value}, {caller}]: {failure}")

    try:
        exercise()
    except Unsatisfiable:
        # Nothing of this kind can be sent at all (say, only header values h11 refuses).
        findings.unsendable = True
    finally:
        client.close()


def _is_stream(operation: dict[str, Any]) -> bool:
    ok = operation.get("responses", {}).get("200", {})
    return "text/event-stream" in ok.get("content", {})


def _content(kwargs: dict[str, Any]) -> bytes | None:
    if kwargs.get("json") is not None:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data") or kwargs.get("content")
    if isinstance(data, str):
        return data.encode()
    return data


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_never_fails_on_any_input(
    world: World, method: str, path: str, mode: GenerationMode
) -> None:
    findings = Findings()
    _run_operation(world, method, path, mode, findings)
    print(f"{method} {path} [{mode.value}]: statuses {dict(sorted(findings.statuses.items()))}")
    assert not findings.failures, "\n\n".join(findings.failures[:5])

"""The gateway documents itself: every operation with examples of what is sent and answered,
and with what a caller needs (rights, API-key scope), as the README's table says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from relata_gateway.app import create_api

ROOT = Path(__file__).resolve().parents[2]
UNDOCUMENTED = {("get", "/health"), ("get", "/ready"), ("get", "/views/{view_id}/live")}
"""Operations answering no JSON body worth an example: probes, and the event stream."""


def _has_example(schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("examples") or schema.get("example"):
        return True
    if schema.get("type") == "array":
        return _has_example(schema.get("items", {}), schemas)
    return False


def _missing_examples(document: dict[str, Any]) -> list[str]:
    schemas = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method, path) in UNDOCUMENTED:
                continue
            bodies = [("request", operation.get("requestBody", {}).get("content", {}))] + [
                (f"response {code}", answer.get("content", {}))
                for code, answer in operation["responses"].items()
                if code.startswith("2")
            ]
            for what, content in bodies:
                for media in content.values():
                    if not (media.get("examples") or media.get("example")) and not _has_example(
                        media.get("schema", {}), schemas
                    ):
                        missing.append(f"{method.upper()} {path}: {what}")
    return missing


def test_every_operation_has_request_and_response_examples():
    """Catches: an operation added without examples of its request or its answer."""
    assert _missing_examples(create_api().openapi()) == []


def test_every_operation_says_what_a_caller_needs():
    """Catches: a right enforced by a route but missing from the document (the rights are
    read from the routes' dependencies; creating a relation needs relations.create)."""
    paths = create_api().openapi()["paths"]
    create = paths["/views/{view_id}/relations"]["post"]
    assert create["x-rights"] == ["relations.create"]
    assert create["x-api-key-scope"] == "write"
    for operations in paths.values():
        for operation in operations.values():
            assert "x-rights" in operation


def test_the_readme_api_table_is_current():
    """Catches: a route, right or scope changed without the README's table following."""
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_relation_work_is_documented_with_examples_and_refusals():
    """Catches: a public relation capability (archive, merge, erasure, functions) missing
    from the document, without examples, or without its 403/404 answers."""
    document = create_api().openapi()
    paths = document["paths"]
    capabilities = {
        ("/views/{view_id}/relations/{relation_id}/archive", "post"),
        ("/views/{view_id}/relations/{relation_id}/unarchive", "post"),
        ("/views/{view_id}/relations/{relation_id}/erasure", "post"),
        ("/views/{view_id}/merges/preview", "get"),
        ("/views/{view_id}/merges", "post"),
        ("/views/{view_id}/merges/{merge_id}", "get"),
        ("/views/{view_id}/merges/{merge_id}/undo", "post"),
        ("/views/{view_id}/relations/{relation_id}/functions", "post"),
        ("/views/{view_id}/relations/{relation_id}/functions", "get"),
        ("/views/{view_id}/functions/{function_id}", "patch"),
        ("/views/{view_id}/functions/{function_id}/end", "post"),
        ("/views/{view_id}/functions/{function_id}", "delete"),
    }
    for path, method in capabilities:
        operation = paths[path][method]
        assert operation["description"], (path, method)
        assert {"403", "404"} <= set(operation["responses"]), (path, method)
    assert "/roles/functions" in paths
    schemas = document["components"]["schemas"]
    for name in (
        "RelationAsShown",
        "ErasedRelation",
        "MergeInput",
        "MergePreview",
        "MergeOut",
        "UndoneMerge",
        "FunctionRole",
        "NamedFunction",
        "FunctionInput",
        "FunctionDates",
    ):
        assert schemas[name]["examples"], name

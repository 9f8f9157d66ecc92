"""The gateway documents itself: every route, with examples for what clients send."""

from __future__ import annotations

from relata_gateway.app import create_api


def test_openapi_document_has_routes_and_examples():
    document = create_api().openapi()
    paths = document["paths"]
    assert "/auth/token" in paths
    assert "/views/{view_id}/relations/{relation_id}" in paths
    schemas = document["components"]["schemas"]
    for name in ("Login", "UserInput"):
        assert schemas[name]["examples"], name
    for name, field in (("CardEdit", "fields"), ("FilterInput", "filter"), ("SavedList", "filter")):
        assert schemas[name]["properties"][field]["examples"], name


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

"""The gateway documents itself: every route, with examples for what clients send."""

from __future__ import annotations

from relata_gateway.app import create_api


def test_openapi_document_has_routes_and_examples():
    document = create_api().openapi()
    paths = document["paths"]
    assert "/auth/token" in paths
    assert "/views/{view_id}/relations/{relation_id}" in paths
    schemas = document["components"]["schemas"]
    assert "/automation/rules" in paths and "/views/{view_id}/bulk-edits" in paths
    assert "/views/{view_id}/relations/{relation_id}/buttons/{rule_id}" in paths
    for name in ("Login", "UserInput", "RuleInput", "BulkEditInput", "ButtonRun", "BulkEdit"):
        assert schemas[name]["examples"], name
    for name, field in (("CardEdit", "fields"), ("FilterInput", "filter"), ("SavedList", "filter")):
        assert schemas[name]["properties"][field]["examples"], name

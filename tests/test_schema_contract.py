"""The exported schema is current, and it keeps every promise of the shared contract."""

from __future__ import annotations

from pathlib import Path

from graphql import BreakingChangeType, build_schema, find_breaking_changes

from schema import schema

REPO = Path(__file__).parents[1]
CONTRACT = Path(__file__).parents[2] / "shared/contract/schema.graphql"


def test_schema_graphql_is_the_current_export():
    exported = (REPO / "schema.graphql").read_text()

    assert exported == schema.as_str() + "\n", (
        "schema.graphql is stale: run `timetrak-sms export-schema > schema.graphql`")


def test_nothing_in_the_contract_is_missing_renamed_or_narrowed():
    contract = build_schema(CONTRACT.read_text())
    ours = build_schema(schema.as_str())

    breaking = find_breaking_changes(contract, ours)

    assert [change.description for change in breaking] == []


def test_the_comparison_would_notice_a_removed_field():
    # Guards the test above against comparing the wrong documents.
    contract = build_schema(CONTRACT.read_text())
    narrowed = build_schema(schema.as_str().replace("  mobileNumber: String\n", "", 1))

    breaking = find_breaking_changes(contract, narrowed)

    assert [change.type for change in breaking] == [BreakingChangeType.FIELD_REMOVED]

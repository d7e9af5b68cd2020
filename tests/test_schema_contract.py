"""The exported schema is current, and it keeps every promise of the contract.

tests/contract/ holds the contract the App and Professional are built against, with each
addition this service implements; the shared copy, when it sits beside the repository, must
say the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import BreakingChangeType, build_schema, find_breaking_changes

from schema import schema

REPO = Path(__file__).parents[1]
CONTRACT = REPO / "tests" / "contract"
SHARED = REPO.parent / "shared" / "contract"
COPIES = sorted(p.relative_to(CONTRACT) for p in CONTRACT.rglob("*.graphql"))


def contract_sdl() -> str:
    """The base contract with every addition implemented here, as check_contract.py joins them."""
    sdl = (CONTRACT / "schema.graphql").read_text()
    for addition in sorted((CONTRACT / "additions").glob("*.graphql")):
        sdl += "\n" + addition.read_text()
    return sdl


def test_schema_graphql_is_the_current_export():
    exported = (REPO / "schema.graphql").read_text()

    assert exported == schema.as_str() + "\n", (
        "schema.graphql is stale: run `timetrak-sms export-schema > schema.graphql`")


def test_nothing_in_the_contract_is_missing_renamed_or_narrowed():
    contract = build_schema(contract_sdl())
    ours = build_schema(schema.as_str())

    breaking = find_breaking_changes(contract, ours)

    assert [change.description for change in breaking] == []


def test_the_comparison_would_notice_a_removed_field():
    # Guards the test above against comparing the wrong documents.
    contract = build_schema(contract_sdl())
    narrowed = build_schema(schema.as_str().replace("  mobileNumber: String\n", "", 1))

    breaking = find_breaking_changes(contract, narrowed)

    assert [change.type for change in breaking] == [BreakingChangeType.FIELD_REMOVED]


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared contract beside the repository")
@pytest.mark.parametrize("copy", COPIES, ids=str)
def test_the_copy_of_the_contract_is_the_shared_one(copy):
    assert (CONTRACT / copy).read_text() == (SHARED / copy).read_text()

"""The one version check: ETags, If-Match (428 without, 412 when stale) and what 412 carries."""

from __future__ import annotations

import pytest

from relata_common.errors import PreconditionFailed, PreconditionRequired
from relata_common.versions import check_version, etag, is_stale, parse_if_match, version_of


@pytest.mark.parametrize("header", ['"7"', "7", 'W/"7"', ' "7" '])
def test_if_match_names_the_version_of_an_etag(header: str):
    assert parse_if_match(header) == 7
    assert version_of(etag(7)) == 7


def test_a_write_without_if_match_is_428_and_one_naming_no_version_412():
    with pytest.raises(PreconditionRequired):
        parse_if_match(None)
    with pytest.raises(PreconditionFailed):
        parse_if_match('"abc"')
    assert version_of("*") is None


def test_a_stale_version_is_412_with_the_current_version():
    """Checked by breaking it: without ``current_version`` in the error (as the merge check
    once raised it) the caller cannot re-read and retry, and this fails."""
    check_version("relation r1", 3, 3)
    check_version("relation r1", 3, None)  # the caller asked for no check
    with pytest.raises(PreconditionFailed) as raised:
        check_version("relation r1", 3, 2)
    assert raised.value.details == {"current_version": 3}
    assert raised.value.message == "relation r1 is at version 3, not 2"
    assert is_stale(raised.value.status_code)
    assert not is_stale(409)

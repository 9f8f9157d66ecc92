"""The accessibility check itself: it must fail on a page with a serious violation, or a green
browser test proves nothing about accessibility."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.web.conftest import assert_accessible

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BROKEN = """<!doctype html><html lang="en"><head><title>t</title></head><body><main>
<button></button><a href="#x"><button>nested</button></a>
<p style="color:#bbb;background:#fff">faint text</p></main></body></html>"""
FIXED = """<!doctype html><html lang="en"><head><title>t</title></head><body><main>
<h1>Fine</h1><button>Save</button><p>readable text</p></main></body></html>"""


def test_the_check_fails_on_serious_violations_and_passes_a_sound_page(
    open_page: Callable[[str], Page],
) -> None:
    """Catches: a check that filters out every violation, runs on an empty document, or
    never runs axe at all (the broken page would pass)."""
    page = open_page("en-GB")
    page.set_content(BROKEN)
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "a broken page")
    message = str(failure.value)
    assert "button-name" in message and "color-contrast" in message
    page.set_content(FIXED)
    assert_accessible(page, "a sound page")

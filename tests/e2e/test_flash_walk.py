"""Lesson 6's FlashAttention walk in a real browser: a link with a tile opens that tile (tile 1 first and stepping
through: tests/e2e/test_browser.py::test_efficient_flash_steps)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import errors_on, settle, skip, wait_chart

pytestmark = pytest.mark.e2e


def test_flash_link_with_a_tile_opens_that_tile(server, page):
    page.goto(f"{server}/efficient?l6_variant=flash&l6_step=3")
    settle(page)
    skip(page, "l6_predict_flash")
    wait_chart(page, "l6_flash_tiles")
    expect(page.get_by_text("Tile 3 of 4", exact=False)).to_be_visible()
    assert "l6_step=3" in page.url
    wait_chart(page, "l6_flash_io_chart")
    assert errors_on(page) == []

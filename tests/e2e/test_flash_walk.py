"""Lesson 6's FlashAttention walk in a real browser: it starts at tile 1, a link with a tile still opens that tile."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import errors_on, settle, shoot, skip, wait_chart

pytestmark = pytest.mark.e2e


def test_flash_walk_starts_at_tile_one(server, page):
    page.goto(f"{server}/efficient?l6_variant=flash")
    settle(page)
    skip(page, "l6_predict_flash")
    wait_chart(page, "l6_flash_tiles")
    # 8 tokens in tiles of 4: 2 × 2 tiles, and the walk opens on the first, with its first-tile shrink factors
    expect(page.get_by_text("Tile 1 of 4", exact=False)).to_be_visible()
    expect(page.get_by_text("This is the rows' first tile", exact=False)).to_be_visible()
    expect(page.get_by_text("their output still changes", exact=False)).to_be_visible()
    assert "l6_step" not in page.url  # the default stays out of the link
    slider = page.locator(".st-key-l6_step").get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('l6_step=2')")
    settle(page)
    expect(page.get_by_text("Tile 2 of 4", exact=False)).to_be_visible()
    expect(page.get_by_text("their output is final", exact=False)).to_be_visible()
    assert errors_on(page) == []
    shoot(page, "efficient-flash-walk-tile2")


def test_flash_link_with_a_tile_opens_that_tile(server, page):
    page.goto(f"{server}/efficient?l6_variant=flash&l6_step=3")
    settle(page)
    skip(page, "l6_predict_flash")
    wait_chart(page, "l6_flash_tiles")
    expect(page.get_by_text("Tile 3 of 4", exact=False)).to_be_visible()
    assert "l6_step=3" in page.url
    wait_chart(page, "l6_flash_io_chart")
    assert errors_on(page) == []

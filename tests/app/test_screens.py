"""Phones and projectors (issue 23, items 7 and 8): tables in presenter type, the page's CSS for small screens, and the
note that says where the sentence box is. The browser tests (tests/e2e/test_teacher_walk.py) measure them drawn."""

import pandas as pd
import pytest

from app_support.kit import course, screens, tables
from tests.app.elements import ok
from tests.app.test_pages import _reveal_all

PROJECTIONS, REAL_HEADS, REAL_EXAMPLES = "lessons/projections.py", "lessons/real_heads.py", "lessons/real_examples.py"


def _htmls(at) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def _presented(at):
    """Presenter mode: every class question revealed, every step shown."""
    for _ in range(20):
        reveals = [b.key for b in at.button if b.key and b.key.endswith("_reveal")]
        if not reveals and not any(b.key == "show_all" for b in at.button):
            break
        for key in reveals:
            at.button(key=key).click().run()
        if any(b.key == "show_all" for b in at.button):
            at.button(key="show_all").click().run()
    return ok(at)


def test_presenter_mode_draws_tables_as_html_in_the_projectors_type(app):
    """A data grid is drawn on a canvas in about 13 px that CSS cannot enlarge: presenter mode draws the same table
    as HTML, which the presenter CSS does; the code of 5b's token strip is enlarged too."""
    normal = ok(_reveal_all(app(PROJECTIONS)))
    best = next(d.value for d in normal.dataframe if "its best other key" in d.value.columns)
    present = _presented(app(PROJECTIONS, present="true"))
    assert not present.dataframe, "a canvas data grid in presenter mode"
    shown = next(t.value for t in present.table if "its best other key" in t.value.columns)
    assert shown.equals(best), "the same table, drawn as HTML"
    assert screens.OWN_HTML[1] in _htmls(present) and screens.OWN_HTML[1] not in _htmls(normal)
    heads = _presented(app(REAL_HEADS, present="true"))
    assert heads.table and not heads.dataframe


class _Recorder:
    """Stands in for `st`: records what a table was drawn with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def table(self, data, **options) -> None:
        self.calls.append(("table", options))

    def dataframe(self, data, **options) -> None:
        self.calls.append(("dataframe", options))


@pytest.mark.parametrize("present", [False, True])
def test_a_long_table_scrolls_inside_a_screen(monkeypatch, present):
    """A grid keeps its key and height; in presenter mode a table of more than a dozen rows keeps a height that fits
    a screen and scrolls inside it, a short one is drawn whole."""
    monkeypatch.setattr(tables, "presenting", lambda: present)
    where = _Recorder()
    tables.table(pd.DataFrame({"a": range(30)}), key="t_long", height=300, hide_index=True, where=where)
    tables.table(pd.DataFrame({"a": range(5)}).style.format("{:.1f}"), key="t_short", where=where)
    if present:
        assert where.calls == [
            ("table", {"hide_index": True, "height": tables.PRESENT_HEIGHT}),
            ("table", {"hide_index": None, "height": "content"}),
        ]
        assert tables.PRESENT_HEIGHT <= 1080 - 60 - 200  # a projector's screen, its header, room for the heading
    else:
        assert where.calls == [
            ("dataframe", {"key": "t_long", "hide_index": True, "height": 300, "width": "stretch"}),
            ("dataframe", {"key": "t_short", "hide_index": None, "height": "auto", "width": "stretch"}),
        ]


@pytest.mark.parametrize("page", [*course.FILES, course.START.file, course.GLOSSARY.file])
def test_the_sentence_hint_is_on_every_lesson_that_reads_the_sidebars_sentence(app, page):
    at = ok(app(page))
    hinted = any("open the sidebar" in c.value for c in at.caption)
    assert hinted == (page in course.FILES and page != REAL_EXAMPLES), page  # 5c brings its own sentences
    assert screens.OWN_HTML[0] in _htmls(at)  # the CSS that shows it only while the sidebar is folded


def test_the_css_hides_small_cell_numbers_and_gives_the_toolbar_a_row_on_a_phone():
    css = screens.OWN_HTML[0]
    assert '[style*="font-size: 6px"]' in css and '[style*="font-size: 7px"]' not in css.split("@media")[0]
    phone = css.split(f"@media (max-width: {screens.PHONE}px)")[1]
    assert '[style*="font-size: 7px"]' in phone and '[style*="font-size: 8px"]' not in phone
    assert f"top: -{screens.TOOLBAR_PX}px" in phone and f"padding-top: {screens.TOOLBAR_PX}px" in phone
    assert "tap a cell to read it" in phone and '[data-collapsed="true"]' in css

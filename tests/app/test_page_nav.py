"""The pages around the lessons (the start page, the glossary) and the ways between pages: the next lesson's link at
the end of each lesson and *Reset this page* (app_support/kit/page_nav.py)."""

from urllib.parse import urlencode

import pytest

from app_support.kit import course
from tests.app.elements import ok
from tests.app.test_classroom import open_link, widget
from tests.app.test_live_class import store  # noqa: F401  (a fresh class store: the fixture)
from tests.app.test_pages import plain


def page_links(at) -> list:
    """Every page link the run drew: (label, page file, query string)."""
    return [(e.proto.label, e.proto.page, e.proto.query_string) for e in at.get("page_link")]


def test_start_page_lists_every_lesson_with_its_time(app, store):  # noqa: F811
    code, _ = store.create_class()
    at = ok(app(course.START.file, sentence="the cat sat on the mat", **{"class": code}))
    text = " ".join(plain(m) for m in at.markdown)
    labels = [label for label, _, _ in page_links(at)]
    for lesson in course.LESSONS:
        assert f"Open {lesson.title}" in labels
        assert lesson.teaches and lesson.minutes > 0
        assert f"**{lesson.title}** · about {lesson.minutes} min  \n{lesson.teaches}" in [m.value for m in at.markdown]
    total = sum(lesson.minutes for lesson in course.LESSONS)
    assert f"{total // 60} h {total % 60} min" in " ".join(c.value for c in at.caption)
    assert "sidebar" in text
    # the links keep the text and the class, never a teacher's token
    queries = {query for _, _, query in page_links(at)}
    assert queries == {urlencode({"sentence": "the cat sat on the mat", "class": code})}


def test_glossary_links_each_term_to_a_lesson(app):
    at = ok(app(course.GLOSSARY.file))
    links = page_links(at)
    assert len(links) >= 15
    lessons = {lesson.title for lesson in course.LESSONS}
    assert all(label.removeprefix("See it in ").strip() in lessons for label, _, _ in links)


@pytest.mark.parametrize("index", range(len(course.LESSONS)))
def test_each_lesson_ends_with_the_next_one(index):
    lesson = course.LESSONS[index]  # every "predict first" question answered: the lesson's end is drawn
    at = ok(open_link({"sentence": "the cat sat on the mat", "teacher": "secret"}, lesson.file))
    links = page_links(at)
    if index + 1 < len(course.LESSONS):
        after = course.LESSONS[index + 1]
        found = [q for label, _, q in links if label == f"Next lesson: {after.title}"]
        assert found, links
        assert "sentence=the+cat+sat+on+the+mat" in found[0] and "teacher" not in found[0]
    else:
        assert any(label == "Back to the start page" for label, _, _ in links)


def test_next_lesson_of_the_root_is_lesson_two():
    assert course.next_lesson("") is course.LESSONS[1]
    assert course.next_lesson(course.LESSONS[-1].url_path) is None
    assert course.next_lesson("glossary") is None


def test_reset_puts_the_pages_settings_back_and_keeps_the_text():
    query = {"sentence": "the cat sat on the mat", "sim_kind": "cosine", "sim_focus": "cat"}
    at = open_link(query, course.LESSONS[1].file, reveal=False)
    assert widget(at, "sim_kind").value != widget(open_link({}, course.LESSONS[1].file, reveal=False), "sim_kind").value
    reset = at.button(key="page_reset")
    assert not reset.disabled
    ok(reset.click().run())
    assert "sim_kind" not in at.query_params and "sim_focus" not in at.query_params
    fresh = open_link({"sentence": query["sentence"]}, course.LESSONS[1].file, reveal=False)
    assert widget(at, "sim_kind").value == widget(fresh, "sim_kind").value
    assert at.query_params["sentence"] == query["sentence"]
    assert at.text_area(key="sentence").value == query["sentence"]
    assert at.button(key="page_reset").disabled  # nothing left to reset


def test_reset_is_off_at_the_defaults(app):
    at = ok(app(course.LESSONS[1].file, sentence="the cat sat on the mat"))
    assert at.button(key="page_reset").disabled


def test_presenter_mode_says_step_x_of_y_and_goes_back():
    sim = course.LESSONS[1].file
    text = {"sentence": "a quiet river bank at dawn"}
    open_link(text, sim)  # any run of the page to its end (a student's, a rehearsal) tells how many steps it has
    at = open_link(text | {"present": "true"}, sim, reveal=False)
    bold = lambda: [m.value for m in at.markdown if m.value.startswith("**Step")]  # noqa: E731
    assert bold() == ["**Step 1 of 3**"]
    assert not [b for b in at.button if b.key == "show_prev"]  # nothing to go back to
    ok(at.button(key="show_next").click().run())
    assert bold() == ["**Step 2 of 3**"]
    ok(at.button(key="show_prev").click().run())
    assert bold() == ["**Step 1 of 3**"] and [h.value for h in at.header] == ["I: the sentence as a matrix"]
    ok(at.button(key="show_all").click().run())
    for key in [b.key for b in at.button if b.key and b.key.endswith("_reveal")]:
        ok(at.button(key=key).click().run())
    assert bold() == ["**Step 3 of 3**: the last"] and len(at.header) == 3
    ok(at.button(key="show_prev").click().run())
    assert len(at.header) == 2 and bold() == ["**Step 2 of 3**"]


def test_a_step_count_not_yet_known_is_not_guessed():
    at = open_link(
        {"sentence": "zebras graze where rivers bend", "present": "true"}, course.LESSONS[1].file, reveal=False
    )
    assert [m.value for m in at.markdown if m.value.startswith("**Step")] == ["**Step 1**"]

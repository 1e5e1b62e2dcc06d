"""app_support/kit/course.py, the one list of lessons: every page file exists, names and addresses are unique, one
lesson is the root, and the entry point's navigation is built from it."""

from pathlib import Path

from app_support.kit import course
from tests.app.conftest import ROOT


def test_the_lessons_are_files_with_distinct_addresses():
    assert all((ROOT / lesson.file).is_file() for lesson in course.LESSONS)
    assert len({lesson.url_path for lesson in course.LESSONS}) == len(course.LESSONS)
    assert len({lesson.title for lesson in course.LESSONS}) == len(course.LESSONS)
    assert [lesson.address for lesson in course.LESSONS if lesson.default] == [""]
    assert course.LESSONS[0].default  # the course starts at the root address


def test_every_lesson_file_is_listed():
    listed = course.FILES + [page.file for page in course.AROUND]
    assert sorted(listed) == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "lessons").glob("*.py"))


def test_the_entry_point_builds_its_pages_from_the_list(app):
    at = app()
    assert not at.exception
    registered = {  # what st.navigation registered in this run: page file → URL path
        str(Path(info["script_path"]).resolve().relative_to(ROOT)): info.get("url_pathname")
        for info in at._registered_pages.values()
    }
    around = {page.file: page.url_path for page in course.AROUND}
    assert registered == {lesson.file: lesson.address for lesson in course.LESSONS} | around  # the first at the root

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_support.kit import course

ROOT = Path(__file__).resolve().parents[2]
PAGES = course.FILES  # every lesson's page file, in the course's order


@pytest.fixture
def app():
    """A fresh session of the whole app, started from the entry point (vectors stay cached per process)."""

    def start(page: str | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        if page is not None:
            at.switch_page(page).run()
        return at

    return start

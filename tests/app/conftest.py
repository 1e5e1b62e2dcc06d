from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "lessons/embeddings.py",
    "lessons/similarity.py",
    "lessons/projections.py",
    "lessons/softmax.py",
    "lessons/multihead.py",
    "lessons/real_heads.py",
    "lessons/real_examples.py",
    "lessons/efficient.py",
    "lessons/efficient_swap.py",
    "lessons/efficient_scaling.py",
]


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

import pytest

from attnviz.embeddings import load_glove


@pytest.fixture(scope="session")
def kv():
    """The real GloVe vectors, loaded once for the whole test session."""
    return load_glove()

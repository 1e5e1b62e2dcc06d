"""The bundled model, loaded once for every test of `attnviz.pretrained`."""

import pytest

from attnviz.pretrained import load_model


@pytest.fixture(scope="session")
def model():
    return load_model("cpu")

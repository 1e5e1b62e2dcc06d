"""Reading a page run by AppTest: the page survived, its charts by key, their numbers, its warnings. Shared by the
page tests (test_multihead.py, test_real_heads.py, test_real_examples.py, the efficient pages' tests)."""

import base64
import json

import numpy as np

from tests.app.test_pages import no_html, plain


def ok(at):
    assert not at.exception, at.exception
    no_html(at)
    return at


def run(element):
    """Run after setting a widget, and check the page survived."""
    return ok(element.run())


def chart(at, key: str) -> dict:
    """The plotly spec of the chart drawn with ``key``."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key!r}; drawn: {[c.proto.id.rsplit('-', 1)[-1] for c in at.get('plotly_chart')]}"
    return json.loads(found[0].proto.spec)


def keys(at) -> set[str]:
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def arr(values) -> np.ndarray:
    """Numbers from a plotly spec, whether written as a list or as a typed array {"dtype", "bdata", "shape"}."""
    if isinstance(values, dict):
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        return flat.reshape([int(n) for n in str(values["shape"]).split(",")]) if "shape" in values else flat
    return np.asarray(values, dtype=float)


def z(trace) -> np.ndarray:
    """A heatmap's values."""
    return arr(trace["z"])


def warnings(at) -> list[str]:
    return [plain(w) for w in at.warning]

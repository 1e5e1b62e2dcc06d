"""`app_support.data.store.BoundedStore`: results kept by key, the least recently used dropped beyond the bound."""

import threading

import pytest

from app_support.data.store import BoundedStore


def test_get_put_and_the_bound():
    store = BoundedStore(2)
    assert store.get("a") is None
    store.put("a", 1)
    store.put("b", 2)
    assert store.get("a") == 1  # "a" is now the most recently used
    store.put("c", 3)
    assert store.get("b") is None and store.get("a") == 1 and store.get("c") == 3 and len(store) == 2
    store.put("a", 10)
    assert store.get("a") == 10 and len(store) == 2
    store.clear()
    assert len(store) == 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bound_that_is_not_a_whole_number_is_refused(bad):
    with pytest.raises(ValueError, match="max_entries"):
        BoundedStore(bad)


def test_threads_never_exceed_the_bound():
    store = BoundedStore(5)

    def fill(offset: int) -> None:
        for i in range(200):
            store.put((offset, i), i)
            store.get((offset, i - 1))

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 5


def test_cached_trained_runs_use_the_store():
    from app_support.data import cached

    marker = object()
    cached.keep_trained("goal-for-a-test", 1, 2, marker)
    assert cached.trained("goal-for-a-test", 1, 2) is marker
    assert cached.trained("goal-for-a-test", 1, 3) is None


# --- the caches that grow with a student's text are bounded in bytes (issue 24: the flood of paragraphs) -----------

MIB = 2**20


def _bytes(size: str) -> int:
    """Streamlit's sizes: "96MiB", "448MB" (MB and MiB are both powers of 1024 there)."""
    import re

    number, unit = re.fullmatch(r"(\d+)\s*([KMG])i?B", size.strip(), re.I).groups()
    return int(number) * 1024 ** (1 + "KMG".index(unit.upper()))


def _cache_data_bounds() -> dict[str, dict[str, object]]:
    """Each st.cache_data function of app_support/data/cached.py: its parameters and its decorator's keywords."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[2] / "app_support" / "data" / "cached.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and ast.unparse(deco.func) == "st.cache_data":
                    keywords = {k.arg: ast.literal_eval(k.value) for k in deco.keywords if k.arg != "show_spinner"}
                    found[node.name] = {"params": [a.arg for a in node.args.args], **keywords}
    return found


def test_every_cache_keyed_by_a_text_is_bounded_in_bytes():
    texts = {"text", "first", "second", "text_a", "text_b"}
    bounds = _cache_data_bounds()
    grow = {name: b for name, b in bounds.items() if texts & set(b["params"])}
    assert {"real_weights", "real_view", "real_sentence", "padded"} <= set(grow)
    large = {name for name in grow if name in {"real_weights", "real_view", "real_sentence", "padded"}}
    for name in large:
        assert "max_size" in grow[name], f"{name} holds a text's arrays (MiB each) with no bound in bytes"
    # the rest hold a few KiB per text (census, drift, probes): their entries bound them
    for name, b in grow.items():
        assert "max_entries" in b and (name in large or b["max_entries"] <= 32), name


def test_all_caches_together_fit_the_servers_budget():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    budget = _bytes(config["server"]["maxCacheDataSize"])
    assert 256 * MIB <= budget <= 512 * MIB  # README: the server stays under 1.5 GiB with this much cached
    bounded = sum(_bytes(b["max_size"]) for b in _cache_data_bounds().values() if "max_size" in b)
    assert bounded <= 0.7 * budget  # the large caches leave room for the rest before the budget evicts anything

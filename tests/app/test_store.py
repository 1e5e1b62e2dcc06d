"""`app_support.store.BoundedStore`: results kept by key, the least recently used dropped beyond the bound."""

import threading

import pytest

from app_support.store import BoundedStore


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
    from app_support import cached

    marker = object()
    cached.keep_trained("goal-for-a-test", 1, 2, marker)
    assert cached.trained("goal-for-a-test", 1, 2) is marker
    assert cached.trained("goal-for-a-test", 1, 3) is None

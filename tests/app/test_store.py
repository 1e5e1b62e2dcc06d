"""app_support.store: a bounded, locked store of results that exist only once they are put."""

import threading

import pytest

from app_support.store import Store


def test_get_is_none_until_put_and_the_oldest_goes_first():
    s = Store(max_entries=2)
    assert s.get("a") is None
    s.put("a", 1)
    s.put("b", 2)
    assert s.get("a") == 1 and len(s) == 2
    s.put("a", 10)  # put again: now the newest
    s.put("c", 3)  # over the limit: "b", the oldest, goes
    assert s.get("b") is None and s.get("a") == 10 and s.get("c") == 3 and len(s) == 2


def test_many_threads_never_pass_the_limit():
    s = Store(max_entries=50)

    def fill(offset: int) -> None:
        for i in range(500):
            s.put((offset, i), i)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(s) == 50


def test_a_store_keeps_something():
    with pytest.raises(ValueError):
        Store(max_entries=0)

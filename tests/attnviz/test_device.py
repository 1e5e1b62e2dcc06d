import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from attnviz.device import describe, pick_device, set_cpu_threads


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    blas = {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    yield
    torch.set_num_threads(before)
    for count in set(blas.values()):
        threadpool_limits(count, user_api="blas")


@pytest.mark.parametrize(("env", "expected"), [(None, 1), ("2", 2), (" 3 ", 3), ("0", 1), ("many", 1), ("-2", 1)])
def test_cpu_threads_default_and_override(monkeypatch, threads, env, expected):
    if env is None:
        monkeypatch.delenv("ATTNVIZ_TORCH_THREADS", raising=False)
    else:
        monkeypatch.setenv("ATTNVIZ_TORCH_THREADS", env)
    assert set_cpu_threads() == expected == torch.get_num_threads()


def test_cpu_threads_also_set_numpy_blas(monkeypatch, threads):
    """numpy's own BLAS pool spins its threads while they wait: the server gives it the same single thread."""
    np.ones((8, 8)) @ np.ones((8, 8))  # the BLAS library is loaded and used
    monkeypatch.delenv("ATTNVIZ_TORCH_THREADS", raising=False)
    set_cpu_threads()
    blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas and set(blas) == {1}


@pytest.mark.parametrize(("count", "label"), [("1", "CPU (1 thread)"), ("2", "CPU (2 threads)")])
def test_forced_cpu_device_is_described_with_its_threads(monkeypatch, threads, count, label):
    monkeypatch.setenv("ATTNVIZ_DEVICE", "cpu")
    monkeypatch.setenv("ATTNVIZ_TORCH_THREADS", count)
    set_cpu_threads()
    assert describe(pick_device()) == label

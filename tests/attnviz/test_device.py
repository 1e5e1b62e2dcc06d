import pytest
import torch

from attnviz.device import describe, pick_device, set_cpu_threads


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("env", "expected"), [(None, 1), ("2", 2), (" 3 ", 3), ("0", 1), ("many", 1), ("-2", 1)])
def test_cpu_threads_default_and_override(monkeypatch, threads, env, expected):
    if env is None:
        monkeypatch.delenv("ATTNVIZ_TORCH_THREADS", raising=False)
    else:
        monkeypatch.setenv("ATTNVIZ_TORCH_THREADS", env)
    assert set_cpu_threads() == expected == torch.get_num_threads()


@pytest.mark.parametrize(("count", "label"), [("1", "CPU (1 thread)"), ("2", "CPU (2 threads)")])
def test_forced_cpu_device_is_described_with_its_threads(monkeypatch, threads, count, label):
    monkeypatch.setenv("ATTNVIZ_DEVICE", "cpu")
    monkeypatch.setenv("ATTNVIZ_TORCH_THREADS", count)
    set_cpu_threads()
    assert describe(pick_device()) == label

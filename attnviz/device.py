"""Where the tensors live: CUDA, then Apple's MPS, then the CPU. One place decides."""

from __future__ import annotations

import os

import torch

from attnviz.threads import limit_blas
from attnviz.threads import requested as requested_threads


def pick_device() -> torch.device:
    """The fastest device available, unless ATTNVIZ_DEVICE names one (``cpu``, ``cuda``, ``mps``)."""
    forced = os.environ.get("ATTNVIZ_DEVICE", "").strip().lower()
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_cpu_threads(default: int = 1) -> int:
    """Give torch's CPU operations, and numpy's and scipy's BLAS, ``default`` threads each, unless
    ATTNVIZ_TORCH_THREADS says otherwise.

    A server runs many learners' small tensor operations at once. With one thread each they share the cores;
    with several, every operation's threads wait on one another (a 12-word MiniLM pass took 677 ms instead of
    31 ms on a busy 2-core machine; see bench/RESULTS.md). numpy's OpenBLAS keeps its own pool, two threads here
    that spin while they wait: a rerun of the word-vector page (searches through 100,000 vectors) cost the server
    175 ms of CPU for 94 ms of wall time. The BLAS limit covers the libraries loaded so far. Returns the number now in
    use.
    """
    threads = requested_threads(default)
    torch.set_num_threads(threads)
    limit_blas(threads)
    return torch.get_num_threads()


def describe(device: torch.device) -> str:
    """A short human label, e.g. ``CPU (1 thread)`` or ``CUDA: NVIDIA H100``."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"

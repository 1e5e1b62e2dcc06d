"""How many CPU threads one operation gets: readable before torch loads (this module imports nothing heavy), so
that the launcher can tell OpenMP and MKL the same number torch is given."""

from __future__ import annotations

import os

ENV = "ATTNVIZ_TORCH_THREADS"


def limit_blas(threads: int | None = None) -> int:
    """Give NumPy's and SciPy's BLAS ``threads`` threads (default `requested()`), torch-free: the word-vector searches
    run with NumPy before torch has loaded. Covers the BLAS libraries loaded so far. Returns the number."""
    from threadpoolctl import threadpool_limits

    threads = requested() if threads is None else threads
    threadpool_limits(threads, user_api="blas")
    return threads


def requested(default: int = 1) -> int:
    """``ATTNVIZ_TORCH_THREADS`` when it is a positive whole number, else ``default``."""
    forced = os.environ.get(ENV, "").strip()
    return int(forced) if forced.isdigit() and int(forced) > 0 else default

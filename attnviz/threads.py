"""How many CPU threads one operation gets: readable before torch loads (this module imports nothing heavy), so
that the launcher can tell OpenMP and MKL the same number torch is given."""

from __future__ import annotations

import os

ENV = "ATTNVIZ_TORCH_THREADS"


def requested(default: int = 1) -> int:
    """``ATTNVIZ_TORCH_THREADS`` when it is a positive whole number, else ``default``."""
    forced = os.environ.get(ENV, "").strip()
    return int(forced) if forced.isdigit() and int(forced) > 0 else default

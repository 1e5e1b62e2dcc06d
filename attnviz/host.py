"""The one way from a tensor to numpy (and so to the plots, tables and downloads), wherever the tensor lives.

It imports no torch, so modules that must stay light at start-up (`attnviz.plots`) can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor


def to_host(x: Tensor) -> np.ndarray:
    """A tensor's values as a numpy array in the host's memory.

    ``.numpy()`` alone fails on a CUDA or MPS tensor ("can't convert cuda:0 device type tensor to numpy") and on one
    that needs a gradient; tests/attnviz/test_host.py scans the code for any other route.
    """
    return x.detach().cpu().numpy()

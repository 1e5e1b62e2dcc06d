"""The similarity matrix S = I·Iᵀ, for NumPy arrays and torch tensors alike.

It imports no torch, so word lists can be measured with it in NumPy before torch has loaded; the attention code
computes it on torch tensors on the chosen device (`attnviz.attention` re-exports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

SimilarityKind = Literal["dot", "cosine"]
Matrix = TypeVar("Matrix", np.ndarray, "Tensor")


def similarity_matrix(x: Matrix, kind: SimilarityKind = "dot") -> Matrix:
    """S = I·Iᵀ, every row of ``x`` against every other.

    Only operators that NumPy and torch share are used, so the result is of the input's kind, dtype and device.

    Args:
        x: (T, D) one vector per token.
        kind: ``"dot"`` for raw dot products, ``"cosine"`` to divide each entry by both lengths first.
    Returns:
        (T, T) symmetric; the diagonal holds squared lengths (dot) or ones (cosine; zero for a zero row).
    """
    if kind == "cosine":
        length = (x * x).sum(-1, keepdims=True) ** 0.5  # (T, 1)
        x = x / (length + (length == 0))  # (T, D) unit rows; a zero row stays zero
    elif kind != "dot":
        raise ValueError(f"unknown similarity kind {kind!r}")
    return x @ x.mT  # (T, T)

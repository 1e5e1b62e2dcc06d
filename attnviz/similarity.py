"""The similarity matrix S = I·Iᵀ, for NumPy arrays and torch tensors alike.

It imports no torch, so word lists can be measured with it in NumPy before torch has loaded; the attention code
computes it on torch tensors on the chosen device (`attnviz.attention` re-exports it). `diagonal_wins` counts the
rows whose largest cell is the word itself, a tie with a repeated word's copy counted as such, not as a loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np

from attnviz.host import to_host

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


@dataclass(frozen=True)
class DiagonalCount:
    """Where each row of a score matrix has its largest cell, with the diagonal (the word itself) first among equals.

    A repeated word has the same vector each time (GloVe, or any projection of it), so in the row of "the·2" the
    cell of the first "the" equals the diagonal exactly: an argmax would hand that tie to the first copy and call it
    a loss for the diagonal. Here a tie is not a loss, and every tie is reported.
    """

    wins: tuple[bool, ...]  # T; True where no cell of the row is larger than its diagonal cell
    best: tuple[int, ...]  # T; the column of the row's largest cell: the diagonal itself wherever it ties for largest
    ties: tuple[tuple[int, int], ...]  # (row, column) of every other cell equal to a largest diagonal cell
    copies: tuple[bool, ...]  # one per tie: True where the column holds the row's own word again (a repeated word)

    @property
    def rows(self) -> int:
        return len(self.wins)

    @property
    def share(self) -> float:
        """The share of rows whose diagonal is the largest cell, ties included; 0 for no rows."""
        return sum(self.wins) / len(self.wins) if self.wins else 0.0

    @property
    def losses(self) -> tuple[int, ...]:
        """The rows where another cell is larger than the diagonal."""
        return tuple(i for i, w in enumerate(self.wins) if not w)

    def tied_copies(self, words: Sequence[str]) -> tuple[str, ...]:
        """The repeated words whose copies tie with each other for largest, each once, in order of first row."""
        return tuple(dict.fromkeys(words[i] for (i, _), copy in zip(self.ties, self.copies, strict=True) if copy))

    @property
    def other_ties(self) -> tuple[tuple[int, int], ...]:
        """The ties between two different words (equal scores by chance or by equal vectors)."""
        return tuple(t for t, copy in zip(self.ties, self.copies, strict=True) if not copy)


def diagonal_wins(scores: Matrix, words: Sequence[str], *, rtol: float = 1e-5) -> DiagonalCount:
    """Count the rows of ``scores`` whose diagonal cell is the largest, a tie counting as not a loss.

    Two cells tie when they differ by at most ``rtol`` times the largest magnitude in their row (float rounding:
    equal vectors give equal dot products, up to the order the sums were added in).

    Args:
        scores: (T, T) e.g. S = I·Iᵀ or Q·Kᵀ, NumPy or torch on any device.
        words: T, the word of each row and column as typed (repeats not renamed), to tell a word's own copy from
            another word.
    Returns:
        DiagonalCount.
    """
    s = np.asarray(to_host(scores) if hasattr(scores, "detach") else scores, dtype=np.float64)  # (T, T)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] != len(words):
        raise ValueError(f"expected a square (T, T) matrix for {len(words)} words, got shape {s.shape}")
    wins, best, ties, copies = [], [], [], []
    for i, row in enumerate(s):
        tol = rtol * float(np.abs(row).max(initial=0.0))
        top = float(row.max())
        win = bool(row[i] >= top - tol)
        wins.append(win)
        best.append(i if win else int(row.argmax()))
        if win:
            for j in np.flatnonzero(np.abs(row - row[i]) <= tol):
                if j != i:
                    ties.append((i, int(j)))
                    copies.append(words[int(j)] == words[i])
    return DiagonalCount(wins=tuple(wins), best=tuple(best), ties=tuple(ties), copies=tuple(copies))


def weight_by_word(row: Matrix, words: Sequence[str]) -> dict[str, float]:
    """A row's weights added up word by word: a word that repeats puts its vector into the mix once per copy, so
    its copies together can outweigh the largest single cell (O = S·I, page 2).

    Args:
        row: (T,) one row of S (or of any weights over the words).
        words: the T words, repeats included.
    Returns:
        {word: the sum of its copies' weights}, in the order the words first appear.
    """
    values = np.asarray(to_host(row) if hasattr(row, "detach") else row, dtype=np.float64)  # (T,)
    if values.shape != (len(words),):
        raise ValueError(f"a row of {values.shape} does not fit {len(words)} words")
    totals: dict[str, float] = {}
    for word, value in zip(words, values.tolist(), strict=True):
        totals[word] = totals.get(word, 0.0) + float(value)
    return totals

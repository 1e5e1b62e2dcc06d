"""The article's claim about where a language model's attention goes, measured on a text's words.

The article asks "Please, GPT, can you tell me what is the most likely pet in a household?" and says the model
focuses on "what", "likely", "pet" and "household" and pays less attention to "please" (`FOCUS`, `OTHER`).
`word_weights` measures, for every word of a text, the weight the last position gives it (where a decoder predicts
the next word) and the weight it receives on average over the rows that may look at it, both averaged over every
head of every layer. A word of several tokens gets what all its tokens get.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from attnviz.attention import attention_received
from attnviz.errors import AttnvizInputError

FOCUS = ("what", "likely", "pet", "household")  # the words the article says an LLM focuses on …
OTHER = "please"  # … and the one it says gets less attention
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")  # letters and digits, with inner apostrophes ("don't")


@dataclass(frozen=True)
class WordWeights:
    """Every word of a text with the attention it gets, averaged over every head of every layer."""

    words: tuple[str, ...]  # W words, as written in the text, in order (words beyond the last token read are left out)
    positions: tuple[tuple[int, ...], ...]  # W; the token positions each word covers
    from_last: np.ndarray  # (W,) the last token's weight on the word (the sum over its tokens)
    received: np.ndarray  # (W,) the weight the word receives per row that may see it (the sum over its tokens)
    first_share: float  # the last token's weight on token 0, the first token of the text

    def find(self, word: str) -> int | None:
        """The index of the first word equal to ``word`` (case-insensitive), or None."""
        lowered = [w.lower() for w in self.words]
        return lowered.index(word.lower()) if word.lower() in lowered else None


def word_positions(text: str, offsets: Sequence[tuple[int, int]]) -> list[tuple[str, tuple[int, ...]]]:
    """The words of ``text`` with the tokens that overlap each (``offsets``: each token's (start, end) characters);
    tokens of punctuation alone belong to no word, and a word no token reaches is left out."""
    found = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        covered = tuple(i for i, (a, b) in enumerate(offsets) if a < end and b > start)
        if covered:
            found.append((match.group(), covered))
    return found


def word_weights(text: str, offsets: Sequence[tuple[int, int]], weights: np.ndarray, causal: bool) -> WordWeights:
    """The attention each word of ``text`` gets.

    Args:
        text: the text the tokens come from.
        offsets: T (start, end) characters of each token in ``text``.
        weights: (..., T, T) softmax rows of every head (e.g. (L, H, T, T)); averaged over the leading axes.
        causal: row i may look at positions 0 … i only (a decoder); otherwise at every position.
    """
    w = torch.as_tensor(np.asarray(weights, dtype=np.float32))  # (..., T, T)
    if w.ndim < 2 or w.shape[-1] != w.shape[-2] or w.shape[-1] != len(offsets):
        raise AttnvizInputError(f"expected (..., {len(offsets)}, {len(offsets)}) weights, got {tuple(w.shape)}")
    t = w.shape[-1]
    heads = w.reshape(-1, t, t)  # (N, T, T) every head
    allowed = torch.ones(t, t, dtype=torch.bool).tril() if causal else None  # (T, T)
    last = heads[:, -1, :].mean(dim=0)  # (T,) the last row, mean over heads
    received = attention_received(heads, allowed).mean.mean(dim=0)  # (T,) per row that may see it, mean over heads
    spans = word_positions(text, offsets)
    return WordWeights(
        words=tuple(word for word, _ in spans),
        positions=tuple(p for _, p in spans),
        from_last=np.array([float(last[list(p)].sum()) for _, p in spans]),  # (W,)
        received=np.array([float(received[list(p)].sum()) for _, p in spans]),  # (W,)
        first_share=float(last[0]),
    )


__all__ = ["FOCUS", "OTHER", "WordWeights", "word_positions", "word_weights"]

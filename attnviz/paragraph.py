"""Paragraph mode: long text in a link, the model's 256-piece limit, and readable views of a T×T map.

A map of 256 × 256 weights cannot be read cell by cell. What can be read is (1) one word's row and column, laid
over the paragraph itself like a highlighter, (2) the strongest links of the whole map as a short list, and
(3) the map averaged over blocks (sentences or fixed runs of tokens) with only as many labels as fit.

Everything here is pure (numpy and the standard library); the figures are in `attnviz.paragraph_plots` and the
Streamlit widget in `app_support.parts.paragraph_view`.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from attnviz.errors import AttnvizInputError
from attnviz.host import to_host

MODEL_PIECES = 256  # all-MiniLM-L6-v2's max_seq_length (sentence-transformers), [CLS] and [SEP] included
MAX_WORDS = 256  # the GloVe lessons' longest text, in vocabulary words
MAX_RAW_CHARS = 20_000  # longest text the box takes; a longer paste is cut here first, with a note
MAX_LINK_CHARS = 32_000  # longest compressed text a link may carry (`textz`)
SHORT_CHARS = 300  # text up to this long stays readable in the link (`sentence=`); longer goes compressed
LONG_TOKENS = 40  # from this many tokens on, a page adds the paragraph views to its T×T maps
BLOCK = 16  # tokens per block in the block-averaged overview


class LinkError(AttnvizInputError):
    """A link's compressed text that cannot be read back (too long, not base64, not zlib, or too large inside)."""


# --- the text in a link ------------------------------------------------------------------------------------------
def pack(text: str) -> str:
    """Text for a link: UTF-8, zlib at level 9, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def unpack(packed: str, *, max_chars: int = MAX_RAW_CHARS, max_link: int = MAX_LINK_CHARS) -> str:
    """The text of `pack`, read back without trusting it.

    Raises:
        LinkError: the link is longer than ``max_link`` characters, is not URL-safe base64, is not zlib data, or
            unpacks to more than ``max_chars`` characters (a "zip bomb" stops after that much, never fills memory).
    """
    if not isinstance(packed, str):
        raise LinkError("The link's text is not text.")
    if len(packed) > max_link:
        raise LinkError(
            f"The link's compressed text is {len(packed):,} characters long; a link may carry up to {max_link:,}."
        )
    if not re.fullmatch(r"[A-Za-z0-9_\-]*={0,2}", packed):
        raise LinkError("The link's compressed text is damaged (it has characters a link never writes).")
    try:
        data = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
    except (binascii.Error, ValueError) as err:
        raise LinkError("The link's compressed text is damaged (it is not valid base64).") from err
    limit = 4 * max_chars  # UTF-8 takes at most 4 bytes a character
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(data, limit + 1)
    except zlib.error as err:
        raise LinkError("The link's compressed text is damaged (it does not unpack).") from err
    if len(raw) > limit or inflate.unconsumed_tail:
        raise LinkError(f"The link's text unpacks to more than {max_chars:,} characters, more than the box takes.")
    if not inflate.eof:
        raise LinkError("The link's compressed text is cut short (it does not unpack to the end).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise LinkError("The link's compressed text is damaged (it is not UTF-8 text).") from err
    if len(text) > max_chars:
        raise LinkError(f"The link's text is {len(text):,} characters long, more than the {max_chars:,} the box takes.")
    return text


# --- the model's limit --------------------------------------------------------------------------------------------
class _Encoding(Protocol):
    offsets: list[tuple[int, int]]
    special_tokens_mask: list[int]


class _Tokenizer(Protocol):
    def encode(self, text: str) -> Any: ...


@dataclass(frozen=True)
class Cut:
    """Text cut where the model stops reading."""

    text: str  # what the model reads: the text up to the end of its last piece (all of it when nothing is cut)
    n_pieces: int  # WordPiece pieces of the whole text, [CLS] and [SEP] included
    limit: int  # pieces the model reads, [CLS] and [SEP] included
    last: str  # the last word (or part of a word) the model reads, "" when nothing is cut

    @property
    def cut(self) -> bool:
        return self.n_pieces > self.limit


def cut_to_pieces(text: str, tokenizer: _Tokenizer, limit: int = MODEL_PIECES) -> Cut:
    """Cut ``text`` after its first ``limit - 2`` WordPiece pieces (the model adds [CLS] and [SEP]).

    Args:
        tokenizer: a `tokenizers.Tokenizer` without truncation (its ``encode`` gives offsets and a special mask).
    """
    enc = tokenizer.encode(text)
    offsets = [(int(a), int(b)) for (a, b), s in zip(enc.offsets, enc.special_tokens_mask, strict=True) if not s]
    n = len(offsets) + 2
    if n <= limit:
        return Cut(text=text, n_pieces=n, limit=limit, last="")
    end = offsets[limit - 3][1]  # the end of the last piece kept
    start = offsets[limit - 3][0]
    # the whole word the kept piece belongs to, to quote: back to the previous space
    word_start = max(text.rfind(" ", 0, start) + 1, 0)
    return Cut(text=text[:end].rstrip(), n_pieces=n, limit=limit, last=text[word_start:end])


# --- one token's row and column -------------------------------------------------------------------------------
def as_matrix(weights: object) -> np.ndarray:
    """A square (T, T) map as float64 numpy, from a tensor (on any device) or an array."""
    if hasattr(weights, "detach"):
        weights = to_host(weights)  # type: ignore[arg-type]
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise AttnvizInputError(f"expected a square map (T, T), got shape {w.shape}")
    return w


@dataclass(frozen=True)
class Focus:
    """What one token looks at (its row) and who looks at it (its column)."""

    index: int  # the focused token
    row: np.ndarray  # (T,) the token's weights on every token: sums to 1 for attention weights
    column: np.ndarray  # (T,) every token's weight on the focused token


def focus(weights: object, index: int) -> Focus:
    """Row and column of token ``index`` in a (T, T) map."""
    w = as_matrix(weights)  # (T, T)
    if not 0 <= index < w.shape[0]:
        raise AttnvizInputError(f"token {index} is outside the text's {w.shape[0]} tokens")
    return Focus(index=index, row=w[index].copy(), column=w[:, index].copy())


def find(labels: Sequence[str], query: str) -> list[int]:
    """Positions of the tokens that match ``query``: whole label first (case ignored), else labels that contain it.

    A label "the·2" (a repeat, see `attnviz.labels.unique_labels`) matches "the"; WordPiece's "##" is ignored.
    """
    q = query.strip().lower()
    if not q:
        return []
    bare = [str(label).lower().split("·")[0].removeprefix("##") for label in labels]
    exact = [i for i, b in enumerate(bare) if b == q]
    return exact or [i for i, b in enumerate(bare) if q in b]


# --- the strongest links ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    source: int  # the row: the token that looks
    target: int  # the column: the token looked at
    weight: float


def top_links(weights: object, k: int = 10, *, self_links: bool = False, skip: Sequence[int] = ()) -> list[Link]:
    """The ``k`` largest cells of a (T, T) map, largest first (ties by position).

    Args:
        self_links: keep the diagonal (a token on itself); off by default, it says little about the text.
        skip: tokens whose rows and columns are left out (e.g. [CLS] and [SEP]).
    """
    w = as_matrix(weights).copy()  # (T, T)
    w[~np.isfinite(w)] = -np.inf
    if not self_links:
        np.fill_diagonal(w, -np.inf)
    for i in skip:
        w[i, :] = -np.inf
        w[:, i] = -np.inf
    flat = w.ravel()
    k = max(0, min(k, int(np.isfinite(flat).sum())))
    if k == 0:
        return []
    order = np.lexsort((np.arange(flat.size), -flat))[:k]  # largest first, ties in reading order
    T = w.shape[1]
    return [Link(int(i // T), int(i % T), float(flat[i])) for i in order]


# --- the block-averaged overview ----------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"[.!?;]+$|^\[SEP\]$")


def sentence_blocks(labels: Sequence[str]) -> list[int]:
    """Start of each sentence, by the tokens that end one (".", "!", "?", ";"): the end token belongs to its sentence.

    Returns:
        block starts, ascending, the first 0.
    """
    starts = [0]
    for i, label in enumerate(labels[:-1]):
        if _SENTENCE_END.search(str(label).split("·")[0]):
            starts.append(i + 1)
    return starts


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+")


def sentence_starts(text: str, count_words: Callable[[str], int]) -> list[int]:
    """Start of each sentence of ``text`` in a list of its words, for a tokenizer that drops punctuation (GloVe's).

    Args:
        count_words: how many words the tokenizer keeps from a piece of text; the text is split between sentences
            only at spaces, so the pieces' words are the whole text's words, in order.
    """
    starts, n = [], 0
    for part in _SENTENCE_SPLIT.split(text):
        count = count_words(part)
        if count:
            starts.append(n)
            n += count
    return starts or [0]


def fixed_blocks(n: int, size: int = BLOCK) -> list[int]:
    """Starts of runs of ``size`` tokens."""
    if size < 1:
        raise AttnvizInputError(f"a block needs at least one token, got {size}")
    return list(range(0, max(n, 1), size))


@dataclass(frozen=True)
class Blocks:
    """A map averaged over blocks of tokens."""

    starts: tuple[int, ...]  # first token of each block
    ends: tuple[int, ...]  # one past its last token
    mean: np.ndarray  # (B, B) mean weight of the cells between two blocks
    total: np.ndarray  # (B, B) the weight a row of block i gives block j, averaged over block i's rows


def block_average(weights: object, starts: Sequence[int]) -> Blocks:
    """Average a (T, T) map over blocks that start at ``starts``.

    ``total[i, j]`` is what a token of block i gives all of block j together, on average: rows of attention weights
    still sum to 1 over j, so the overview reads as the weights between parts of the text.
    """
    w = as_matrix(weights)  # (T, T)
    T = w.shape[0]
    s = sorted({int(x) for x in starts if 0 <= int(x) < T} | {0})
    e = [*s[1:], T]
    B = len(s)
    member = np.zeros((B, T))  # (B, T) one-hot block membership
    for b, (a, z) in enumerate(zip(s, e, strict=True)):
        member[b, a:z] = 1.0
    sizes = member.sum(axis=1)  # (B,)
    summed = member @ w @ member.T  # (B, B) weight from block i's rows to block j's columns
    total = summed / sizes[:, None]
    mean = total / sizes[None, :]
    return Blocks(starts=tuple(s), ends=tuple(e), mean=mean, total=total)


def block_labels(labels: Sequence[str], blocks: Blocks, width: int = 18) -> list[str]:
    """A label per block: its number and first words, e.g. "1 I walked by…" (the numbers name the columns)."""
    out = []
    for n, (a, z) in enumerate(zip(blocks.starts, blocks.ends, strict=True)):
        words = " ".join(str(x).split("·")[0] for x in labels[a:z])
        words = words if len(words) <= width else words[: width - 1].rstrip() + "…"
        out.append(f"{n + 1} {words}")
    return out


def thin_labels(
    labels: Sequence[str],
    length_px: float,
    *,
    font_px: float = 11.0,
    label_px: float | None = None,
    gap_px: float = 2.0,
) -> list[int]:
    """Which of ``labels`` to write on an axis ``length_px`` long so that none overlap: every n-th, n as small as fits.

    Args:
        font_px: font size; one label takes a line of it (1.25 × the size) along the axis, as on a y axis.
        label_px: the space one label takes along the axis when it is not one line (horizontal text on an x axis:
            its width), instead.
    Returns:
        indices, evenly spaced, starting at 0.
    """
    n = len(labels)
    if n == 0:
        return []
    per = max(length_px, 1.0) / n  # pixels one category gets
    need = (font_px * 1.25 if label_px is None else label_px) + gap_px
    step = max(1, int(np.ceil(need / per)))
    return list(range(0, n, step))

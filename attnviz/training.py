"""Learning M_Q and M_K for a stated goal on GloVe vectors, with a small torch loop.

The article's claim (after Vaswani et al., 2017): one set of learned matrices makes nouns attend to their
adjectives, another makes verbs attend to their subjects. Here the learner checks it. A labelled set of short
sentences names, for some query words, the word they should attend to; we fit M_Q and M_K so that in each of
those rows of softmax(Q·Kᵀ/√Dk) the target gets the most weight (cross-entropy), and we measure the share of
held-out rows whose largest score is the target. The vectors carry no position, so whatever is learned is
learned from meaning alone.

A data file (``assets/training/*.txt``)::

    # title: Nouns look at their adjective
    # goal: each noun that an adjective describes attends most to that adjective
    # try: my neighbour owns an enormous dog
    [train]
    the old man walked home<TAB>man>old
    [held-out]
    the brave soldier crossed the square<TAB>soldier>brave

Words are lower-case and separated by spaces; ``word#2`` names a word's second occurrence.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from gensim.models import KeyedVectors
from torch import Tensor

from attnviz.checks import whole_number
from attnviz.embeddings import vectors_for
from attnviz.errors import AttnvizInputError
from attnviz.projections import MAX_SEED, Projections, identity_projections, random_projections

MAX_STEPS = 2000  # a page's slider stays well below; this guards the API
_SECTIONS = {"[train]": "train", "[held-out]": "heldout"}
_REF = re.compile(r"^([^\s#>]+)(?:#(\d+))?$")


# ---------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Example:
    """One labelled sentence."""

    words: tuple[str, ...]  # T lower-case words
    pairs: tuple[tuple[int, int], ...]  # (query position, target position) pairs, 0-based

    def __post_init__(self) -> None:
        t = len(self.words)
        for q, s in self.pairs:
            if not (0 <= q < t and 0 <= s < t):
                raise AttnvizInputError(f"a pair ({q}, {s}) points outside a sentence of {t} words")


@dataclass(frozen=True)
class Dataset:
    """A goal and its labelled sentences, split once in the file (the split never depends on a seed)."""

    name: str  # short id, the file's stem: "noun_adjective"
    title: str  # "Nouns look at their adjective"
    goal: str  # one sentence: what the learned attention should do
    example: str  # a sentence in neither split, for the learner to try the result on ("" if none)
    train: tuple[Example, ...]
    heldout: tuple[Example, ...]

    @property
    def words(self) -> frozenset[str]:
        """Every word used, both splits."""
        return frozenset(w for ex in self.train + self.heldout for w in ex.words)


def parse_example(raw: str, where: str) -> Example:
    """One labelled line: a sentence, a tab, then query>target pairs (a word, or word#n for its n-th use).

    Raises:
        AttnvizInputError: naming `where` (file and line) when the line is not of that form.
    """
    sentence, tab, labels = raw.partition("\t")
    words = tuple(sentence.lower().split())
    if not tab or not words or not labels.split():
        raise AttnvizInputError(f"{where}: expected a sentence, a tab, then query>target pairs")
    pairs = []
    for pair in labels.split():
        query, arrow, target = pair.partition(">")
        if not arrow:
            raise AttnvizInputError(f"{where}: {pair!r} is not query>target")
        pairs.append((_resolve(query, words, where), _resolve(target, words, where)))
    return Example(words=words, pairs=tuple(pairs))


def _resolve(ref: str, words: Sequence[str], where: str) -> int:
    m = _REF.match(ref)
    if not m:
        raise AttnvizInputError(f"{where}: {ref!r} is not a word or word#n")
    word, nth = m.group(1), int(m.group(2) or 1)
    hits = [i for i, w in enumerate(words) if w == word]
    if len(hits) < nth:
        raise AttnvizInputError(f"{where}: {ref!r} is not in the sentence")
    return hits[nth - 1]


def parse_dataset(text: str, name: str = "dataset") -> Dataset:
    """Read a labelled data file (format in the module docstring).

    Raises:
        AttnvizInputError: a line outside a section, a pair that does not name words of its sentence, a
            sentence without pairs, or an empty split. Messages give the line number.
    """
    meta: dict[str, str] = {}
    splits: dict[str, list[Example]] = {"train": [], "heldout": []}
    section: str | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() in {"title", "goal", "try"}:
                meta[key.strip()] = value.strip()
            continue
        if line in _SECTIONS:
            section = _SECTIONS[line]
            continue
        where = f"{name}, line {n}"
        if section is None:
            raise AttnvizInputError(f"{where}: a sentence before [train] or [held-out]")
        splits[section].append(parse_example(raw, where))
    for split, examples in splits.items():
        if not examples:
            raise AttnvizInputError(f"{name}: the {'held-out' if split == 'heldout' else 'train'} split is empty")
    return Dataset(
        name=name,
        title=meta.get("title", name),
        goal=meta.get("goal", ""),
        example=meta.get("try", ""),
        train=tuple(splits["train"]),
        heldout=tuple(splits["heldout"]),
    )


def load_dataset(path: str | Path) -> Dataset:
    """`parse_dataset` on a file; the dataset is named after the file's stem."""
    path = Path(path)
    return parse_dataset(path.read_text(encoding="utf-8"), name=path.stem)


# ------------------------------------------------------------------------------------------------- tensors


@dataclass(frozen=True, eq=False)
class Batch:
    """Sentences padded to one length, and the labelled rows as flat index lists."""

    x: Tensor  # (B, T, D) word vectors, zeros past each sentence's end
    keys: Tensor  # (B, T) bool, True for real words
    sentence: Tensor  # (P,) which sentence each labelled row is in
    query: Tensor  # (P,) its query position
    target: Tensor  # (P,) the position it should attend to

    @property
    def chance(self) -> float:
        """The accuracy of picking a key at random: the mean of 1/T over the labelled rows."""
        lengths = self.keys.sum(dim=1).double()  # (B,)
        return float((1.0 / lengths[self.sentence]).mean())


def make_batch(kv: KeyedVectors, examples: Sequence[Example], device: torch.device | str = "cpu") -> Batch:
    """Look the words up in GloVe and pad.

    Raises:
        AttnvizInputError: no examples, or a word outside the vocabulary (named).
    """
    if not examples:
        raise AttnvizInputError("no sentences to learn from")
    missing = sorted({w for ex in examples for w in ex.words if w not in kv.key_to_index})
    if missing:
        raise AttnvizInputError(f"not in the vocabulary: {', '.join(missing)}")
    t_max = max(len(ex.words) for ex in examples)
    x = torch.zeros(len(examples), t_max, kv.vector_size, device=device)  # (B, T, D)
    keys = torch.zeros(len(examples), t_max, dtype=torch.bool, device=device)  # (B, T)
    sentence, query, target = [], [], []
    for b, ex in enumerate(examples):
        x[b, : len(ex.words)] = vectors_for(kv, ex.words, device)  # (T_b, D)
        keys[b, : len(ex.words)] = True
        for q, s in ex.pairs:
            sentence.append(b)
            query.append(q)
            target.append(s)

    def idx(values: list[int]) -> Tensor:
        return torch.tensor(values, dtype=torch.long, device=device)

    return Batch(x=x, keys=keys, sentence=idx(sentence), query=idx(query), target=idx(target))


def _labelled_rows(batch: Batch, m_q: Tensor, m_k: Tensor) -> Tensor:
    """The scaled scores of the labelled rows only, padded keys at -inf.

    Returns:
        (P, T)
    """
    q = batch.x[batch.sentence, batch.query] @ m_q  # (P, Dk) the query of each labelled row
    k = batch.x[batch.sentence] @ m_k  # (P, T, Dk) the keys of its sentence
    scores = (k @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(m_q.shape[1])  # (P, T)
    return scores.masked_fill(~batch.keys[batch.sentence], float("-inf"))


def attention_accuracy(batch: Batch, m_q: Tensor, m_k: Tensor) -> float:
    """The share of labelled rows whose largest score Q·Kᵀ (all keys, the word itself included) is the target."""
    with torch.no_grad():
        rows = _labelled_rows(batch, m_q, m_k)  # (P, T)
        return float((rows.argmax(dim=-1) == batch.target).double().mean())


def attention_loss(batch: Batch, m_q: Tensor, m_k: Tensor) -> Tensor:
    """Mean cross-entropy of the target under each labelled row's softmax(Q·Kᵀ/√Dk). A scalar tensor."""
    return F.cross_entropy(_labelled_rows(batch, m_q, m_k), batch.target)


# ---------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Every field is part of what makes a run reproducible."""

    steps: int = 150  # full-batch Adam steps
    width: int = 50  # Dk, columns of M_Q and M_K; 50 keeps Q in the same space as I (for the 2-D picture)
    lr: float = 0.01  # Adam's learning rate
    weight_decay: float = 1e-2  # an L2 pull on M_Q and M_K, which favours simple (low-rank) solutions
    seed: int = 0  # the starting matrices are `random_projections(D, width, seed)`

    def __post_init__(self) -> None:
        whole_number(self.steps, "steps", 1, MAX_STEPS)
        whole_number(self.width, "the width", 1)
        if not (self.lr > 0 and math.isfinite(self.lr)) or not (self.weight_decay >= 0):
            raise AttnvizInputError("the learning rate must be positive and the weight decay 0 or more")
        whole_number(self.seed, "the seed", 0, MAX_SEED)


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A finished run: the learned matrices, the loss curves and the held-out check against two baselines."""

    dataset: str  # Dataset.name
    config: TrainConfig
    m_q: Tensor  # (D, Dk) learned, on the CPU
    m_k: Tensor  # (D, Dk) learned, on the CPU
    losses: tuple[float, ...]  # training loss before each step (steps values)
    heldout_losses: tuple[float, ...]  # held-out loss at the same moments (never trained on)
    train_acc: float  # share of training rows whose largest score is the target, after training
    heldout_acc: float  # the same on the held-out sentences
    identity_acc: float  # held-out accuracy with M_Q = M_K = I (the similarity matrix S)
    random_acc: float  # held-out accuracy of the seeded random start, before any step
    chance: float  # held-out accuracy of picking a word at random: mean of 1/T
    seconds: float  # wall time of the loop

    def projections(self) -> Projections:
        """The learned M_Q and M_K, with M_V the identity (values stay GloVe vectors)."""
        d = self.m_q.shape[0]
        return Projections(name="trained here", m_q=self.m_q, m_k=self.m_k, m_v=torch.eye(d))


StepCallback = Callable[[int, float, float], None]  # (step done, 1-based; training loss; held-out loss)


def train_projections(
    dataset: Dataset,
    kv: KeyedVectors,
    config: TrainConfig | None = None,
    on_step: StepCallback | None = None,
    device: torch.device | str = "cpu",
) -> TrainResult:
    """Fit M_Q and M_K so that each labelled query word attends most to its target.

    Deterministic: the same dataset, config and device give the same matrices. ``on_step`` is called after
    every step; if it raises (a page's rerun interrupting the loop), the exception propagates and nothing is
    returned, so a half-trained result is never kept.

    Args:
        dataset: from `load_dataset`.
        kv: GloVe vectors.
        config: TrainConfig; default TrainConfig().
        on_step: progress callback.
    Returns:
        TrainResult.
    """
    config = TrainConfig() if config is None else config
    train = make_batch(kv, dataset.train, device)
    heldout = make_batch(kv, dataset.heldout, device)
    d = kv.vector_size
    start = random_projections(d, config.width, config.seed, device=device)
    eye = identity_projections(d, device=device).m_q  # (D, D)

    # 1. start from the seeded random matrices: they are the "random" baseline
    m_q = start.m_q.clone().requires_grad_(True)  # (D, Dk)
    m_k = start.m_k.clone().requires_grad_(True)  # (D, Dk)
    random_acc = attention_accuracy(heldout, m_q, m_k)
    opt = torch.optim.Adam([m_q, m_k], lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    heldout_losses: list[float] = []
    began = time.perf_counter()
    with torch.enable_grad():
        for step in range(1, config.steps + 1):
            # 2. full batch: every labelled row of every training sentence
            opt.zero_grad(set_to_none=True)
            loss = attention_loss(train, m_q, m_k)
            with torch.no_grad():
                held = float(attention_loss(heldout, m_q, m_k))
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            heldout_losses.append(held)
            if on_step is not None:
                on_step(step, losses[-1], held)
    seconds = time.perf_counter() - began
    m_q, m_k = m_q.detach().cpu(), m_k.detach().cpu()
    train_cpu = make_batch(kv, dataset.train)
    heldout_cpu = make_batch(kv, dataset.heldout)
    return TrainResult(
        dataset=dataset.name,
        config=config,
        m_q=m_q,
        m_k=m_k,
        losses=tuple(losses),
        heldout_losses=tuple(heldout_losses),
        train_acc=attention_accuracy(train_cpu, m_q, m_k),
        heldout_acc=attention_accuracy(heldout_cpu, m_q, m_k),
        identity_acc=attention_accuracy(heldout_cpu, eye.cpu(), eye.cpu()),
        random_acc=random_acc,
        chance=heldout.chance,
        seconds=seconds,
    )


__all__ = [
    "MAX_STEPS",
    "Batch",
    "Dataset",
    "Example",
    "TrainConfig",
    "TrainResult",
    "attention_accuracy",
    "attention_loss",
    "load_dataset",
    "make_batch",
    "parse_dataset",
    "train_projections",
]

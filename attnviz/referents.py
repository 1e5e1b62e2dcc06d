"""Heads that follow a pronoun's referent, ranked on several minimal pairs and tested on pairs held out.

One minimal pair cannot show what a head does: among 72 heads, one will move most on any pair, for reasons of that
pair alone. So the heads are ranked by their mean `attnviz.probes.shift_scores` over some pairs, and the heads ranked
first are then scored on other pairs that played no part in the ranking (a held-out test, as for any selection made
on data: the score of the chosen head on the pairs it was chosen on is biased upward).

The pairs are Winograd-style (Levesque, Davis and Morgenstern, "The Winograd Schema Challenge", 2012): two
sentences that differ in one word, so that the pronoun means one noun in sentence A and the other in sentence B.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.errors import AttnvizInputError
from attnviz.pretrained import Model, check_top, top_heads
from attnviz.probes import referent_shift

SECTIONS = ("[ranking]", "[held-out]")


@dataclass(frozen=True)
class MinimalPair:
    """Two sentences that differ in one word; the pronoun means ``referent_a`` in A and ``referent_b`` in B."""

    text_a: str
    text_b: str
    pronoun: str
    referent_a: str
    referent_b: str

    @property
    def name(self) -> str:
        return f"{self.referent_a} / {self.referent_b}"


@dataclass(frozen=True)
class PairSets:
    """The pairs of a file: those the heads are ranked on, and those held out of the ranking."""

    ranking: tuple[MinimalPair, ...]
    held_out: tuple[MinimalPair, ...]


def parse_minimal_pairs(text: str, name: str = "pairs") -> PairSets:
    """Read ``[ranking]`` and ``[held-out]`` sections of pairs: one a line, five tab-separated fields (sentence A,
    sentence B, the pronoun, its referent in A, its referent in B); blank lines and ``#`` comments are skipped.

    Raises:
        AttnvizInputError: a line outside a section, a line without five fields, or a section with no pairs.
    """
    sets: dict[str, list[MinimalPair]] = {s: [] for s in SECTIONS}
    section = None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line in SECTIONS:
            section = line
            continue
        fields = [f.strip() for f in raw.split("\t")]
        if section is None or len(fields) != 5 or not all(fields):
            raise AttnvizInputError(f"{name}, line {n}: expected five tab-separated fields inside a section")
        sets[section].append(MinimalPair(*fields))
    for s in SECTIONS:
        if not sets[s]:
            raise AttnvizInputError(f"{name}: no pairs under {s}")
    return PairSets(ranking=tuple(sets["[ranking]"]), held_out=tuple(sets["[held-out]"]))


def rank_of(scores: Tensor, head: tuple[int, int]) -> int:
    """1 + the number of heads that score strictly more than ``head`` on an (L, H) score (a tie shares the rank)."""
    return 1 + int((scores > scores[head]).sum())


@dataclass(frozen=True, eq=False)
class HeldOutHeads:
    """Every head ranked on some minimal pairs, and scored on pairs held out of the ranking."""

    pairs: PairSets
    ranking_scores: Tensor  # (R, L, H) `shift_scores` of every head on each ranking pair
    held_scores: Tensor  # (P, L, H) the same on each held-out pair
    ranking_mean: Tensor  # (L, H) mean over the ranking pairs: what the heads are ranked by
    held_mean: Tensor  # (L, H) mean over the held-out pairs
    top: tuple[tuple[int, int], ...]  # (layer, head), 0-based, by ranking_mean, highest first
    top_held_ranks: tuple[int, ...]  # P: the rank of top[0] among all heads on each held-out pair (1 = first)
    top_held_mean_rank: int  # the rank of top[0]'s held-out mean among all heads' held-out means
    best_held: tuple[tuple[int, int], ...]  # P: the head that scores most on each held-out pair


def held_out_heads(model: Model, pairs: PairSets, *, top: int = 5) -> HeldOutHeads:
    """Rank every head by its mean `shift_scores` on ``pairs.ranking``; score it on ``pairs.held_out``.

    Each pair is measured as `attnviz.probes.referent_shift` measures it (raw weights, summed over a referent's
    pieces, averaged over the pronoun's).

    Raises:
        AttnvizInputError: a pair whose sentence lacks one of its three words, or names the same word twice.
    """
    check_top(top)

    def scores(group: Sequence[MinimalPair]) -> Tensor:
        found = []
        for p in group:
            try:
                shift = referent_shift(model, p.text_a, p.text_b, p.pronoun, p.referent_a, p.referent_b, top=1)
            except AttnvizInputError as err:
                raise AttnvizInputError(f"pair {p.name}: {err}") from None
            found.append(shift.score.float().cpu())
        return torch.stack(found)  # (N, L, H)

    ranking, held = scores(pairs.ranking), scores(pairs.held_out)  # (R, L, H), (P, L, H)
    ranking_mean, held_mean = ranking.mean(dim=0), held.mean(dim=0)  # (L, H) each
    order = top_heads(ranking_mean, top)
    first = order[0]
    return HeldOutHeads(
        pairs=pairs,
        ranking_scores=ranking,
        held_scores=held,
        ranking_mean=ranking_mean,
        held_mean=held_mean,
        top=order,
        top_held_ranks=tuple(rank_of(s, first) for s in held),
        top_held_mean_rank=rank_of(held_mean, first),
        best_held=tuple(top_heads(s, 1)[0] for s in held),
    )


__all__ = ["HeldOutHeads", "MinimalPair", "PairSets", "held_out_heads", "parse_minimal_pairs", "rank_of"]

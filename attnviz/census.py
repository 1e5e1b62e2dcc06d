"""A census of a model's heads: where each head's weight goes on a text, and a label for what it mostly does.

For every head, averaged over the rows of the text's own tokens ([CLS] and [SEP] are not rows of the census, but
they are keys that a row can look at):

- the share of its weight on the token just before (previous), just after (next), on itself, and on [CLS] and
  [SEP] (the "sinks"); what is left is "elsewhere". The five shares of a head sum to 1. The previous and next
  token are the text's own tokens: for the first token, the token before is [CLS], a sink.
- the entropy of its rows, in bits: 0 for a row that puts all its weight on one key, log2(T) for one that spreads
  it evenly over all T keys; "spread" is the entropy as a share of that most, so that texts of different lengths
  compare.
- the mean distance it looks, in tokens: Σ_i Σ_j w_ij·|i − j| over the text's own keys j, divided by the weight
  on them, Σ_i Σ_j w_ij (the sinks sit at the two ends, so counting them would make every head that parks look
  far); 0 for a head that puts no weight on the text at all.

Clark et al., "What Does BERT Look At? An Analysis of BERT's Attention" (2019), sort BERT's heads by the same
kinds of target: the previous and next token, [CLS] and [SEP], and broad attention (high entropy).

`label_heads` turns the figures into one label per head with the thresholds below; the page shows them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.errors import AttnvizInputError
from attnviz.heads import entropy_bits

# A head gets a pattern's label when more than this share of its weight goes to that one target (previous token,
# next token, itself, or the sinks). The four targets do not overlap, so at most one share can pass one half.
DOMINANT_SHARE = 0.5
# Otherwise: "broad" when its rows' entropy is at least this share of the most they could have (even weights on
# every key) ...
BROAD_SPREAD = 0.6
# ... else "local" when it looks at most this many tokens away on average (on our four paragraphs, 64–81 tokens
# each, a head that spreads its weight evenly looks about 20 tokens away) ...
LOCAL_DISTANCE = 3.0
# ... else "mixed": none of the above.

LABELS = ("previous-token", "next-token", "self", "sink", "broad", "local", "mixed")


@dataclass(frozen=True, eq=False)
class HeadCensus:
    """Every head's figures on one text (or several, `merge`), averaged over the rows of the text's own tokens."""

    previous: Tensor  # (L, H) weight on the token at t − 1 (a text token, not [CLS])
    next: Tensor  # (L, H) weight on the token at t + 1 (a text token, not [SEP])
    itself: Tensor  # (L, H) weight a token gives itself
    special: Tensor  # (L, H) weight on [CLS] and [SEP], the sinks
    elsewhere: Tensor  # (L, H) the rest: 1 − the four above
    entropy: Tensor  # (L, H) row entropy in bits
    spread: Tensor  # (L, H) row entropy / log2(T), 0 to 1
    distance: Tensor  # (L, H) mean |i − j| of the weight on the text's own keys, in tokens
    rows: int  # how many token rows were averaged

    @property
    def neighbours(self) -> Tensor:
        """(L, H) weight on the tokens right beside: previous + next."""
        return self.previous + self.next

    def heads_over(self, share: float = 0.5) -> Tensor:
        """(L,) per layer, how many heads put more than ``share`` of their weight on the neighbours."""
        return (self.neighbours > share).sum(-1)  # written so that it works on numpy arrays too (`fields_to_host`)

    @property
    def heads_over_half(self) -> Tensor:
        """(L,) per layer, how many heads put more than half their weight on the neighbours."""
        return self.heads_over(0.5)


def layer_census(weights: Tensor, special: Sequence[bool]) -> HeadCensus:
    """Every head's census on one text.

    Args:
        weights: (L, H, T, T) attention weights, special tokens kept, rows summing to 1.
        special: T flags, True for [CLS] and [SEP].
    Returns:
        HeadCensus, averaged over the rows of the non-special tokens.
    Raises:
        AttnvizInputError: the flags do not fit the map, or the text has no tokens of its own.
    """
    t = weights.shape[-1]
    if len(special) != t or weights.shape[-2] != t:
        raise AttnvizInputError(f"{len(special)} flags do not fit a map of {tuple(weights.shape)}")
    flags = torch.tensor(list(special), dtype=torch.bool, device=weights.device)  # (T,)
    rows = (~flags).nonzero().flatten()  # (R,)
    if rows.numel() == 0:
        raise AttnvizInputError("the sentence has no words, only [CLS] and [SEP]")
    w = weights[..., rows, :].double()  # (L, H, R, T)
    pos = torch.arange(t, device=weights.device)  # (T,)
    offset = pos[None, :] - rows[:, None]  # (R, T) key position − query position
    own = ~flags  # (T,) keys that are the text's own tokens

    def at(step: int) -> Tensor:  # (L, H) mean weight of each row on the key `step` places away, if a text token
        key = rows + step  # (R,)
        valid = (key >= 0) & (key < t)  # (R,)
        valid &= own[key.clamp(0, t - 1)]
        picked = w.gather(-1, key.clamp(0, t - 1)[None, None, :, None].expand(*w.shape[:-1], 1))[..., 0]  # (L, H, R)
        return (picked * valid).mean(-1)

    previous, nxt, itself = at(-1), at(1), at(0)  # [CLS]/[SEP] are never a row, so a row's own key is its text's
    row_total = w.sum(-1)  # (L, H, R) 1 up to rounding
    row_special = w[..., flags].sum(-1)  # (L, H, R) weight on [CLS] and [SEP]
    on_special = row_special.mean(-1)  # (L, H)
    elsewhere = (row_total.mean(-1) - previous - nxt - itself - on_special).clamp_min(0.0)  # (L, H)

    entropy = entropy_bits(w).mean(-1)  # (L, H) mean row entropy, bits
    spread = entropy / math.log2(t) if t > 1 else torch.zeros_like(entropy)  # (L, H)
    on_text = (row_total - row_special).sum(-1)  # (L, H) weight on the text's own keys, all rows
    far = torch.einsum("lhrt,rt->lh", w, (offset.abs() * own).to(w.dtype))  # (L, H) Σ_i Σ_j w_ij |i − j| over them
    distance = torch.where(on_text > 0, far / on_text.clamp_min(1e-30), 0.0)  # (L, H)
    dtype = weights.dtype
    return HeadCensus(
        previous=previous.to(dtype),
        next=nxt.to(dtype),
        itself=itself.to(dtype),
        special=on_special.to(dtype),
        elsewhere=elsewhere.to(dtype),
        entropy=entropy.to(dtype),
        spread=spread.to(dtype),
        distance=distance.to(dtype),
        rows=int(rows.numel()),
    )


def merge(censuses: Sequence[HeadCensus]) -> HeadCensus:
    """The census of several texts together: each figure averaged over all their rows (a longer text counts more),
    the distance over all their weight on their own tokens.

    Raises:
        AttnvizInputError: no census to merge.
    """
    if not censuses:
        raise AttnvizInputError("no texts to take a census of")
    total = sum(c.rows for c in censuses)

    def pool(name: str) -> Tensor:
        return sum(getattr(c, name) * (c.rows / total) for c in censuses)  # (L, H)

    names = ("previous", "next", "itself", "special", "elsewhere", "entropy", "spread")
    # the distance is a mean over the weight on the text's own keys, Σ rows · (1 − special) of it in each census
    on_text = [c.rows * (1 - c.special) for c in censuses]  # (L, H) each
    weight = sum(on_text)  # (L, H)
    far = sum(c.distance * n for c, n in zip(censuses, on_text, strict=True))  # (L, H)
    distance = torch.where(weight > 0, far / weight.clamp_min(1e-30), 0.0)  # (L, H)
    return HeadCensus(**{name: pool(name) for name in names}, distance=distance, rows=total)


def label_heads(census: HeadCensus) -> list[list[str]]:
    """One label per head, from `LABELS`, by the thresholds above: [layer][head].

    The first that applies: previous-token, next-token, self or sink when that target has more than
    `DOMINANT_SHARE` of the weight; broad when `spread` ≥ `BROAD_SPREAD`; local when `distance` ≤
    `LOCAL_DISTANCE`; mixed.
    """
    targets = torch.stack([census.previous, census.next, census.itself, census.special], dim=-1)  # (L, H, 4)
    top, which = (x.tolist() for x in targets.max(dim=-1))  # [L][H] each
    spread, distance = census.spread.tolist(), census.distance.tolist()  # [L][H] each
    labels: list[list[str]] = []
    for layer, row_top in enumerate(top):
        row = []
        for head, share in enumerate(row_top):
            if share > DOMINANT_SHARE:
                row.append(LABELS[which[layer][head]])
            elif spread[layer][head] >= BROAD_SPREAD:
                row.append("broad")
            elif distance[layer][head] <= LOCAL_DISTANCE:
                row.append("local")
            else:
                row.append("mixed")
        labels.append(row)
    return labels

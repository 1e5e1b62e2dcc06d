"""Reformer: locality-sensitive hashing puts similar tokens in the same bucket; attend only inside it.

Kitaev, Kaiser, Levskaya, "Reformer: The Efficient Transformer" (2020). Per round of hashing:

    1. bucket(x) = argmax([x·R ; −x·R])  for a random rotation R (D × n_buckets/2): angular LSH, so that
       vectors pointing the same way tend to share a bucket
    2. sort the tokens by (bucket, position) and cut the sorted sequence into chunks of c
    3. each chunk attends to itself and the chunk before it, only to keys in the same bucket; a token
       attends to itself only when it has no other key (with shared Q = K its own score would dominate)
    4. the rounds are joined as slices of one softmax; a pair met in m rounds is counted once (its score
       lowered by log m). The paper takes m = rounds in which the two share a bucket; here m counts the rounds
       in which they actually met (same bucket and adjacent chunks), so the result is exact attention on the
       union of what the rounds looked at

The Reformer ties keys to queries (shared-QK attention): bucketing uses the queries, and a key is in its
token's bucket. Pass k = q (or unit-length q) for the paper's setting; a separate k is scored as given.
Time O(n_rounds·T·(c + n_buckets)·D): attending within chunks, and hashing (each token against the n_buckets/2
columns of every rotation). Extra memory grows like T, whatever the number of buckets: the rotated tokens are
made a block of rows at a time and the chunk scores a group of chunks at a time (lsh.HASH_BLOCK, ATTEND_BLOCK), so
only per-token results (sort orders, each round's partial outputs) grow with T. The blocks change no result: the
buckets are bit for bit those of hashing everything at once, and the outputs those of attending every chunk at once
up to float rounding (a batched product of another size may add in another order: a last-bit difference, 6e-8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import (
    LN2,
    LOG2E,
    NEG_INF,
    Partial,
    as_mask_4d,
    check_qkv,
    flat,
    mask_gather_per_row,
    merge_,
    partial_softmax_,
    resolve_scale,
)
from attnviz.efficient.lsh import lsh_buckets, lsh_settings
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText

# the (base-2) score given to a token's key for itself: finite, so a token alone in its bucket still attends
# to itself, and far below any real score, so that it does not when it has company
SELF_SCORE = -1e5

# at most about this many scores (queries × keys, over the chunks attended together and the heads)
ATTEND_BLOCK = 1 << 22


@dataclass(frozen=True, kw_only=True)
class ReformerAttention(Attention):
    """Reformer's result. ``weights`` (T×S, zero where no round looked) only with return_weights=True."""

    buckets: Tensor  # (R, ..., T) long, the bucket of every token in every round
    rotations: Tensor  # (R, D, n_buckets/2) the random rotation of each round
    chunk_size: int  # c, sorted tokens per chunk
    logsumexp: Tensor  # (..., T) log of each row's softmax denominator


def _chunks(x: Tensor, n_chunks: int, chunk: int) -> Tensor:
    """(N, T, ·) sorted → (N, nc, c, ·), padded at the end."""
    pad = n_chunks * chunk - x.shape[1]
    if x.dim() == 2:
        return torch.nn.functional.pad(x, (0, pad), value=-1).view(x.shape[0], n_chunks, chunk)
    return torch.nn.functional.pad(x, (0, 0, 0, pad)).view(x.shape[0], n_chunks, chunk, -1)


def _with_previous(x: Tensor, fill: float) -> Tensor:
    """(N, nc, c, ·) → (N, nc, 2c, ·): each chunk preceded by the one before it (the first by ``fill``)."""
    before = torch.cat([torch.full_like(x[:, :1], fill), x[:, :-1]], dim=1)
    return torch.cat([before, x], dim=2)


def _round_pairs(buckets: Tensor, n_chunks: int, chunk: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """For one round: sort order, and for every chunk the positions and buckets of its queries and keys.

    Args:
        buckets: (N, T) long.
    Returns:
        order (N, T); pos_q (N, nc, c), pos_k (N, nc, 2c) with -1 for padding; bucket_q, bucket_k alike;
        and key_ok (N, nc, 2c) bool.
    """
    t = buckets.shape[1]
    pos = torch.arange(t, device=buckets.device)
    order = torch.argsort(buckets * t + pos, dim=1)  # (N, T) by bucket, then position
    pos_q = _chunks(order, n_chunks, chunk)  # (N, nc, c), -1 where padded
    bucket_q = _chunks(buckets.gather(1, order), n_chunks, chunk)  # (N, nc, c)
    pos_k = _with_previous(pos_q, -1)  # (N, nc, 2c)
    bucket_k = _with_previous(bucket_q, -1)  # (N, nc, 2c)
    return order, pos_q, pos_k, bucket_q, bucket_k, pos_k >= 0


def _weights(q: Tensor, k: Tensor, lse: Tensor, scale: float, allowed: Tensor, exclude_self: bool) -> Tensor:
    """The T×S weights the pass used, rebuilt from its log-sum-exps (pictures, small T).

    Args:
        q: (..., T, D), k: (..., T, D), lse: (..., T), allowed: (..., T, T) bool, the pattern.
    Returns:
        (..., T, T), zero off the pattern.
    """
    t = q.shape[-2]
    scaled = (q @ k.transpose(-2, -1)) * scale  # (..., T, T)
    if exclude_self:  # the score each token really gave itself
        scaled = scaled.masked_fill(torch.eye(t, dtype=torch.bool, device=q.device), SELF_SCORE * LN2)
    return torch.exp(scaled - lse.unsqueeze(-1)).masked_fill(~allowed, 0.0)  # (..., T, T)


def reformer_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    n_buckets: int = 8,
    n_rounds: int = 1,
    chunk_size: int | None = None,
    seed: int = 0,
    exclude_self: bool = True,
    return_weights: bool = False,
) -> ReformerAttention:
    # One function on purpose: the LSH pass, steps 1–4 per round in order, read beside the paper's figure.
    """LSH attention: each token attends to the tokens hashed into its bucket, within sorted chunks.

    Args:
        q: (..., T, D) queries; they decide the buckets.
        k: (..., T, D) keys of the same tokens (k = q is the Reformer's shared-QK setting).
        v: (..., T, Dv) values.
        mask: bool broadcastable to (..., T, T), True where allowed; intersected with the buckets.
        scale: multiplies the scores; default 1/√D.
        n_buckets: 1 (all in one bucket) or an even number.
        n_rounds: independent hashings; more rounds, fewer similar pairs missed.
        chunk_size: c, sorted tokens per chunk; default about 2·T/n_buckets (T when n_buckets = 1).
        seed: which random rotations.
        exclude_self: a token attends to itself only when it has no other key (the paper's rule).
        return_weights: also rebuild the T×S weights for pictures, small T.
    Returns:
        ReformerAttention. With one bucket (and exclude_self=False) it equals exact attention.
    """
    check_qkv(q, k, v, self_attention=True)
    scale = resolve_scale(scale, q.shape[-1])
    lead, t, dv = q.shape[:-2], q.shape[-2], v.shape[-1]
    n_buckets, n_rounds, chunk = lsh_settings(t, n_buckets, n_rounds, chunk_size)
    if mask is not None:
        mask = as_mask_4d(mask, lead)
    n_chunks = -(-t // chunk)
    buckets, rotations = lsh_buckets(q, n_buckets, n_rounds, seed)  # (R, ..., T)
    all_buckets = buckets.reshape(n_rounds, -1, t)  # (R, N, T)
    q3, k3, v3 = flat(q * (scale * LOG2E)), flat(k), flat(v)  # (N, T, ·), base-2 scores (see _common)
    n = q3.shape[0]

    def gather(x: Tensor, pos: Tensor) -> Tensor:  # x (N, T, ·) at positions pos (N, ...) → (N, ..., ·)
        idx = pos.clamp(min=0).reshape(n, -1, 1).expand(-1, -1, x.shape[-1])
        return x.gather(1, idx).view(*pos.shape, x.shape[-1])

    # the chunk every token lands in, per round (to count the rounds in which a pair meets)
    pos = torch.arange(t, device=q.device)
    ranks = torch.argsort(torch.argsort(all_buckets * t + pos, dim=-1), dim=-1)  # (R, N, T) sorted place
    chunk_of = ranks // chunk  # (R, N, T)

    def attend(pos_q: Tensor, pos_k: Tensor, bucket_q: Tensor, bucket_k: Tensor, key_ok: Tensor) -> Partial:
        """3-4 for some chunks of one round: pos_q, bucket_q (N, G, c); pos_k, bucket_k, key_ok (N, G, 2c)."""
        # 3. scores inside the chunks, kept only within the same bucket
        scores = gather(q3, pos_q) @ gather(k3, pos_k).transpose(-2, -1)  # (N, G, c, 2c)
        allowed = (bucket_q[..., :, None] == bucket_k[..., None, :]) & key_ok[..., None, :]  # (N, G, c, 2c)
        if mask is not None:
            allowed &= mask_gather_per_row(
                mask, lead, pos_q.clamp(min=0)[..., :, None], pos_k.clamp(min=0)[..., None, :]
            )
        if exclude_self:
            is_self = pos_q[..., :, None] == pos_k[..., None, :]
            scores.masked_fill_(is_self & allowed, SELF_SCORE)  # in place: scores is ours
        if n_rounds > 1:
            # 4. a pair met in m rounds would count m times: weigh each meeting by 1/m
            met = torch.zeros_like(scores)  # (N, G, c, 2c)
            for other_buckets, other_chunk in zip(all_buckets, chunk_of, strict=True):  # (N, T) each
                same_bucket = _at(other_buckets, pos_q)[..., :, None] == _at(other_buckets, pos_k)[..., None, :]
                gap = _at(other_chunk, pos_q)[..., :, None] - _at(other_chunk, pos_k)[..., None, :]
                met += same_bucket & ((gap == 0) | (gap == 1))  # same chunk, or the key's chunk just before
            scores -= met.clamp_min(1.0).log2()  # base 2, as the scores
        scores.masked_fill_(~allowed, NEG_INF)
        return partial_softmax_(scores, gather(v3, pos_k))  # fields (N, G, c, ·), in sorted order

    # chunks attended together: their scores and masks (N·G·c·2c each) stay a fixed size however long T is
    group = max(1, ATTEND_BLOCK // max(1, n * chunk * 2 * chunk))
    parts = []
    for r in range(n_rounds):
        # 1-2. sort by bucket, cut into chunks, pair each chunk with the one before
        order, pos_q, pos_k, bucket_q, bucket_k, key_ok = _round_pairs(all_buckets[r], n_chunks, chunk)
        row_max = q3.new_empty(n, n_chunks, chunk, 1)  # in sorted order, as the chunks
        row_sum = q3.new_empty(n, n_chunks, chunk, 1)
        acc = v3.new_empty(n, n_chunks, chunk, dv)
        for first in range(0, n_chunks, group):
            g = slice(first, first + group)
            part = attend(pos_q[:, g], pos_k[:, g], bucket_q[:, g], bucket_k[:, g], key_ok[:, g])
            row_max[:, g], row_sum[:, g], acc[:, g] = part.row_max, part.row_sum, part.acc
        # back from sorted order to positions
        parts.append(
            Partial(row_max=_unsort(row_max, order, t), row_sum=_unsort(row_sum, order, t), acc=_unsort(acc, order, t))
        )
    output3, lse3 = merge_(parts)  # (N, T, Dv), (N, T)
    output, lse = output3.view(*lead, t, dv), lse3.view(*lead, t)

    weights = None
    if return_weights:
        allowed_tt = reformer_mask(
            q, n_buckets=n_buckets, n_rounds=n_rounds, chunk_size=chunk, seed=seed, exclude_self=exclude_self, mask=mask
        )
        weights = _weights(q, k, lse, scale, allowed_tt, exclude_self)  # (..., T, T)
    return ReformerAttention(
        output=output,
        weights=weights,
        scale=scale,
        buckets=buckets,
        rotations=rotations,
        chunk_size=chunk,
        logsumexp=lse,
    )


def _at(x: Tensor, pos: Tensor) -> Tensor:
    """x (N, T) read at positions pos (N, ...) (padding, -1, reads position 0)."""
    return x.gather(1, pos.clamp(min=0).reshape(x.shape[0], -1)).view(pos.shape)


def _unsort(x: Tensor, order: Tensor, t: int) -> Tensor:
    """(N, nc, c, ·) in sorted order → (N, T, ·) in token order."""
    n = x.shape[0]
    x = x.reshape(n, -1, x.shape[-1])[:, :t]  # (N, T, ·) sorted
    out = torch.empty_like(x)
    return out.scatter_(1, order.unsqueeze(-1).expand_as(x), x)


def reformer_mask(
    q: Tensor,
    *,
    n_buckets: int = 8,
    n_rounds: int = 1,
    chunk_size: int | None = None,
    seed: int = 0,
    exclude_self: bool = True,
    mask: Tensor | None = None,
) -> Tensor:
    """Which pairs LSH attention looks at in any round, as a picture, without attending.

    Args:
        q: (..., T, D) the queries that decide the buckets.
        mask: bool broadcastable to (..., T, T), the mask given to the attention (it decides which tokens
            are left alone with themselves).
    Returns:
        (..., T, T) bool.
    """
    lead, t = q.shape[:-2], q.shape[-2]
    n_buckets, n_rounds, chunk = lsh_settings(t, n_buckets, n_rounds, chunk_size)
    n_chunks = -(-t // chunk)
    buckets, _ = lsh_buckets(q, n_buckets, n_rounds, seed)
    all_buckets = buckets.reshape(n_rounds, -1, t)  # (R, N, T)
    n = all_buckets.shape[1]
    seen = torch.zeros(n, t + 1, t + 1, dtype=torch.bool, device=q.device)  # one spare row/column for padding
    for r in range(n_rounds):
        _, pos_q, pos_k, bucket_q, bucket_k, key_ok = _round_pairs(all_buckets[r], n_chunks, chunk)
        pair = (bucket_q[..., :, None] == bucket_k[..., None, :]) & key_ok[..., None, :]  # (N, nc, c, 2c)
        if exclude_self:
            pair &= pos_q[..., :, None] != pos_k[..., None, :]
        rows = pos_q.masked_fill(pos_q < 0, t)[..., :, None].expand_as(pair)
        cols = pos_k.masked_fill(pos_k < 0, t)[..., None, :].expand_as(pair)
        batch = torch.arange(n, device=q.device).view(n, 1, 1, 1).expand_as(pair)
        seen[batch[pair], rows[pair], cols[pair]] = True
    seen = seen[:, :t, :t].view(*lead, t, t)
    if mask is not None:
        mask = as_mask_4d(mask, lead).expand(*lead, t, t)
        seen = seen & mask
    if exclude_self:
        alone = ~seen.any(dim=-1)  # (..., T) tokens with no other key attend to themselves
        if mask is not None:
            alone &= mask.diagonal(dim1=-2, dim2=-1)  # unless the mask forbids even that
        seen = seen | torch.diag_embed(alone)
    return seen


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _reformer_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    # The paper's shared-QK attention: the comparison passes k = q/‖q‖, and a token attends to itself only when
    # nothing else is in its bucket (q·q/‖q‖ would always win)
    return {"n_buckets": int(knobs["buckets"]), "n_rounds": int(knobs["rounds"]), "exclude_self": True, "seed": 0}


def _reformer_pattern(q: Tensor, kwargs: Mapping[str, object]) -> Tensor:
    return reformer_mask(
        q,
        n_buckets=int(kwargs["n_buckets"]),  # type: ignore[call-overload]
        n_rounds=int(kwargs["n_rounds"]),  # type: ignore[call-overload]
        seed=int(kwargs.get("seed", 0)),  # type: ignore[call-overload]
        exclude_self=bool(kwargs.get("exclude_self", True)),
    )


def _reformer_bench(t: int, heads: int) -> dict[str, object]:
    """The bench's setting: buckets of about 64 tokens (chunks of about 128), 2 rounds."""
    return {"n_buckets": max(2, 2 * (t // 128)), "n_rounds": 2}


SPEC = VariantSpec(
    name="reformer",
    fn=reformer_attention,
    kind="pattern",
    text=VariantText(
        title="Reformer (LSH attention)",
        paper="Kitaev et al., 2020",
        knobs={
            "buckets": KnobText(
                label="Buckets",
                help=(
                    "Angular LSH: a random rotation R sends x to bucket argmax [xR; −xR], so vectors pointing the "
                    "same way tend to share a bucket."
                ),
            ),
            "rounds": KnobText(
                label="Rounds of hashing",
                help="Each round hashes with a new R; a pair counts if it met in any round.",
            ),
        },
        formula=(
            r"\begin{gathered}k_s = \frac{q_s}{\lVert q_s\rVert},\quad h(x) = \arg\max\,[xR;\,-xR],\quad c = \lceil "
            r"2T/n_{\text{buckets}} \rceil \\ t \text{ sees } s \ne t \iff \exists r\!:\; h_r(q_t) = h_r(q_s) "
            r"\,\land\, \mathrm{chunk}_r(s) \in \{\mathrm{chunk}_r(t),\, \mathrm{chunk}_r(t) - 1\}\end{gathered}"
        ),
        time="O(R·T·(n_buckets + c)·D) plus a sort: hashing, then chunks of c sorted tokens",
        memory="O(R·T·c)",
        keeps_exact="exact softmax on the pairs its buckets and chunks allow",
        costs="pairs hashed apart in every round, even when their weight is large",
        choose_when="very long inputs where each query needs only its nearest keys",
    ),
    knobs=(Knob("buckets", (1, 2, 4, 6, 8, 12, 16), 4), Knob("rounds", (1, 2, 3, 4, 6, 8), 1)),
    to_kwargs=_reformer_kwargs,
    pattern=_reformer_pattern,
    random=lambda knobs: True,
    swept="rounds",
    shared_qk=True,
    in_model={"exclude_self": False},  # with the model's own keys, not shared-QK: its own key stays
    exact_when=lambda kwargs, t, heads: None,  # its buckets depend on the queries: no answer from T alone
    page_part="app_support.efficient.efficient_reformer",
    # the bench's keys are the queries as they are (k = q), not at unit length as on page 6: see worker_errors
    bench=(BenchRow("k = q, vs exact without self", _reformer_bench),),
    cases={
        "reformer": TimingCase(
            make=lambda q, k, v: lambda: reformer_attention(q, q, v, n_buckets=max(2, q.shape[-2] // 64)),
            flops=lambda n, h, d: 4.0 * n * min(256, n) * d * h,  # each chunk of 128 against 2 chunks
            setting="shared QK, n_buckets=n/64 (chunks of 128), 1 round",
            # Kitaev et al. (2020), section 2: R is D × n_buckets/2, so hashing costs T·D·n_buckets/2 per round; with
            # n_buckets = n/64 that is T²·D/128, an eighth of the chunks' work at 8,192 tokens and all of it from
            # 65,536 (the flops above count the chunks only). Memory stays T: the hashing runs a block at a time
            growth=("T·log T, and T² to hash into n/64 buckets", "T"),
            label="Reformer",
        )
    },
)

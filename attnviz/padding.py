"""The padding mask on the real model's tokens: two sentences of different lengths in one batch.

A batch is one tensor, so shorter sentences are filled up with [PAD] pieces to the longest one's length. The
padding mask (Devlin et al., "BERT", 2019; Vaswani et al., 2017, section 3.2.3 for masking in general) sets
every score against a [PAD] key to −∞ before softmax, so e^(−∞) = 0: a padded key gets weight exactly 0 and a
real token's output is what it would be without the padding. The padded positions still get outputs of their
own (they are queries too); nothing downstream reads them.

The batched pass repeats `attnviz.pretrained`'s layer on (B, T, D) tensors, with `attnviz.attention.multi_head`
and `padding_mask`; tests check it against the one-sentence `pretrained.forward`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnviz.attention import multi_head, padding_mask
from attnviz.errors import AttnvizInputError
from attnviz.pretrained import Model, Tokens, encode, forward

PAD = "[PAD]"


@dataclass(frozen=True, eq=False)
class PaddedBatch:
    """Sentences through the model in one padded batch, with what a page needs to show the mask at work."""

    pieces: tuple[tuple[str, ...], ...]  # B rows of T pieces, [PAD] where a sentence had ended
    keep: Tensor  # (B, T) bool, True for real tokens ([CLS] and [SEP] included), False for [PAD]
    weights: Tensor  # (L, B, H, T, T) every head's attention weights in the padded batch
    hidden: Tensor  # (B, T, D) the last layer's output in the padded batch
    alone: tuple[Tensor, ...]  # B tensors (T_b, D): the last layer's output of each sentence run on its own
    pad_weight: float  # the largest weight any query gives to any [PAD] key, over every layer and head
    max_difference: float  # the largest |padded − alone| over the real tokens of every sentence, last layer
    unmasked_difference: float  # the same without the mask: [PAD] keys get weight and change the real outputs


def _embed(model: Model, ids: Tensor) -> Tensor:
    t = ids.shape[-1]
    # what the piece is + where it stands + segment A, as in pretrained._embed, with a batch axis
    x = model.word_embeddings[ids] + model.token_type_embeddings[0] + model.position_embeddings[:t]  # (B, T, D)
    return F.layer_norm(x, x.shape[-1:], model.ln_emb_w, model.ln_emb_b, model.config.layer_norm_eps)


def _layer(model: Model, index: int, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    w = model.layers[index]
    eps, width = model.config.layer_norm_eps, x.shape[-1:]
    # 1. multi-head self-attention, padded keys masked out: mask (B, 1, 1, T) against scores (B, H, T, T)
    mh = multi_head(
        x, w.w_q, w.w_k, w.w_v, w.w_o, model.config.n_heads,
        b_q=w.b_q, b_k=w.b_k, b_v=w.b_v, b_o=w.b_o, mask=mask,
    )  # fmt: skip
    # 2. residual + LayerNorm, feed-forward, residual + LayerNorm (post-LN BERT)
    a = F.layer_norm(x + mh.output, width, w.ln_attn_w, w.ln_attn_b, eps)  # (B, T, D)
    h = F.gelu(a @ w.w_in + w.b_in)  # (B, T, 4D)
    out = F.layer_norm(h @ w.w_out + w.b_out + a, width, w.ln_ffn_w, w.ln_ffn_b, eps)  # (B, T, D)
    assert mh.heads.weights is not None
    return out, mh.heads.weights  # (B, T, D), (B, H, T, T)


@torch.inference_mode()
def padded_batch(model: Model, texts: tuple[str, ...] | list[str]) -> PaddedBatch:
    """Run sentences through MiniLM as one padded batch, and each one alone, and compare.

    Args:
        model: from `attnviz.pretrained.load_model`.
        texts: 2 to 8 sentences (any lengths; empty text is just [CLS] [SEP]).
    Returns:
        PaddedBatch.
    """
    if not 2 <= len(texts) <= 8:
        raise AttnvizInputError("a padded batch here takes 2 to 8 sentences")
    encoded: list[Tokens] = [encode(model, t) for t in texts]
    pad_id = model.tokenizer.token_to_id(PAD)
    t_max = max(len(tok) for tok in encoded)
    ids = torch.full((len(encoded), t_max), pad_id, dtype=torch.long, device=model.device)  # (B, T)
    keep = torch.zeros(len(encoded), t_max, dtype=torch.bool, device=model.device)  # (B, T)
    for b, tok in enumerate(encoded):
        ids[b, : len(tok)] = torch.tensor(tok.ids, dtype=torch.long, device=model.device)
        keep[b, : len(tok)] = True

    def run(rows: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        x = _embed(model, rows)  # (B, T, D)
        per_layer = []
        for i in range(model.config.n_layers):
            x, w = _layer(model, i, x, mask)
            per_layer.append(w)
        return x, torch.stack(per_layer)  # (B, T, D), (L, B, H, T, T)

    x, weights = run(ids, padding_mask(keep))  # mask (B, 1, 1, T)
    # without the mask: only the padded sentences change (a full one's mask is all ones), so only they run again
    padded = (~keep).any(-1)  # (B,)
    unmasked = x.clone()  # (B, T, D)
    if bool(padded.any()):
        unmasked[padded] = run(ids[padded], padding_mask(torch.ones_like(keep[padded])))[0]
    alone = tuple(forward(model, tok).last_hidden_state for tok in encoded)  # (T_b, D) each

    def worst(out: Tensor) -> float:
        return max(float((out[b, : len(tok)] - alone[b]).abs().max()) for b, tok in enumerate(encoded))

    to_pad = weights * (~keep)[None, :, None, None, :]  # (L, B, H, T, T) the weights on [PAD] keys, 0 elsewhere
    pieces = tuple(tok.pieces + (PAD,) * (t_max - len(tok)) for tok in encoded)
    return PaddedBatch(
        pieces=pieces,
        keep=keep.cpu(),
        weights=weights.detach().cpu(),
        hidden=x.detach().cpu(),
        alone=tuple(a.detach().cpu() for a in alone),
        pad_weight=float(to_pad.amax()),  # weights are ≥ 0: the largest on a [PAD] key, 0 when there is none
        max_difference=worst(x),
        unmasked_difference=worst(unmasked),
    )


__all__ = ["PAD", "PaddedBatch", "padded_batch"]

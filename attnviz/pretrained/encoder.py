"""The forward pass: one sentence through the encoder, every layer's attention by `attnviz.attention.multi_head`.

One layer (post-LN BERT):

    Q, K, V = X·M_Q + b_Q, X·M_K + b_K, X·M_V + b_V     (T, 384), split into 12 heads of (T, 32)
    O_h = softmax(Q_h·K_hᵀ/√32)·V_h                     one head, the exact `scaled_dot_product`
    A = [O_1 … O_12]·W_O + b_O                          heads side by side, back to width 384
    X' = LayerNorm(X + A)
    Y = LayerNorm(X' + GELU(X'·W_in + b_in)·W_out + b_out)

`forward` keeps every intermediate (`Forward`); `sentence_embedding` keeps none.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, multi_head
from attnviz.checks import whole_number
from attnviz.errors import AttnvizInputError
from attnviz.pretrained.model import Model
from attnviz.pretrained.tokens import Tokens, encode


@dataclass(frozen=True, eq=False)
class HeadTrace:
    """One head of one layer on the sentence: its Q, K, V, scores, weights and output."""

    layer: int  # 0-based
    head: int  # 0-based
    q: Tensor  # (T, Dh) queries X·M_Q + b_Q
    k: Tensor  # (T, Dh) keys
    v: Tensor  # (T, Dh) values
    scores: Tensor | None  # (T, T) raw Q·Kᵀ, before the 1/√Dh scale; None if the variant never built it
    weights: Tensor | None  # (T, T) softmax rows; None if the variant never built it
    output: Tensor  # (T, Dh) weights·V, this head's share of the layer's attention output


@dataclass(frozen=True, eq=False)
class LayerTrace:
    """Everything one encoder layer computed, heads first."""

    index: int  # 0-based; its output is Forward.hidden_states[index + 1]
    input: Tensor  # (T, D) the hidden state entering the layer
    q: Tensor  # (H, T, Dh)
    k: Tensor  # (H, T, Dh)
    v: Tensor  # (H, T, Dh)
    attention: Attention  # what the attention function returned (a variant's extras included)
    scores: Tensor | None  # (H, T, T) raw Q·Kᵀ per head
    weights: Tensor | None  # (H, T, T) attention weights per head
    head_outputs: Tensor  # (H, T, Dh) weights·V per head
    attn_output: Tensor  # (T, D) heads concatenated, times W_O plus b_O
    attn_norm: Tensor  # (T, D) LayerNorm(input + attn_output)
    output: Tensor  # (T, D) LayerNorm(attn_norm + feed-forward): the layer's hidden state


@dataclass(frozen=True, eq=False)
class Forward:
    """One sentence through the whole encoder.

    It keeps every intermediate: at 512 tokens about 260 MB, mostly (H, T, T) scores and weights, so
    keep Forwards of long text only as long as they are needed (`sentence_embedding` keeps none).
    """

    tokens: Tokens
    embeddings: Tensor  # (T, D) word + position + segment embeddings, LayerNorm'd: the input to layer 0
    layers: tuple[LayerTrace, ...]  # L of them
    hidden_states: Tensor  # (L+1, T, D) [0] the embeddings, [i] the output of layer i-1
    sentence_embedding: Tensor  # (D,) mean of the last layer over the tokens, L2-normalised

    @property
    def last_hidden_state(self) -> Tensor:
        """(T, D) the output of the last layer."""
        return self.hidden_states[-1]

    @property
    def weights(self) -> Tensor:
        """(L, H, T, T) every head's attention weights, for the layer × head grid."""
        if any(layer.weights is None for layer in self.layers):
            raise ValueError("this attention function does not build the attention matrix")
        return torch.stack([layer.weights for layer in self.layers])  # (L, H, T, T)

    def layer(self, layer: int) -> LayerTrace:
        """The trace of one layer, 0-based; a clear error for an index outside 0..L-1."""
        _check_index("layer", layer, len(self.layers))
        return self.layers[layer]

    def head(self, layer: int, head: int) -> HeadTrace:
        """Q, K, V, Q·Kᵀ, weights and output of one head, 0-based indices."""
        trace = self.layer(layer)
        _check_index("head", head, trace.q.shape[0])
        return HeadTrace(
            layer=layer,
            head=head,
            q=trace.q[head],  # (T, Dh)
            k=trace.k[head],  # (T, Dh)
            v=trace.v[head],  # (T, Dh)
            scores=None if trace.scores is None else trace.scores[head],  # (T, T)
            weights=None if trace.weights is None else trace.weights[head],  # (T, T)
            output=trace.head_outputs[head],  # (T, Dh)
        )


def _check_index(name: str, value: int, count: int) -> None:
    whole_number(value, name, 0, count - 1)


def _tokens(model: Model, tokens_or_text: Tokens | str) -> Tokens:
    tokens = encode(model, tokens_or_text) if isinstance(tokens_or_text, str) else tokens_or_text
    if not isinstance(tokens, Tokens):
        raise AttnvizInputError(f"expected a sentence or Tokens, got {type(tokens_or_text).__name__}")
    if not 0 < len(tokens) <= model.max_pieces:
        raise AttnvizInputError(f"the model reads 1 to {model.max_pieces} tokens, got {len(tokens)}")
    if max(tokens.ids) >= model.config.vocab_size or min(tokens.ids) < 0:
        raise AttnvizInputError("these tokens do not come from this model's vocabulary")
    return tokens


def _embed(model: Model, ids: Tensor) -> Tensor:
    t = ids.shape[0]
    # 1. what the piece is + where it stands + which segment (always the first: one sentence)
    x = model.word_embeddings[ids] + model.token_type_embeddings[0] + model.position_embeddings[:t]  # (T, D)
    eps = model.config.layer_norm_eps
    return F.layer_norm(x, x.shape[-1:], model.ln_emb_w, model.ln_emb_b, eps)  # (T, D)


def _layer(
    model: Model, index: int, x: Tensor, attend: AttentionFn | None, keep: bool
) -> tuple[Tensor, LayerTrace | None]:
    w = model.layers[index]
    eps = model.config.layer_norm_eps
    width = x.shape[-1:]
    # 1. multi-head self-attention, the course's own function: Q = X·M_Q + b_Q, ..., softmax(Q·Kᵀ/√Dh)·V, ·W_O
    mh = multi_head(
        x, w.w_q, w.w_k, w.w_v, w.w_o, model.config.n_heads,
        b_q=w.b_q, b_k=w.b_k, b_v=w.b_v, b_o=w.b_o, attend=attend,
    )  # fmt: skip
    # 2. residual connection, then LayerNorm (BERT normalises after adding)
    a = F.layer_norm(x + mh.output, width, w.ln_attn_w, w.ln_attn_b, eps)  # (T, D)
    # 3. position-wise feed-forward with the exact (erf) GELU, residual, LayerNorm
    h = F.gelu(torch.addmm(w.b_in, a, w.w_in))  # (T, 4D)
    out = F.layer_norm(torch.addmm(w.b_out, h, w.w_out) + a, width, w.ln_ffn_w, w.ln_ffn_b, eps)  # (T, D)
    if not keep:
        return out, None
    trace = LayerTrace(
        index=index,
        input=x,
        q=mh.q,  # (H, T, Dh)
        k=mh.k,  # (H, T, Dh)
        v=mh.v,  # (H, T, Dh)
        attention=mh.heads,
        scores=mh.heads.scores,  # (H, T, T)
        weights=mh.heads.weights,  # (H, T, T)
        head_outputs=mh.heads.output,  # (H, T, Dh)
        attn_output=mh.output,  # (T, D)
        attn_norm=a,
        output=out,
    )
    return out, trace


def _pool(last: Tensor) -> Tensor:
    # sentence-transformers: mean over every token (no padding here, so all of them), then unit length
    return F.normalize(last.mean(dim=0), dim=-1)  # (D,)


@torch.inference_mode()
def forward(model: Model, tokens_or_text: Tokens | str, attend: AttentionFn | None = None) -> Forward:
    """Run the whole encoder on one sentence, keeping every layer's and head's intermediates.

    Args:
        model: from `load_model`.
        tokens_or_text: the sentence, or its `encode` result.
        attend: the attention function for every head of every layer; default the exact
            `attnviz.attention.scaled_dot_product`. It is called once per layer with q, k, v of shape
            (H, T, Dh) and no mask (one sentence, no padding); the scale defaults to 1/√Dh.
    Returns:
        Forward, its tensors on the model's device (inference tensors: read them, ``.clone()`` to edit).
    """
    tokens = _tokens(model, tokens_or_text)
    ids = torch.tensor(tokens.ids, dtype=torch.long, device=model.device)  # (T,)
    x = _embed(model, ids)  # (T, D)
    states = [x]
    traces = []
    for i in range(model.config.n_layers):
        x, trace = _layer(model, i, x, attend, keep=True)
        states.append(x)
        traces.append(trace)
    return Forward(
        tokens=tokens,
        embeddings=states[0],
        layers=tuple(traces),
        hidden_states=torch.stack(states),  # (L+1, T, D)
        sentence_embedding=_pool(x),  # (D,)
    )


@torch.inference_mode()
def sentence_embedding(model: Model, text: Tokens | str, attend: AttentionFn | None = None) -> Tensor:
    """The sentence as one unit vector, without keeping the intermediates (cheap on long text).

    Args:
        text: a sentence or its `encode` result.
        attend: as in `forward`.
    Returns:
        (D,) the mean of the last hidden states over all tokens, L2-normalised.
    """
    tokens = _tokens(model, text)
    x = _embed(model, torch.tensor(tokens.ids, dtype=torch.long, device=model.device))  # (T, D)
    for i in range(model.config.n_layers):
        x, _ = _layer(model, i, x, attend, keep=False)
    return _pool(x)  # (D,)


def cosine(model: Model, text_a: Tokens | str, text_b: Tokens | str, attend: AttentionFn | None = None) -> float:
    """Cosine similarity of two sentence embeddings, in [-1, 1]; the model was trained to make it high for
    sentences that mean the same."""
    a = sentence_embedding(model, text_a, attend)  # (D,)
    b = sentence_embedding(model, text_b, attend)  # (D,)
    return float(a @ b)  # both unit length already


# ----------------------------------------------------------------------------------------------------------
# The learned projections of one head
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HeadProjections:
    """The learned matrices of one head: column slices of the layer's 384×384 projections.

    For a hidden state X (T, D): this head's Q = X·m_q + b_q, exactly the q of `Forward.head`.
    """

    layer: int  # 0-based
    head: int  # 0-based
    m_q: Tensor  # (D, Dh) M_Q
    m_k: Tensor  # (D, Dh) M_K
    m_v: Tensor  # (D, Dh) M_V
    b_q: Tensor  # (Dh,)
    b_k: Tensor  # (Dh,)
    b_v: Tensor  # (Dh,)
    m_o: Tensor  # (Dh, D) the rows of W_O that carry this head's output back to width D


def head_projections(model: Model, layer: int, head: int) -> HeadProjections:
    """M_Q, M_K, M_V (and biases, and this head's rows of W_O) of one head, right-acting as in the course.

    Args:
        layer: 0..L-1.
        head: 0..H-1.
    Returns:
        HeadProjections; its matrices are views of the model's weights (read-only).
    """
    _check_index("layer", layer, model.config.n_layers)
    _check_index("head", head, model.config.n_heads)
    w = model.layers[layer]
    dh = model.config.head_dim
    # split_heads puts head h in columns h·Dh … (h+1)·Dh − 1 of X·W
    cols = slice(head * dh, (head + 1) * dh)
    return HeadProjections(
        layer=layer,
        head=head,
        m_q=w.w_q[:, cols],  # (D, Dh)
        m_k=w.w_k[:, cols],  # (D, Dh)
        m_v=w.w_v[:, cols],  # (D, Dh)
        b_q=w.b_q[cols],  # (Dh,)
        b_k=w.b_k[cols],  # (Dh,)
        b_v=w.b_v[cols],  # (Dh,)
        m_o=w.w_o[cols, :],  # (Dh, D)
    )


__all__ = [
    "Forward",
    "HeadProjections",
    "HeadTrace",
    "LayerTrace",
    "cosine",
    "forward",
    "head_projections",
    "sentence_embedding",
]

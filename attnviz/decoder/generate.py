"""The next word, and generation one token at a time, with or without the KV cache.

A decoder predicts the token after each position; generating is a loop (Radford et al., "Language Models are
Unsupervised Multitask Learners", 2019, Section 2): pick a token from the distribution after the last one, append
it, read it, repeat. Greedy picks the most likely token; sampling draws from softmax(logits / temperature) with a
seeded generator, so a rerun with the same seed gives the same text.

With the cache, each step reads only the new token: its query meets the cached keys and values of every earlier
token, so the pass costs one row of attention (and one token through the projections and the feed-forward blocks).
Without it, each step reads the whole sequence again. Both give the same tokens and the same new attention row, up
to float rounding (tests/attnviz/decoder/test_generate.py); only the time differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.checks import whole_number
from attnviz.decoder.forward import Forward, KVCache, Pass, forward, run
from attnviz.decoder.model import Model
from attnviz.decoder.tokens import MAX_TOKENS, Tokens, decode, token_labels
from attnviz.errors import AttnvizInputError

MAX_NEW_TOKENS = 32  # the most tokens one call generates
TOP_K = 5  # candidates kept per step
END_TOKENS = ("<|endoftext|>", "<|im_end|>")  # generation stops after either


@dataclass(frozen=True)
class TopTokens:
    """The likeliest next tokens, most likely first."""

    ids: tuple[int, ...]  # K vocabulary ids
    labels: tuple[str, ...]  # K readable pieces (" Paris")
    probabilities: tuple[float, ...]  # K; softmax of the logits (temperature 1), over the whole vocabulary


def next_tokens(model: Model, logits: Tensor, k: int = 10) -> TopTokens:
    """The ``k`` likeliest tokens after a position.

    Args:
        logits: (V,) one row of `Forward.logits` (``Forward.next_logits`` for the token after the text).
        k: 1 to 100.
    """
    whole_number(k, "the number of candidates", 1, 100)
    probs = torch.softmax(logits.float(), dim=-1)  # (V,)
    top = probs.topk(k)
    ids = tuple(int(i) for i in top.indices)
    return TopTokens(ids=ids, labels=token_labels(model, ids), probabilities=tuple(float(p) for p in top.values))


@dataclass(frozen=True, eq=False)
class Step:
    """One generated token: the distribution it was picked from, then the pass that read it."""

    index: int  # 0-based step
    position: int  # where the new token stands (the prompt's length + index)
    token_id: int
    label: str  # the readable piece
    probability: float  # the model's probability of this token (temperature 1)
    top: TopTokens  # the `TOP_K` likeliest tokens at this step (temperature 1)
    attention: Tensor | None  # (L, H, S) the new token's row in every head: its weights on positions 0 … position
    cache_tokens: int  # S, tokens in the cache after reading it (without a cache: what it would hold)
    cache_bytes: int  # the cache's bytes after this step (0 without a cache: nothing is kept)
    seconds: float  # wall time of the step: picking the token and reading it


@dataclass(frozen=True, eq=False)
class Generation:
    """A few tokens generated after a text."""

    prompt: Forward  # the text's own pass (its weights kept when asked for)
    steps: tuple[Step, ...]
    use_cache: bool
    temperature: float  # 0 for greedy
    seed: int
    stopped_at_end: bool  # the last token is an end token (END_TOKENS): the model ended the text

    @property
    def ids(self) -> tuple[int, ...]:
        """The generated token ids, in order."""
        return tuple(s.token_id for s in self.steps)

    def text(self, model: Model) -> str:
        """The generated text, control tokens kept (show it as plain text)."""
        return decode(model, self.ids)


def _pick(logits: Tensor, temperature: float, generator: torch.Generator) -> int:
    if temperature == 0:
        return int(logits.argmax())  # greedy
    probs = torch.softmax(logits.float().cpu() / temperature, dim=-1)  # (V,) on the host: the same draw on any device
    return int(torch.multinomial(probs, 1, generator=generator))


def _end_ids(model: Model) -> set[int]:
    found = (model.tokenizer.token_to_id(name) for name in END_TOKENS)
    return {i for i in found if i is not None}


def _read(model: Model, ids: list[int], cache: KVCache | None, use_cache: bool, keep: bool):
    """Read the newest token (with the cache) or every token again (without); returns its logits, row and cache."""
    if use_cache:
        new = torch.tensor(ids[-1:], dtype=torch.long, device=model.device)  # (1,)
        p = run(model, new, cache, keep_weights=keep, all_logits=False)
        return p.logits[-1], _last_row(p), p.cache
    every = torch.tensor(ids, dtype=torch.long, device=model.device)  # (S,)
    p = run(model, every, None, keep_weights=keep, all_logits=False)
    return p.logits[-1], _last_row(p), None


def _last_row(p: Pass) -> Tensor | None:
    """(L, H, S) the newest token's row of every head."""
    return None if p.layer_weights is None else torch.stack([w[:, -1] for w in p.layer_weights])


@torch.inference_mode()
def generate(
    model: Model,
    tokens_or_text: Tokens | str,
    n_new: int = 8,
    *,
    temperature: float = 0.0,
    seed: int = 0,
    use_cache: bool = True,
    keep_weights: bool = True,
    max_tokens: int = MAX_TOKENS,
    prompt: Forward | None = None,
) -> Generation:
    """Generate up to ``n_new`` tokens after a text, one step at a time.

    Args:
        model: from `load_model`.
        tokens_or_text: the text (read up to ``max_tokens`` tokens) or its `encode` result.
        n_new: 1 to `MAX_NEW_TOKENS`; fewer when the model produces an end token.
        temperature: 0 for greedy; above 0 samples from softmax(logits / temperature), up to 10.
        seed: the sampling generator's seed (the same seed gives the same text).
        use_cache: read only the new token each step (True) or the whole sequence again (False).
        keep_weights: keep the prompt's (L, H, T, T) weights and each step's (L, H, S) row.
        max_tokens: the most tokens of the text read; default `MAX_TOKENS`.
        prompt: the text's `forward`, already computed (its tokens, cache and last logits are used, its pass is not
            run again); None to run it here.
    Returns:
        Generation.
    """
    whole_number(n_new, "the number of tokens to generate", 1, MAX_NEW_TOKENS)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 10:
        raise AttnvizInputError(f"the temperature must be a number from 0 to 10, got {temperature!r}")
    generator = torch.Generator().manual_seed(int(seed))
    if prompt is None:
        prompt = forward(model, tokens_or_text, keep_weights=keep_weights, all_logits=False, max_tokens=max_tokens)
    ids = list(prompt.tokens.ids)
    logits, cache, ends, steps = prompt.next_logits, prompt.cache, _end_ids(model), []
    for index in range(n_new):
        start = time.perf_counter()
        chosen = _pick(logits, float(temperature), generator)
        probability = float(torch.softmax(logits.float(), dim=-1)[chosen])
        top = next_tokens(model, logits, TOP_K)
        ids.append(chosen)
        logits, row, cache = _read(model, ids, cache, use_cache, keep_weights)
        steps.append(
            Step(
                index=index,
                position=len(ids) - 1,
                token_id=chosen,
                label=token_labels(model, [chosen])[0],
                probability=probability,
                top=top,
                attention=row,  # (L, H, S)
                cache_tokens=len(ids),
                cache_bytes=cache.nbytes if cache is not None else 0,
                seconds=time.perf_counter() - start,
            )
        )
        if chosen in ends:
            break
    return Generation(
        prompt=prompt,
        steps=tuple(steps),
        use_cache=use_cache,
        temperature=float(temperature),
        seed=int(seed),
        stopped_at_end=steps[-1].token_id in ends,
    )


__all__ = ["END_TOKENS", "MAX_NEW_TOKENS", "TOP_K", "Generation", "Step", "TopTokens", "generate", "next_tokens"]

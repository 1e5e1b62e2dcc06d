"""`attnviz.decoder.rope`: rotary positions on adjacent pairs, as the GGUF layout needs; invariance to a shift."""

import pytest
import torch

from attnviz.decoder import angles, frequencies, rope_view, rotary_score, rotate, shift_invariance
from attnviz.errors import AttnvizInputError


def test_frequencies_are_those_of_transformers_llama():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = LlamaConfig(hidden_size=576, num_attention_heads=9, rope_theta=100_000.0)
    ref = LlamaRotaryEmbedding(config)
    torch.testing.assert_close(frequencies(64, 100_000.0), ref.inv_freq, atol=0, rtol=0)
    assert float(frequencies(64, 100_000.0)[0]) == 1.0  # pair 0 turns one radian per position


def test_adjacent_pairs_on_the_file_layout_are_rotate_half_on_transformers_layout():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 64, generator=g)  # (H, T, Dh) in the file's (llama.cpp) layout
    positions = torch.arange(10)
    # transformers' LlamaTensorProcessor un-permutes rows: file dimension 2i + s goes to s·32 + i
    to_half = torch.arange(64).reshape(32, 2).T.reshape(64)  # (Dh,) half-layout dimension j reads file dimension
    a = angles(positions, 64, 100_000.0)  # (T, 32)
    cos, sin = torch.cat((a, a), -1).cos(), torch.cat((a, a), -1).sin()  # (T, 64)
    ref, _ = apply_rotary_pos_emb(x[None, :, :, to_half], x[None, :, :, to_half], cos[None], sin[None])
    torch.testing.assert_close(rotate(x, positions, 100_000.0)[..., to_half], ref[0], atol=1e-6, rtol=0)


def test_rotation_keeps_lengths_is_identity_at_0_and_composes():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 64, generator=g)  # (T, Dh)
    p = torch.tensor([0, 1, 7, 100, 4000])
    turned = rotate(x, p, 100_000.0)
    torch.testing.assert_close(turned.norm(dim=-1), x.norm(dim=-1), atol=1e-4, rtol=1e-5)
    assert torch.equal(turned[0], x[0])
    twice = rotate(rotate(x, torch.full((5,), 30), 100_000.0), p, 100_000.0)
    torch.testing.assert_close(twice, rotate(x, p + 30, 100_000.0), atol=1e-4, rtol=0)


def test_the_score_depends_on_the_distance_not_the_place(model):
    from attnviz.decoder import forward

    view = rope_view(model, forward(model, "I walked by the river bank and saw a heron"), layer=3, head=4)
    q, k = view.q_raw[8], view.k_raw[2]  # a real query and key before RoPE
    check = shift_invariance(q, k, 8, 2, shifts=(1, 10, 100, 1000), base=model.config.rope_base)
    assert check.distance == 6
    assert check.max_difference < 1e-4 * max(1.0, abs(check.scores[0]))  # float rounding only
    assert max(abs(s - check.unmoved_q[0]) for s in check.unmoved_q) > 1e-2  # moving the key alone changes it
    assert check.scores[0] == pytest.approx(float(view.scores[8, 2]), abs=1e-4)  # what the pass scored


def test_rope_view_reproduces_the_cached_keys(model):
    from attnviz.decoder import forward

    f = forward(model, "The capital of France is")
    view = rope_view(model, f, layer=10, head=5)
    assert view.kv_head == 1 and view.shares_with == (3, 4, 5)
    torch.testing.assert_close(view.k, f.cache.keys[10, 1], atol=1e-5, rtol=0)
    assert view.frequencies.shape == (32,) and view.angles.shape == (len(f.tokens), 32)
    torch.testing.assert_close(view.q_raw.norm(dim=-1), view.q.norm(dim=-1), atol=1e-4, rtol=1e-5)


def test_rotary_score_and_bad_shifts():
    q, k = torch.ones(64), torch.ones(64)
    assert rotary_score(q, k, 5, 5, 10_000.0) == pytest.approx(64.0)
    with pytest.raises(AttnvizInputError, match="before position 0"):
        shift_invariance(q, k, 2, 1, shifts=(-5,), base=10_000.0)


def test_the_complex_form_the_pass_uses_is_the_pairs_turned():
    from attnviz.attention import split_heads
    from attnviz.decoder.rope import turn, turn_complex, turns

    torch.manual_seed(0)
    t = turns(torch.arange(40, 70), 64, 100_000.0)
    q = split_heads(torch.randn(30, 9 * 64), 9)  # (9, 30, 64) a transposed view, as the pass has it
    torch.testing.assert_close(turn_complex(q, t.unit), turn(q, t), atol=1e-6, rtol=0)
    odd = torch.randn(3, 30, 65)[..., 1:]  # pairs at an odd offset: copied first, same result
    torch.testing.assert_close(turn_complex(odd, t.unit), turn(odd, t), atol=1e-6, rtol=0)

"""The toy multi-head layer, the head-difference measures, top keys and block pooling."""

import math

import pytest
import torch

from attnviz.attention import multi_head, scaled_dot_product
from attnviz.embeddings import tokenize, vectors_for
from attnviz.errors import AttnvizInputError
from attnviz.heads import (
    HEAD_DIMS,
    MAX_HEADS,
    head_difference,
    js_divergence,
    pool_blocks,
    top_keys,
    toy_layer,
    toy_weights,
)


@pytest.mark.parametrize("n_heads", [1, 3, MAX_HEADS])
@pytest.mark.parametrize("head_dim", HEAD_DIMS)
def test_toy_layer_shapes_and_rows(n_heads, head_dim):
    x = torch.randn(7, 50, generator=torch.Generator().manual_seed(0))
    w = toy_weights(50, n_heads, head_dim, seed=3)
    assert w.w_q.shape == (50, n_heads * head_dim) and w.w_o.shape == (n_heads * head_dim, 50)
    mh = toy_layer(x, w)
    assert mh.heads.weights.shape == (n_heads, 7, 7)
    assert mh.q.shape == (n_heads, 7, head_dim)
    assert mh.concat.shape == (7, n_heads * head_dim)
    assert mh.output.shape == (7, 50)
    assert torch.allclose(mh.heads.weights.sum(-1), torch.ones(n_heads, 7), atol=1e-5)


def test_toy_layer_is_the_course_multi_head():
    x = torch.randn(5, 50, generator=torch.Generator().manual_seed(1))
    w = toy_weights(50, 4, 8, seed=0)
    ours = toy_layer(x, w)
    ref = multi_head(x, w.w_q, w.w_k, w.w_v, w.w_o, 4)
    assert torch.equal(ours.output, ref.output)
    # head 2 by hand: its own columns of M_Q, M_K, M_V and rows of W_O
    cols = slice(16, 24)
    head = scaled_dot_product(x @ w.w_q[:, cols], x @ w.w_k[:, cols], x @ w.w_v[:, cols])
    assert torch.allclose(ours.heads.weights[2], head.weights, atol=1e-6)
    assert torch.allclose(ours.heads.output[2], head.output, atol=1e-6)
    assert head.scale == pytest.approx(1 / math.sqrt(8))


def test_one_toy_head_equals_single_head_attention():
    x = torch.randn(6, 50, generator=torch.Generator().manual_seed(2))
    w = toy_weights(50, 1, 16, seed=9)
    single = scaled_dot_product(x @ w.w_q, x @ w.w_k, x @ w.w_v)
    assert torch.allclose(toy_layer(x, w).output, single.output @ w.w_o, atol=1e-5)


def test_adding_a_head_keeps_the_others_and_seeds_differ():
    three, four = toy_weights(50, 3, 8, seed=5), toy_weights(50, 4, 8, seed=5)
    assert torch.equal(four.w_q[:, :24], three.w_q)
    assert torch.equal(four.w_k[:, :24], three.w_k)
    assert torch.equal(four.w_v[:, :24], three.w_v)
    # W_O is rescaled by 1/√(H·Dh), its direction per head is kept
    assert torch.allclose(four.w_o[:24] * math.sqrt(32), three.w_o * math.sqrt(24), atol=1e-6)
    assert not torch.equal(toy_weights(50, 3, 8, seed=6).w_q, three.w_q)
    assert torch.equal(toy_weights(50, 3, 8, seed=5).w_q, three.w_q)  # reproducible


def test_toy_heads_on_real_words_attend_to_different_things(kv):
    words = tokenize("the cat sat on the mat because it was tired", kv).words
    mh = toy_layer(vectors_for(kv, words), toy_weights(50, 4, 8, seed=0))
    diff = head_difference(mh.heads.weights)
    assert float(diff.mean) > 0.05  # visibly different
    assert float(diff.agree) < 0.5  # most rows: the heads pick different favourite words
    # and no head is flat: each row's largest weight is well above uniform
    assert float(mh.heads.weights.max(dim=-1).values.mean()) > 2 / len(words)


@pytest.mark.parametrize(
    "args",
    [
        dict(n_heads=0),
        dict(n_heads=MAX_HEADS + 1),
        dict(n_heads=2.5),
        dict(n_heads=True),
        dict(head_dim=0),
        dict(seed=-1),
    ],
)
def test_toy_weights_reject_bad_settings(args):
    with pytest.raises(AttnvizInputError):
        toy_weights(**({"d_model": 50, "n_heads": 2, "head_dim": 8, "seed": 0} | args))


def test_toy_layer_rejects_bad_vectors():
    w = toy_weights(50, 2, 8)
    with pytest.raises(AttnvizInputError):
        toy_layer(torch.zeros(0, 50), w)
    with pytest.raises(AttnvizInputError):
        toy_layer(torch.zeros(3, 40), w)
    # one word: every head can only attend to it
    one = toy_layer(torch.ones(1, 50), w)
    assert torch.equal(one.heads.weights, torch.ones(2, 1, 1))


def test_js_divergence_bounds_and_symmetry():
    p = torch.tensor([1.0, 0.0, 0.0])
    q = torch.tensor([0.0, 1.0, 0.0])
    assert float(js_divergence(p, q)) == pytest.approx(1.0)
    assert float(js_divergence(p, p)) == pytest.approx(0.0)
    a, b = torch.softmax(torch.randn(2, 5, 9), dim=-1)
    assert torch.allclose(js_divergence(a, b), js_divergence(b, a))
    assert bool(((js_divergence(a, b) >= 0) & (js_divergence(a, b) <= 1)).all())


def test_head_difference():
    same = torch.softmax(torch.randn(1, 4, 4), dim=-1).expand(3, 4, 4)
    d = head_difference(same)
    assert d.pairwise.shape == (3, 3)
    assert float(d.mean) == pytest.approx(0.0, abs=1e-6) and float(d.agree) == 1.0
    eye = torch.eye(4)
    shifted = torch.roll(eye, 1, dims=1)
    d = head_difference(torch.stack([eye, shifted]))
    assert float(d.mean) == pytest.approx(1.0) and float(d.agree) == 0.0
    assert torch.allclose(d.pairwise, d.pairwise.T)
    # many layers at once, and one head alone
    assert head_difference(torch.softmax(torch.randn(6, 12, 5, 5), dim=-1)).mean.shape == (6,)
    assert float(head_difference(eye[None]).mean) == 0.0
    with pytest.raises(AttnvizInputError):
        head_difference(eye)


def test_top_keys():
    w = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    top = top_keys(w, 2)
    assert top.indices.tolist() == [[1, 2], [0, 2]]
    assert torch.allclose(top.values, torch.tensor([[0.6, 0.3], [0.5, 0.3]]))
    assert top_keys(w, 10).indices.shape == (2, 3)
    with pytest.raises(AttnvizInputError):
        top_keys(w, 0)


def test_pool_blocks_keeps_row_sums_and_small_maps():
    w = torch.softmax(torch.randn(2, 3, 100, 100), dim=-1)
    pooled = pool_blocks(w, 16)
    assert pooled.weights.shape == (2, 3, 16, 16)
    assert len(pooled.spans) == 16 and pooled.spans[0][0] == 0 and pooled.spans[-1][1] == 100
    assert all(b > a for a, b in pooled.spans)
    assert torch.allclose(pooled.weights.sum(-1), torch.ones(2, 3, 16), atol=1e-5)
    # block (0, 0) by hand: keys summed, queries averaged
    a, b = pooled.spans[0]
    assert torch.allclose(pooled.weights[0, 0, 0, 0], w[0, 0, a:b, a:b].sum(-1).mean(), atol=1e-6)
    small = torch.softmax(torch.randn(5, 5), dim=-1)
    assert pool_blocks(small, 16).weights is small
    with pytest.raises(AttnvizInputError):
        pool_blocks(torch.ones(3, 4), 2)

import pytest
import torch

from attnviz import AttnvizInputError
from attnviz.projections import (
    Projections,
    before_after,
    identity_projections,
    project,
    random_projections,
)
from attnviz.similarity import similarity_matrix


def _x(t=6, d=50, seed=0):
    return torch.randn(t, d, generator=torch.Generator().manual_seed(seed))


def test_identity_gives_back_the_vectors_and_lesson_two():
    x = _x()
    p = identity_projections(50)
    qkv = project(x, p)
    assert p.name == "identity" and p.width == 50
    assert torch.equal(qkv.q, x) and torch.equal(qkv.v, x)
    assert torch.equal(qkv.scores, similarity_matrix(x))


def test_random_is_seeded_and_keeps_lengths_roughly():
    a, b, c = random_projections(50, seed=3), random_projections(50, seed=3), random_projections(50, seed=4)
    assert torch.equal(a.m_q, b.m_q) and torch.equal(a.m_v, b.m_v)
    assert not torch.equal(a.m_q, c.m_q)
    assert not torch.equal(a.m_q, a.m_k)  # three different matrices
    x = _x(200)
    ratio = (x @ a.m_q).norm(dim=1) / x.norm(dim=1)  # (200,)
    assert 0.7 < float(ratio.mean()) < 1.3
    narrow = random_projections(50, width=8, seed=0)
    assert narrow.m_q.shape == (50, 8) and narrow.width == 8
    assert project(x, narrow).scores.shape == (200, 200)


def test_project_adds_biases_and_computes_raw_scores():
    x = _x(4, 6)
    m = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    bias = torch.tensor([1.0, -1.0, 0.5])
    qkv = project(x, Projections("t", m, m, m, b_q=bias, b_k=bias, b_v=bias))
    assert torch.allclose(qkv.q, x @ m + bias)
    assert torch.allclose(qkv.scores, (x @ m + bias) @ (x @ m + bias).T)


@pytest.mark.parametrize("call", [lambda: identity_projections(0), lambda: random_projections(50, seed=-1),
                                  lambda: random_projections(50, width=0), lambda: random_projections(True),
                                  lambda: project(_x(3, 7), identity_projections(50)),
                                  lambda: before_after(_x(3), torch.ones(50, 8))])  # fmt: skip
def test_bad_input_is_a_clear_error(call):
    with pytest.raises(AttnvizInputError):
        call()


def test_before_after_shares_one_view():
    x = _x(8)
    same = before_after(x, torch.eye(50))
    assert torch.allclose(same.before, same.after, atol=1e-5)  # the identity moves nothing
    turned = before_after(x, random_projections(50, seed=0).m_q)
    assert turned.before.shape == turned.after.shape == (8, 2)
    assert 0 < float(turned.share.sum()) <= 1
    assert (turned.before - turned.after).norm(dim=1).min() > 0


@pytest.fixture(scope="module")
def model():
    from attnviz.pretrained import load_model

    return load_model("cpu")


@pytest.mark.parametrize("layer,head", [(0, 0), (2, 7), (5, 11)])
def test_real_head_projections_give_the_forward_pass_scores(model, layer, head):
    """Lesson 3 rebuilds a real head's Q·Kᵀ from the layer's input and the head's slices of M_Q, M_K."""
    from attnviz.pretrained import forward, head_projections

    fwd = forward(model, "I walked by the river bank")
    hp = head_projections(model, layer, head)
    p = Projections("real", hp.m_q, hp.m_k, hp.m_v, hp.b_q, hp.b_k, hp.b_v)
    qkv = project(fwd.layers[layer].input.clone(), p)
    trace = fwd.head(layer, head)
    assert p.m_q.shape == (384, 32)
    assert torch.allclose(qkv.q, trace.q, atol=1e-4)
    assert torch.allclose(qkv.v, trace.v, atol=1e-4)
    assert torch.allclose(qkv.scores, trace.scores, atol=1e-3)
    weights = torch.softmax(qkv.scores / 32**0.5, dim=-1)
    assert torch.allclose(weights, trace.weights, atol=1e-5)


def test_query_key_view_shares_one_projection():
    from attnviz.projections import query_key_view

    x = _x()
    p = random_projections(50, seed=2)
    view = query_key_view(x, p.m_q, p.m_k)
    assert view.before.shape == view.q.shape == view.k.shape == (6, 2)
    assert 0 < float(view.share.sum()) <= 1
    same = query_key_view(x, torch.eye(50), torch.eye(50))  # identity: queries and keys sit on the words
    torch.testing.assert_close(same.q, same.before)
    torch.testing.assert_close(same.k, same.before)
    # directions only: scaling every word changes nothing; without `unit` the lengths show
    torch.testing.assert_close(query_key_view(10 * x, p.m_q, p.m_k).q.abs(), view.q.abs(), atol=1e-4, rtol=0)
    raw = query_key_view(10 * x, p.m_q, p.m_k, unit=False)
    assert float(raw.q.abs().max()) > 5 * float(view.q.abs().max())
    with pytest.raises(AttnvizInputError):
        query_key_view(x, torch.ones(50, 8), p.m_k)


def test_alignment_names_the_best_other_key_and_its_cosines():
    from attnviz.projections import alignment

    x = _x()
    p = random_projections(50, seed=4)
    qkv = project(x, p)
    al = alignment(x, qkv)
    for i in range(6):
        j = int(al.best[i])
        assert j != i
        others = [qkv.scores[i, m] for m in range(6) if m != i]
        assert qkv.scores[i, j] == max(others)
        expected = torch.nn.functional.cosine_similarity(qkv.q[i], qkv.k[j], dim=0)
        assert float(al.cos_after[i]) == pytest.approx(float(expected), abs=1e-5)
    ident = alignment(x, project(x, identity_projections(50)))  # identity: after = before
    torch.testing.assert_close(ident.cos_after, ident.cos_before)
    with pytest.raises(AttnvizInputError):
        alignment(x[:1], project(x[:1], p))


def test_value_effect_identity_random_and_a_way_back():
    from attnviz.projections import value_effect

    x = _x()
    w = torch.softmax(torch.randn(6, generator=torch.Generator().manual_seed(1)), dim=0)  # (T,)
    same = value_effect(w, x, torch.eye(50))
    assert same.cosine == pytest.approx(1.0, abs=1e-6) and same.norm_ratio == pytest.approx(1.0, abs=1e-6)
    scaled = value_effect(w, x, 2 * torch.eye(50))
    assert scaled.cosine == pytest.approx(1.0, abs=1e-6) and scaled.norm_ratio == pytest.approx(2.0, abs=1e-5)
    rnd = value_effect(w, x, random_projections(50, seed=0).m_v)
    assert abs(rnd.cosine) < 0.5  # a random matrix scrambles the direction
    torch.testing.assert_close(rnd.output, w @ (x @ random_projections(50, seed=0).m_v))
    down, up = torch.randn(50, 8), torch.randn(8, 50)
    back = value_effect(w, x, down, back=up)
    torch.testing.assert_close(back.output, (w @ (x @ down)) @ up)
    with pytest.raises(AttnvizInputError):
        value_effect(w, x, down)

"""`attnviz.decoder.gqa`: 9 query heads sharing 3 key/value heads, and what that saves in the cache."""

import pytest
import torch

from attnviz.decoder import cache_size, expand_kv, groups, kv_head_of, model_cache_size, rope_view


def test_the_mapping_of_query_heads_to_key_value_heads():
    assert kv_head_of(9, 3) == (0, 0, 0, 1, 1, 1, 2, 2, 2)
    assert groups(9, 3) == ((0, 1, 2), (3, 4, 5), (6, 7, 8))
    assert kv_head_of(9, 9) == tuple(range(9))  # multi-head
    assert kv_head_of(9, 1) == (0,) * 9  # multi-query
    with pytest.raises(ValueError):
        kv_head_of(9, 2)


def test_expand_kv_is_transformers_repeat_kv():
    from transformers.models.llama.modeling_llama import repeat_kv

    x = torch.randn(3, 5, 64, generator=torch.Generator().manual_seed(0))  # (Hkv, S, Dh)
    assert torch.equal(expand_kv(x, 9), repeat_kv(x[None], 3)[0])


def test_heads_of_a_group_read_the_same_keys_in_the_model(model):
    from attnviz.decoder import forward

    f = forward(model, "The cat sat on the mat")
    views = [rope_view(model, f, layer=7, head=h) for h in range(9)]
    for group in groups(9, 3):
        for h in group[1:]:
            assert torch.equal(views[h].k, views[group[0]].k)
            assert not torch.equal(views[h].q, views[group[0]].q)  # each query head its own queries
    assert not torch.equal(views[0].k, views[3].k)


def test_cache_bytes_per_token_against_separate_heads(model):
    size = model_cache_size(model)
    assert size.per_token == 46_080  # 2 × 30 layers × 3 heads × 64 × 4 bytes
    assert size.per_token_separate == 138_240  # with 9 key/value heads
    assert size.saving == pytest.approx(1 / 3)
    assert size.total(256) == 256 * 46_080
    assert cache_size(30, 9, 3, 64, bytes_per_number=2).per_token == 23_040


def test_membership_marks_the_key_value_head_each_query_head_reads():
    from attnviz.decoder.gqa import groups, kv_head_of, membership

    member = membership(9, 3)  # (3, 9)
    assert member.shape == (3, 9) and member.sum(axis=0).tolist() == [1.0] * 9
    assert [int(member[:, h].argmax()) for h in range(9)] == list(kv_head_of(9, 3))
    assert [tuple(int(h) for h in member[g].nonzero()[0]) for g in range(3)] == list(groups(9, 3))
    assert membership(4, 1).tolist() == [[1.0, 1.0, 1.0, 1.0]]  # multi-query: one key/value head for all

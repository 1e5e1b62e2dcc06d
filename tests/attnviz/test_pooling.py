"""`attnviz.pooling`: the one rule that merges an attention map into groups, used for words and for blocks."""

import torch

from attnviz.heads import pool_blocks
from attnviz.pooling import average_rows, membership, pool_attention


def test_pool_attention_by_hand():
    w = torch.tensor(
        [
            [0.5, 0.25, 0.25],
            [0.0, 1.0, 0.0],
            [0.2, 0.2, 0.6],
        ]
    )  # (T=3, T)
    pooled = pool_attention(w, [(0,), (1, 2)])  # (2, 2)
    # group {1, 2} as a key: summed; as a query: its two rows averaged
    expected = torch.tensor([[0.5, 0.5], [(0.0 + 0.2) / 2, (1.0 + 0.8) / 2]])
    torch.testing.assert_close(pooled, expected)
    torch.testing.assert_close(pooled.sum(-1), torch.ones(2))


def test_groups_need_not_be_consecutive_and_batch_axes_pass_through():
    w = torch.softmax(torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0)), dim=-1)  # (2, 3, T, T)
    groups = [(0, 4), (1,), (2, 3)]
    pooled = pool_attention(w, groups)
    assert pooled.shape == (2, 3, 3, 3)
    torch.testing.assert_close(pooled[..., 0, 2], (w[..., 0, 2] + w[..., 0, 3] + w[..., 4, 2] + w[..., 4, 3]) / 2)


def test_average_rows_and_membership():
    x = torch.arange(12.0).reshape(4, 3)  # (T=4, D=3)
    torch.testing.assert_close(average_rows(x, [(0, 1), (2,), (3,)]), torch.stack([x[:2].mean(0), x[2], x[3]]))
    p = membership([(0, 2), (1,)], 3, x)
    assert p.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]] and p.dtype == x.dtype


def test_pool_blocks_is_pool_attention_on_its_spans():
    w = torch.softmax(torch.randn(7, 7, generator=torch.Generator().manual_seed(1)), dim=-1)
    blocks = pool_blocks(w, 3)
    assert torch.equal(blocks.weights, pool_attention(w, [range(a, b) for a, b in blocks.spans]))

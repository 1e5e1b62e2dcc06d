import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import lsh_buckets, reformer_attention, reformer_mask
from attnviz.errors import AttnvizInputError


def test_one_bucket_is_exact_attention_with_shared_qk(make_qkv, relative_error):
    q, _, v = make_qkv((2, 3, 29, 16), dv=8)
    exact = scaled_dot_product(q, q, v)
    out = reformer_attention(q, q, v, n_buckets=1, exclude_self=False, return_weights=True)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)
    # the paper's rule: a token does not attend to itself while it has other keys
    no_self = scaled_dot_product(q, q, v, mask=~torch.eye(29, dtype=torch.bool))
    assert torch.allclose(reformer_attention(q, q, v, n_buckets=1).output, no_self.output, atol=1e-6)


@pytest.mark.parametrize(
    "n_buckets,n_rounds,chunk,exclude_self",
    [(4, 1, None, False), (8, 1, None, True), (8, 1, 5, True), (4, 3, None, False), (8, 2, 6, True)],
)
def test_reformer_equals_exact_on_what_it_looked_at(make_qkv, relative_error, n_buckets, n_rounds, chunk, exclude_self):
    q, _, v = make_qkv((2, 3, 37, 16), dv=8)
    knobs = dict(n_buckets=n_buckets, n_rounds=n_rounds, chunk_size=chunk, exclude_self=exclude_self, seed=5)
    exact = scaled_dot_product(q, q, v, mask=reformer_mask(q, **knobs))
    out = reformer_attention(q, q, v, return_weights=True, **knobs)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)
    assert out.buckets.shape == (n_rounds, 2, 3, 37)


def test_reformer_with_a_causal_mask(make_qkv):
    q, _, v = make_qkv((1, 2, 30, 8))
    knobs = dict(n_buckets=4, n_rounds=2, seed=1)
    mask = causal_mask(30)
    exact = scaled_dot_product(q, q, v, mask=reformer_mask(q, mask=mask, **knobs))
    out = reformer_attention(q, q, v, mask=mask, **knobs)
    assert torch.allclose(out.output, exact.output, atol=1e-6)


def test_lsh_buckets_follow_directions():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 16, generator=g)
    buckets, rotations = lsh_buckets(torch.cat([x, 3 * x, -x]), n_buckets=8, n_rounds=2, seed=1)
    assert buckets.shape == (2, 150) and rotations.shape == (2, 16, 4)
    assert buckets.min() >= 0 and buckets.max() < 8
    assert torch.equal(buckets[:, :50], buckets[:, 50:100])  # the length does not matter, only the direction
    assert not torch.equal(buckets[:, :50], buckets[:, 100:])  # the opposite direction lands elsewhere
    assert torch.equal(buckets, lsh_buckets(torch.cat([x, 3 * x, -x]), n_buckets=8, n_rounds=2, seed=1)[0])


def test_more_rounds_see_more_pairs(make_qkv):
    q, _, _ = make_qkv((1, 1, 64, 16))
    seen = [reformer_mask(q, n_buckets=8, n_rounds=r, seed=0).sum() for r in (1, 2, 4)]
    assert seen[0] < seen[1] < seen[2]


def test_reformer_refuses_bad_input(make_qkv):
    q, _, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError):
        reformer_attention(q, q, v, n_buckets=3)
    with pytest.raises(AttnvizInputError):
        reformer_attention(q, q, v, n_rounds=0)


def _buckets_all_at_once(x, n_buckets, n_rounds, seed):
    """The hashing as first written: every row's rotation at once, argmax over [x·R ; −x·R]."""
    rotations = torch.randn(n_rounds, x.shape[-1], n_buckets // 2, generator=torch.Generator().manual_seed(seed))
    rotated = torch.einsum("...td,rdb->r...tb", x, rotations)  # (R, ..., T, nb/2)
    return torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)


@pytest.mark.parametrize("block", [1, 7, 100, 1 << 30])
@pytest.mark.parametrize(
    "shape,n_buckets,n_rounds", [((2, 3, 37, 16), 8, 2), ((1, 2, 300, 64), 64, 1), ((50, 8), 4, 3)]
)
def test_hashing_in_blocks_gives_the_same_buckets(monkeypatch, block, shape, n_buckets, n_rounds):
    from attnviz.efficient import lsh

    monkeypatch.setattr(lsh, "HASH_BLOCK", block)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, generator=g)
    x[..., :2, :] = 0.0  # every bucket ties: the first one wins, as argmax chooses
    x[..., 2, :] = torch.randint(-1, 2, (shape[-1],), generator=g).float()
    buckets, _ = lsh_buckets(x, n_buckets=n_buckets, n_rounds=n_rounds, seed=4)
    assert torch.equal(buckets, _buckets_all_at_once(x, n_buckets, n_rounds, 4))
    assert (buckets[..., :2] == 0).all()


@pytest.mark.parametrize("knobs", [dict(n_buckets=8, n_rounds=2, chunk_size=6), dict(n_buckets=4, n_rounds=3)])
def test_attending_a_few_chunks_at_a_time_changes_nothing(monkeypatch, make_qkv, knobs):
    from attnviz.efficient import reformer

    q, _, v = make_qkv((2, 3, 61, 16), dv=8)
    mask = causal_mask(61)
    at_once = reformer_attention(q, q, v, mask=mask, **knobs)
    monkeypatch.setattr(reformer, "ATTEND_BLOCK", 1)  # one chunk at a time
    one_by_one = reformer_attention(q, q, v, mask=mask, **knobs)
    # the same sums, grouped into batched products of another size: equal up to the last bits of float32 (one chunk
    # at a time differed from all at once by 6e-8 on this machine's CPU torch, where the outputs reach about 3)
    torch.testing.assert_close(one_by_one.output, at_once.output, rtol=0, atol=1e-6)
    torch.testing.assert_close(one_by_one.logsumexp, at_once.logsumexp, rtol=0, atol=1e-6)


_EXTRA_MEMORY = """
import json, sys
import torch
from attnviz.efficient import reformer_attention
from attnviz.scaling import time_and_memory
n = int(sys.argv[1])
g = torch.Generator().manual_seed(0)
q, v = (torch.randn(1, 1, n, 64, generator=g) for _ in range(2))  # (1, 1, n, 64) each
case = lambda: reformer_attention(q, q, v, n_buckets=n // 16)
print(json.dumps(time_and_memory(case, "cpu", min_reps=1, budget_s=0.0)))
"""


def _extra_bytes(n: int) -> float:
    """Peak extra resident memory of one Reformer call, in a fresh process, measured as attnviz.scaling does.

    Blocks of 64 KiB or more are mapped from the system one by one (MALLOC_MMAP_THRESHOLD_): otherwise glibc
    keeps freed blocks in its heap and the peak wanders by tens of MiB from run to run; this way it follows
    the tensors alive at the time, the same in every run.
    """
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    command = [sys.executable, "-c", _EXTRA_MEMORY, str(n)]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])["extra_bytes"]


def test_extra_memory_grows_like_the_length():
    # n/16 buckets (chunks of 32), one head: rotating all tokens at once made 32k tokens take 3.7× the extra
    # memory of 16k (140 → 525 MiB); hashed and attended in blocks, 1.7× (37 → 61 MiB)
    small, large = _extra_bytes(16384), _extra_bytes(32768)
    if small != small:  # NaN: this kernel does not let a process reset its peak
        pytest.skip("the peak resident set cannot be reset here (/proc/self/clear_refs)")
    assert 0 < large <= 2.3 * small, (small, large)

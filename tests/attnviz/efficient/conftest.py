"""Shared inputs for the efficient-attention tests: small shapes, fixed seeds."""

import pytest
import torch


def _make_qkv(shape=(2, 3, 24, 16), s=None, dv=None, seed=0, logit_scale=1.0):
    """Gaussian q (..., T, D), k (..., S, D), v (..., S, Dv); scaled scores of spread ``logit_scale``."""
    g = torch.Generator().manual_seed(seed)
    *lead, t, d = shape
    s = t if s is None else s
    dv = d if dv is None else dv
    root = logit_scale**0.5
    q = torch.randn(*lead, t, d, generator=g) * root
    k = torch.randn(*lead, s, d, generator=g) * root
    v = torch.randn(*lead, s, dv, generator=g)
    return q, k, v


@pytest.fixture
def make_qkv():
    return _make_qkv


def rel_err(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture
def relative_error():
    return rel_err

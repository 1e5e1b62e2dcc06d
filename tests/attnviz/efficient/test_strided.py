"""Every variant takes Q/K/V in any memory layout: the pretrained model hands over per-head slices of a
(T, H, D) tensor, whose strides are not those of a fresh (H, T, D) one."""

import pytest
import torch

from attnviz.efficient import VARIANTS


def _strided(x: torch.Tensor) -> torch.Tensor:
    """The same values as x (1, H, T, D), laid out T-major as a head split leaves them."""
    return x.transpose(1, 2).contiguous().transpose(1, 2).clone()[0][None]


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("t", [256, 640])
def test_any_layout_gives_the_same_output(name: str, t: int) -> None:
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(1, 4, t, 16, generator=g) for _ in range(3))  # (B, H, T, D)
    qs, ks, vs = _strided(q), _strided(k), _strided(v)
    assert not qs.is_contiguous()
    fn = VARIANTS[name]
    expected = fn(q, k, v).output  # (B, H, T, D)
    got = fn(qs, ks, vs).output  # (B, H, T, D)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)

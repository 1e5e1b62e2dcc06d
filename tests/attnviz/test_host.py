"""Tensors reach numpy through `attnviz.host.to_host` alone, so no page fails on a GPU."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from attnviz.host import to_host

ROOT = Path(__file__).resolve().parents[2]
CODE = [*ROOT.glob("attnviz/**/*.py"), *ROOT.glob("app_support/*.py"), *ROOT.glob("lessons/*.py"), ROOT / "app.py"]


def numpy_calls(source: str) -> list[int]:
    """Lines that call ``.numpy()`` on anything (a tensor's own route to numpy, which fails on a GPU)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "numpy"
    ]


def test_the_scan_finds_a_bare_numpy_call():
    assert numpy_calls("a = 1\nb = weights.cpu().numpy()\n") == [2]
    assert numpy_calls("b = to_host(weights)\n") == []


def test_no_tensor_reaches_numpy_but_through_to_host():
    assert len(CODE) > 30
    found = {
        str(path.relative_to(ROOT)): lines
        for path in CODE
        if path != ROOT / "attnviz/host.py" and (lines := numpy_calls(path.read_text(encoding="utf-8")))
    }
    assert not found, f"call attnviz.host.to_host instead of .numpy(): {found}"


def test_to_host_copes_with_gradients_and_other_dtypes():
    x = torch.ones(2, 3, requires_grad=True) * 2  # (2, 3), part of a graph: .numpy() alone would raise
    out = to_host(x)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3) and (out == 2).all()
    assert to_host(torch.arange(3)).dtype == np.int64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_to_host_from_cuda():
    assert to_host(torch.ones(2, device="cuda")).tolist() == [1.0, 1.0]

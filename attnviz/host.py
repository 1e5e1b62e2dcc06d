"""The one way from a tensor to numpy (and so to the plots, tables and downloads), wherever the tensor lives.

It imports no torch, so modules that must stay light at start-up (`attnviz.plots`) can use it.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

R = TypeVar("R")


def to_host(x: Tensor) -> np.ndarray:
    """A tensor's values as a numpy array in the host's memory.

    ``.numpy()`` alone fails on a CUDA or MPS tensor ("can't convert cuda:0 device type tensor to numpy") and on one
    that needs a gradient; tests/attnviz/test_host.py scans the code for any other route.
    """
    return x.detach().cpu().numpy()


def _is_tensor(value: object) -> bool:
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported; importing it here would not help
    return torch is not None and isinstance(value, torch.Tensor)


def fields_to_host(result: R) -> R:
    """A copy of a dataclass result with every tensor field as a numpy array (`to_host`), the rest as it is.

    The one way a result of `attnviz` reaches a page as plain arrays (and so a cache that pickles it): its class,
    field names, properties and methods stay those of the result; methods and properties written with operations
    that numpy shares (comparison, ``&``, ``.sum(-1)``) keep working on the arrays.
    """
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        raise TypeError(f"expected a dataclass instance, got {type(result).__name__}")
    changes = {
        field.name: to_host(value)
        for field in dataclasses.fields(result)
        if field.init and _is_tensor(value := getattr(result, field.name))
    }
    return dataclasses.replace(result, **changes)

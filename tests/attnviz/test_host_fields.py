"""`attnviz.host.fields_to_host`: an attnviz result with its tensors as numpy arrays, and nothing else changed."""

import dataclasses

import numpy as np
import pytest
import torch

from attnviz.census import HeadCensus
from attnviz.host import fields_to_host


@dataclasses.dataclass(frozen=True, eq=False)
class Result:
    weights: torch.Tensor
    labels: tuple[str, ...]
    count: int


def test_tensor_fields_become_arrays_and_the_rest_stays():
    found = Result(weights=torch.ones(2, 3, requires_grad=True) * 2, labels=("a", "b"), count=3)
    host = fields_to_host(found)
    assert type(host) is Result and isinstance(host.weights, np.ndarray) and host.weights.shape == (2, 3)
    assert (host.weights == 2).all() and host.labels == ("a", "b") and host.count == 3
    assert isinstance(found.weights, torch.Tensor)  # the original is untouched


def test_properties_written_for_both_keep_working():
    zeros = torch.zeros(2, 3)
    census = HeadCensus(
        previous=torch.tensor([[0.3, 0.1, 0.4], [0.1, 0.0, 0.1]]),
        next=torch.tensor([[0.3, 0.1, 0.3], [0.0, 0.1, 0.0]]),
        itself=zeros,
        special=zeros,
        elsewhere=zeros,
        entropy=zeros,
        spread=zeros,
        distance=zeros,
        rows=4,
    )  # neighbours (previous + next): [[0.6, 0.2, 0.7], [0.1, 0.1, 0.1]]
    host = fields_to_host(census)
    assert isinstance(host.heads_over_half, np.ndarray) and host.heads_over_half.tolist() == [2, 0]
    assert census.heads_over_half.tolist() == [2, 0]


def test_only_dataclass_instances():
    for bad in (torch.ones(2), Result, {"weights": torch.ones(2)}):
        with pytest.raises(TypeError, match="dataclass instance"):
            fields_to_host(bad)

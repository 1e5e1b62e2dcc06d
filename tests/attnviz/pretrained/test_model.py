"""`attnviz.pretrained.model`: loading the bundled weights and tokenizer."""

import dataclasses

import pytest

from attnviz.pretrained import (
    head_projections,
)


def test_model_weights_are_read_only(model):
    with pytest.raises(RuntimeError):
        model.layers[0].w_q.mul_(2)
    with pytest.raises(RuntimeError):
        head_projections(model, 0, 0).m_q[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.layers = ()

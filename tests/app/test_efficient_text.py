"""app_support.efficient.efficient_text: what the pages say about each variant matches what it computes."""

import re

import numpy as np
import torch

from app_support.efficient import efficient_text
from attnviz.efficient import REGISTRY, anatomy, compare, sparse_mask

INFO = {name: spec.text for name, spec in REGISTRY.items()}  # each variant's text, from its record


def test_sparse_pattern_is_the_described_one():
    """The help and the formula describe the bidirectional pattern; the page computes exactly that."""
    info = INFO["sparse"]
    help_ = next(kn for kn in efficient_text.knobs("sparse") if kn.name == "pattern").help
    assert "either side" in help_ and "Both directions" in help_ and "last l" not in help_
    assert r"|t-s| < l" in info.formula and r"(t-s) \bmod l = 0" in info.formula
    for t in (1, 5, 11, 17):
        for stride in (1, 2, 3, 4, 16):
            kwargs = compare.settings("sparse", {"stride": stride, "pattern": "strided"}, t).kwargs
            assert kwargs["causal"] is False
            pattern = compare.pattern_of("sparse", torch.zeros(t, 4), kwargs)
            l_ = int(kwargs["stride"])
            i, j = np.arange(t)[:, None], np.arange(t)[None, :]
            described = (np.abs(i - j) < l_) | ((i - j) % l_ == 0)  # as the formula says, both ways
            assert np.array_equal(pattern.numpy(), described), (t, stride)
            fixed = compare.settings("sparse", {"stride": stride, "pattern": "fixed"}, t).kwargs
            pattern = compare.pattern_of("sparse", torch.zeros(t, 4), fixed)
            described = (i // l_ == j // l_) | (j % l_ == l_ - 1)  # own block, or the last of a block
            assert np.array_equal(pattern.numpy(), described), (t, stride)
    reach = anatomy.sparse_reach(11, "strided", 3)
    assert reach.both == int(sparse_mask(11, stride=3, causal=False).sum()) == 79
    assert reach.causal == 45 and reach.last_row == 6


def test_global_tokens_help_says_what_they_are_per_source():
    help_ = next(kn for kn in efficient_text.knobs("longformer") if kn.name == "globals").help
    assert "[CLS]" in help_ and "GloVe" in help_ and "first word" in help_


def test_reformer_formula_and_help_say_angular_lsh_and_chunks():
    info, knobs = INFO["reformer"], efficient_text.knobs("reformer")
    assert "hyperplane" not in " ".join(kn.help for kn in knobs)
    assert "argmax [xR; −xR]" in knobs[0].help and "rotation" in knobs[0].help
    assert r"\mathrm{chunk}_r" in info.formula and r"c = \lceil 2T" in info.formula
    assert re.search(r"q_s\}?\{\\lVert q_s\\rVert", info.formula)

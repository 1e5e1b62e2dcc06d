"""`weight_by_word`: a row of S added up word by word (a fresh reader's finding on page 2)."""

import numpy as np
import pytest
import torch

from attnviz.similarity import weight_by_word


def test_copies_of_a_word_add_up():
    row = np.array([1.0, 5.0, 2.0, 2.0, 2.0])
    assert weight_by_word(row, ["the", "bank", "the", "the", "river"]) == {"the": 5.0, "bank": 5.0, "river": 2.0}


def test_a_tensor_row_gives_the_same_sums():
    row = torch.tensor([0.5, -1.0, 0.25])
    assert weight_by_word(row, ["a", "b", "a"]) == {"a": 0.75, "b": -1.0}


def test_a_row_that_does_not_fit_the_words_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        weight_by_word(np.ones(3), ["a", "b"])

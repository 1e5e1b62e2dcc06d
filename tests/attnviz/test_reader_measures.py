"""`even_received`: what an even split gives each word of the real model's grouped map (a fresh reader's finding)."""

import pytest
import torch

from attnviz.attention import attention_received
from attnviz.pretrained.measures import even_received, group_attention
from attnviz.pretrained.model import load_model
from attnviz.pretrained.tokens import encode, group_tokens


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_even_split_counts_a_word_by_its_pieces(model):
    tokens = encode(model, "the riverbank flooded")  # [CLS] the river ##bank flooded [SEP]
    even = even_received(tokens)
    assert len(tokens.pieces) == 6 and even.shape == (5,)
    # 5 groups over 6 pieces: "riverbank" (2 pieces) receives 5·2/6, every other group 5/6
    assert torch.allclose(even, torch.tensor([5 / 6, 5 / 6, 10 / 6, 5 / 6, 5 / 6]))
    assert torch.isclose(even.sum(), torch.tensor(5.0))  # the column sums add up to the number of rows


def test_even_split_is_one_per_word_of_one_piece(model):
    tokens = encode(model, "the cat sat on the mat")
    assert torch.allclose(even_received(tokens), torch.ones(len(tokens.pieces)))


def test_even_split_matches_a_uniform_map_grouped_without_specials(model):
    tokens = encode(model, "the riverbank flooded")
    t = len(tokens.pieces)
    grouping = group_tokens(tokens, words=True, keep_special=False)
    expected = attention_received(group_attention(torch.full((t, t), 1 / t), grouping).weights).total
    assert torch.allclose(even_received(tokens, keep_special=False), expected)

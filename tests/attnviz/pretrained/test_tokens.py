"""`attnviz.pretrained.tokens`: WordPiece tokens, odd input, and pieces grouped back into words."""

import dataclasses

import pytest
import torch

from attnviz.errors import AttnvizInputError
from attnviz.pretrained import (
    encode,
    find_coreference_heads,
    find_word,
    forward,
    group_tokens,
)

# ---------------------------------------------------------------------------------------------------------
# Tokens and bad input
# ---------------------------------------------------------------------------------------------------------


def test_encode_ties_pieces_to_words(model):
    tokens = encode(model, "Embeddings are tired, Bank!")
    pieces = ("[CLS]", "em", "##bed", "##ding", "##s", "are", "tired", ",", "bank", "!", "[SEP]")
    assert tokens.pieces == pieces
    assert tokens.words == ("Embeddings", "are", "tired", ",", "Bank", "!")
    assert tokens.word_ids == (None, 0, 0, 0, 0, 1, 2, 3, 4, 5, None)
    assert tokens.special == (True,) + (False,) * 9 + (True,)
    assert not tokens.truncated and tokens.notes == () and not tokens.is_empty
    assert find_word(model, tokens, "bank") == 4
    with pytest.raises(AttnvizInputError, match="river"):
        find_word(model, tokens, "river")


@pytest.mark.parametrize("text", ["", "   ", "\t\n "])
def test_empty_text_is_cls_sep_with_a_note(model, text):
    tokens = encode(model, text)
    assert tokens.pieces == ("[CLS]", "[SEP]") and tokens.is_empty
    assert any("empty" in note for note in tokens.notes)
    fwd = forward(model, tokens)
    assert torch.isfinite(fwd.sentence_embedding).all()
    assert group_tokens(tokens, keep_special=False).labels == ()


def test_emoji_become_unk_and_other_scripts_split_with_a_note(model):
    tokens = encode(model, "I love 🐱 and 東京 and привет 🐱")
    assert tokens.unknown_words == ("🐱",)
    assert tokens.pieces.count("[UNK]") == 2 and sum(tokens.unknown) == 2
    assert "東" in tokens.pieces and "京" in tokens.pieces and "п" in tokens.pieces
    assert any("[UNK]" in note and "🐱" in note for note in tokens.notes)
    assert torch.isfinite(forward(model, tokens).sentence_embedding).all()


def test_text_beyond_512_positions_is_truncated_with_a_note(model):
    tokens = encode(model, "word " * 600)
    assert len(tokens) == 512 and tokens.pieces[-1] == "[SEP]"
    assert tokens.truncated and tokens.n_dropped == 600 - 510
    assert any("512" in note and "90" in note for note in tokens.notes)
    assert not encode(model, "word " * 510).truncated
    assert encode(model, "word " * 511).n_dropped == 1


def test_bad_arguments_are_refused(model):
    with pytest.raises(AttnvizInputError):
        encode(model, None)
    too_long = dataclasses.replace(encode(model, "word " * 600), ids=(101,) + (1000,) * 600 + (102,))
    with pytest.raises(AttnvizInputError, match="512"):
        forward(model, too_long)
    with pytest.raises(AttnvizInputError):
        find_coreference_heads(model, "the cat sat because it was tired", top=0)
    with pytest.raises(AttnvizInputError, match="dog"):
        find_coreference_heads(model, "the cat sat because it was tired", target_word="dog")


# ---------------------------------------------------------------------------------------------------------
# Grouping pieces into words, special tokens in or out
# ---------------------------------------------------------------------------------------------------------


def test_group_tokens_merges_wordpieces(model):
    tokens = encode(model, "embeddings help")
    words = group_tokens(tokens)
    assert words.labels == ("[CLS]", "embeddings", "help", "[SEP]")
    assert words.members == ((0,), (1, 2, 3, 4), (5,), (6,))
    assert words.special == (True, False, False, True)
    pieces = group_tokens(tokens, words=False, keep_special=False)
    assert pieces.labels == ("em", "##bed", "##ding", "##s", "help")

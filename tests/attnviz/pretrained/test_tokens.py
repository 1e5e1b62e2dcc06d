"""`attnviz.pretrained.tokens`: WordPiece tokens, odd input, and pieces grouped back into words."""

import dataclasses
import json

import pytest
import torch

from attnviz.errors import AttnvizInputError
from attnviz.paragraph import MODEL_PIECES
from attnviz.pretrained import (
    encode,
    find_coreference_heads,
    find_word,
    forward,
    group_tokens,
    load_model,
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


def test_text_beyond_the_one_limit_is_truncated_with_a_note(model):
    # one limit for the whole course: the sentence box's MODEL_PIECES, all-MiniLM-L6-v2's sentence-transformers
    # max_seq_length (issue 25, item 19: page 5c ran its texts to 512 positions while the sidebar said 256 pieces)
    assert model.max_pieces == MODEL_PIECES == 256
    shipped = json.loads((model.path / "sentence_bert_config.json").read_text())
    assert shipped["max_seq_length"] == MODEL_PIECES
    tokens = encode(model, "word " * 600)
    assert len(tokens) == 256 and tokens.pieces[-1] == "[SEP]"
    assert tokens.truncated and tokens.n_dropped == 600 - 254
    assert any("256 pieces the model reads" in note and "346" in note for note in tokens.notes)
    assert not encode(model, "word " * 254).truncated
    assert encode(model, "word " * 255).n_dropped == 1


def test_the_limit_agrees_with_the_sentence_box():
    from tokenizers import Tokenizer

    from attnviz.paragraph import cut_to_pieces

    full = load_model("cpu", max_pieces=None)  # a benchmark may read all 512 rows of the position table
    assert full.max_pieces == full.config.max_positions == 512 and len(encode(full, "word " * 600)) == 512
    tok = Tokenizer.from_file(str(full.path / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    text = "the river bank was muddy " * 80  # 400 words
    cut = cut_to_pieces(text, tok)
    assert len(encode(load_model("cpu"), text).words) == len(encode(full, cut.text).words) == 254
    with pytest.raises(ValueError, match="3 to 512"):
        load_model("cpu", max_pieces=513)


def test_bad_arguments_are_refused(model):
    with pytest.raises(AttnvizInputError):
        encode(model, None)
    too_long = dataclasses.replace(encode(model, "word " * 600), ids=(101,) + (1000,) * 600 + (102,))
    with pytest.raises(AttnvizInputError, match="1 to 256 tokens"):
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

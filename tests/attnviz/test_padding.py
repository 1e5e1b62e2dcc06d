"""The padding mask on MiniLM's tokens: a padded batch against each sentence alone and against transformers."""

import pytest
import torch

from attnviz.errors import AttnvizInputError
from attnviz.padding import PAD, padded_batch
from attnviz.pretrained import encode, load_model

PAIR = ("I walked by the river bank", "she sat on the bank and watched the river")


@pytest.fixture(scope="module")
def model():
    return load_model("cpu")


@pytest.fixture(scope="module")
def batch(model):
    return padded_batch(model, PAIR)


def test_short_sentence_is_padded_to_the_long_one(model, batch):
    short, long = (encode(model, t) for t in PAIR)
    assert len(batch.pieces[0]) == len(batch.pieces[1]) == len(long)
    assert batch.pieces[1] == long.pieces
    assert batch.pieces[0] == short.pieces + (PAD,) * (len(long) - len(short))
    assert batch.keep.tolist() == [[p != PAD for p in row] for row in batch.pieces]
    assert batch.weights.shape == (6, 2, 12, len(long), len(long))


def test_padded_keys_get_exactly_zero_and_rows_sum_to_one(batch):
    pads = ~batch.keep[0]  # (T,) the short sentence's [PAD] columns
    assert pads.sum() >= 2
    assert batch.pad_weight == 0.0
    assert torch.count_nonzero(batch.weights[:, 0, :, :, pads]) == 0
    torch.testing.assert_close(batch.weights.sum(dim=-1), torch.ones(batch.weights.shape[:-1]), atol=1e-5, rtol=0)


def test_real_outputs_do_not_change_with_padding_but_do_without_the_mask(batch):
    n = int(batch.keep[0].sum())
    torch.testing.assert_close(batch.hidden[0, :n], batch.alone[0], atol=1e-4, rtol=0)
    assert batch.max_difference < 1e-4
    assert batch.unmasked_difference > 0.05  # without the mask the [PAD] keys leak into the real tokens


def test_matches_transformers_with_an_attention_mask(model, batch):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        from transformers import BertModel

        ref = BertModel.from_pretrained(str(model.path), attn_implementation="eager", local_files_only=True).eval()
    ids = torch.tensor([[encode(model, t).ids[i] if p != PAD else 0 for i, p in enumerate(row)] for t, row in
                        zip(PAIR, batch.pieces, strict=True)])  # fmt: skip
    with torch.no_grad():
        out = ref(ids, attention_mask=batch.keep.long(), output_attentions=True)
    keep = batch.keep[:, :, None]  # compare the real tokens only; [PAD] rows are never read
    torch.testing.assert_close(out.last_hidden_state * keep, batch.hidden * keep, atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.stack(out.attentions) * batch.keep[None, :, None, :, None],
                               batch.weights * batch.keep[None, :, None, :, None], atol=1e-5, rtol=0)  # fmt: skip


@pytest.mark.parametrize("texts", [("only one",), tuple("abcdefghi")])
def test_batch_size_is_checked(model, texts):
    with pytest.raises(AttnvizInputError):
        padded_batch(model, texts)


def test_empty_text_pads_fine(model):
    out = padded_batch(model, ("", "a longer sentence"))
    assert out.pieces[0][:2] == ("[CLS]", "[SEP]") and set(out.pieces[0][2:]) == {PAD}
    assert out.pad_weight == 0.0 and out.max_difference < 1e-4

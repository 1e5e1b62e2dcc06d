"""`attnviz.decoder.swap`: lesson 6's variants in every layer of the decoder, judged by next-token loss."""

import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.decoder import forward
from attnviz.decoder.gqa import expand_kv
from attnviz.decoder.sinks import next_token_losses, sink_experiment, window_mask
from attnviz.decoder.swap import VARIANTS, _mqa, attention_for, decoder_swap, pairs_kept, stride_for
from attnviz.efficient.mqa import grouped_query_attention
from attnviz.errors import AttnvizInputError, EmptyTextError

PARAGRAPH = (
    "The history of the city begins in the Middle Ages, when a small market grew up beside the river crossing. "
    "Merchants came from the villages around to sell wool, grain and salt, and by the thirteenth century the town "
    "had a charter and a stone bridge."
)


@pytest.fixture(scope="module")
def paragraph(model):
    return decoder_swap(model, PARAGRAPH)


def test_flash_equals_full_attention_to_float_rounding(paragraph):
    flash, full = paragraph.row("flash"), paragraph.full
    assert abs(flash.loss - full.loss) < 1e-5
    assert torch.allclose(flash.curve.losses, full.curve.losses, atol=1e-4)  # (T−1,) every position's loss
    assert flash.changed_share == 0.0 and not flash.next_changed and flash.next_text == full.next_text
    assert flash.pairs_kept == 1.0


def test_the_table_figures_are_what_the_passes_give(model, paragraph):
    t = len(paragraph.tokens)
    assert paragraph.stride == stride_for(t) == round(t**0.5)
    assert [r.variant.name for r in paragraph.rows] == list(VARIANTS)
    ids = torch.tensor(paragraph.tokens.ids)
    logits = forward(model, paragraph.tokens, attention_for("fixed", paragraph.stride), keep_weights=False).logits
    fixed = paragraph.row("fixed")
    assert torch.allclose(fixed.curve.losses, next_token_losses(logits, ids))
    top = logits.argmax(-1)  # (T,)
    assert torch.equal(fixed.top_ids, top) and fixed.next_id == int(top[-1])
    assert fixed.changed_share == pytest.approx(float((top != paragraph.full.top_ids).float().mean()))
    assert fixed.loss == pytest.approx(float(next_token_losses(logits, ids).mean()))
    # on a paragraph of about 60 tokens the patterns and the pooled heads do lose something: the test can fail
    for name in ("strided", "fixed", "window", "mqa"):
        assert paragraph.row(name).loss > paragraph.full.loss + 1e-3, name
    assert paragraph.row("mqa").pairs_kept == 1.0 and 0 < paragraph.row("window").pairs_kept < 1


def test_the_window_is_the_sink_experiments_window_alone(model, paragraph):
    exp = sink_experiment(model, PARAGRAPH, window=paragraph.stride, sinks=4)
    assert torch.allclose(paragraph.row("window").curve.losses, exp.window_only.losses, atol=1e-5)
    assert torch.allclose(paragraph.full.curve.losses, exp.full.losses, atol=1e-6)


def test_a_window_or_stride_as_wide_as_the_text_is_full_attention(model):
    text = "I walked by the river bank and sat down"
    t = len(forward(model, text, keep_weights=False).tokens)
    wide = decoder_swap(model, text, ("window", "strided", "fixed"), stride=t)
    for row in wide.rows:
        assert row.pairs_kept == 1.0
        assert abs(row.loss - wide.full.loss) < 1e-5, row.variant.name
        assert row.changed_share == 0.0
    narrow = decoder_swap(model, text, ("window",), stride=1)  # each token sees only itself
    assert narrow.row("window").pairs_kept == pytest.approx(t / (t * (t + 1) / 2))
    assert narrow.row("window").loss > wide.full.loss + 0.5


def test_three_groups_of_repeated_heads_pool_back_to_the_models_own(model):
    """The conversion pools the copies a group's query heads were handed: with 3 groups (the model's own) each
    group's 3 copies are one head, so nothing changes; with 1 group the 3 heads are averaged."""

    def gqa3(q, k, v, mask=None, scale=None):
        return grouped_query_attention(q, k, v, mask=mask, scale=scale, groups=3)

    text = "The cat sat on the mat because it was warm"
    same = decoder_swap(model, text, ("mqa",), attend_of=lambda name, stride: gqa3)
    assert abs(same.row("mqa").loss - same.full.loss) < 1e-5 and same.row("mqa").changed_share == 0.0
    g = torch.Generator().manual_seed(0)
    q = torch.randn(9, 5, 8, generator=g)
    k3, v3 = torch.randn(3, 5, 8, generator=g), torch.randn(3, 5, 8, generator=g)  # (Hkv, S, Dh)
    pooled = _mqa(q, expand_kv(k3, 9), expand_kv(v3, 9))
    assert torch.allclose(pooled.k_shared[0], k3.mean(0), atol=1e-6)  # the mean of the 3 distinct heads
    one_k, one_v = k3.mean(0, keepdim=True).expand(9, 5, 8), v3.mean(0, keepdim=True).expand(9, 5, 8)
    assert torch.allclose(pooled.output, scaled_dot_product(q, one_k, one_v).output, atol=1e-6)


def test_a_mask_beyond_the_causal_one_is_still_applied():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(9, 6, 8, generator=g) for _ in range(3))
    causal, narrow = causal_mask(6, 6), window_mask(6, 6, 2)  # (T, S)
    for name in ("flash", "strided", "fixed"):
        attend = attention_for(name, 6)  # a stride of 6 covers every causal pair
        assert torch.allclose(
            attend(q, k, v, mask=causal).output, scaled_dot_product(q, k, v, causal).output, atol=1e-5
        )
        assert torch.allclose(
            attend(q, k, v, mask=narrow).output, scaled_dot_product(q, k, v, narrow).output, atol=1e-5
        )


def test_pairs_kept_counts_the_causal_pairs():
    assert pairs_kept("window", 4, 2) == pytest.approx((1 + 2 + 2 + 2) / 10)
    assert pairs_kept("strided", 5, 2) == pytest.approx(13 / 15)  # distance 3 ((3, 0) and (4, 1)) is neither
    assert pairs_kept("fixed", 4, 2) == pytest.approx((1 + 2 + 2 + 3) / 10)  # block of 2, and key 1 for rows 2, 3
    assert pairs_kept("flash", 9, 3) == pairs_kept("mqa", 9, 3) == 1.0


@pytest.mark.parametrize("text", ["Hi", "The"])
def test_a_single_token_has_no_next_token_loss(model, text):
    assert len(forward(model, text, keep_weights=False).tokens) == 1
    with pytest.raises(AttnvizInputError, match="at least 2 tokens"):
        decoder_swap(model, text)


def test_hostile_input_gives_clear_errors(model):
    with pytest.raises(EmptyTextError):
        decoder_swap(model, "")
    with pytest.raises(AttnvizInputError, match="unknown variant"):
        decoder_swap(model, "two words", ("linformer",))
    with pytest.raises(AttnvizInputError):
        decoder_swap(model, "two words", stride=0)
    odd = decoder_swap(model, "<b>x</b> 🙂 " * 5, ("window",))  # HTML and emoji are only text
    assert len(odd.tokens) > 2 and torch.isfinite(odd.row("window").curve.losses).all()

"""Lesson 7's last step: lesson 6's variants swapped into all the decoder's layers, on the default sentence, a
paragraph of about 60 tokens and a single token."""

import pytest

from app_support.data import loaders
from attnviz.decoder.swap import VARIANTS, decoder_swap
from attnviz.decoder.tokens import encode
from tests.app.elements import ok, run
from tests.app.test_pages import _reveal_all

PAGE = "lessons/decoder.py"
PARAGRAPH = (
    "The history of the city begins in the Middle Ages, when a small market grew up beside the river crossing. "
    "Merchants came from the villages around to sell wool, grain and salt, and by the thirteenth century the town "
    "had a charter and a stone bridge."
)


def _table(at):
    return next(d.value for d in at.dataframe if "top next token" in d.value.columns)


@pytest.mark.parametrize("text", [None, PARAGRAPH], ids=["default", "paragraph"])
def test_the_table_is_the_compute(app, text):
    at = ok(_reveal_all(app(PAGE) if text is None else app(PAGE, sentence=text)))
    text = text or "I walked by the river bank"
    assert any("Page 6b swapped each variant into every layer of an encoder" in m.value for m in at.markdown)
    assert any(x.value.startswith("Turn on the measurement above") for x in at.caption)
    assert not any("top next token" in d.value.columns for d in at.dataframe)  # nothing measured until asked
    run(at.toggle(key="dec_swap_run").set_value(True))
    model = loaders.decoder()
    t = len(encode(model, text))
    want = decoder_swap(model, text)
    table = _table(at)
    assert len(table) == 1 + len(VARIANTS)
    for r, (_, row) in zip((want.full, *want.rows), table.iterrows(), strict=True):
        assert row["mean loss (nats)"] == f"{r.loss:.4f}"
        assert row["perplexity"] == f"{r.curve.perplexity:.2f}"
        assert row["top next token"] == repr(r.next_text)
        assert row[f"top prediction changed (of {t} positions)"] == (
            "" if r.variant is None else f"{r.changed_share:.0%}"
        )
        assert row["next token changed"] == ("" if r.variant is None else ("yes" if r.next_changed else "no"))
    flash = table.loc["FlashAttention"]
    assert flash["loss − full"] in ("+0.0000", "-0.0000") and flash["next token changed"] == "no"
    said = next(x.value for x in at.caption if x.value.startswith("l = round(√T)"))
    assert f"l = round(√T) = {round(t**0.5)} for your {t} tokens" in said
    assert f"mean over the {t - 1} predictions" in said
    mqa = want.row("mqa")
    assert f"moved the loss by {mqa.loss - want.full.loss:+.3f} nats" in said
    assert "one text, not a benchmark" in next(m.value for m in at.markdown if "Page 6b" in m.value).lower()


def test_a_single_token_gets_a_message(app):
    at = ok(_reveal_all(app(PAGE, sentence="Hi")))
    assert len(encode(loaders.decoder(), "Hi")) == 1
    assert any("Your text is a single token" in x.value for x in at.info)
    assert not any("top next token" in d.value.columns for d in at.dataframe)

"""The paragraph views under a long map (parts.paragraph_view), on page 5 (GloVe words) and 5b (the model)."""

import re

from app_support.kit.sentence import PRESETS
from tests.app.test_pages import no_html

LONG = PRESETS[-1]  # our own paragraph, 256 pieces
HOSTILE = " ".join(["<script>alert(1)</script> [x](javascript:alert(1)) :red[bank] **river** `code`"] * 12)


def highlighted(at) -> list[str]:
    return [m.value for m in at.markdown if "-background[" in m.value]


def test_multihead_long_text_gets_the_views(app):
    at = app("lessons/multihead.py", sentence=LONG)
    assert not at.exception
    assert at.selectbox(key="mh_para_focus").value == "the"  # the first word
    row, col = highlighted(at)[:2]
    assert re.match(r"(:(red|orange|yellow)-background\[\u00a0)?➤ the ", row)  # the text starts with the focus
    assert row != col and col.count("➤ the") == 1 and row.count("➤") == 1
    assert any("strongest links of the whole map" in m.value for m in at.markdown)
    # find a word: the box focuses it, Enter again moves to the next place
    at.text_input(key="mh_para_find").set_value("river").run()
    assert at.selectbox(key="mh_para_focus").value == "river"
    assert any("is at 3 places: this is number 1" in c.value.replace("\\", "") for c in at.caption)
    at.text_input(key="mh_para_find").set_value("river ").run()
    assert at.selectbox(key="mh_para_focus").value == "river·2"
    at.text_input(key="mh_para_find").set_value("zzqxv").run()
    assert any("“zzqxv” is not in the text" in c.value.replace("\\", "") for c in at.caption)
    assert at.selectbox(key="mh_para_focus").value == "river·2"
    at.radio(key="mh_para_blocks").set_value("16 tokens").run()
    assert not at.exception
    no_html(at)


def test_short_text_has_no_paragraph_views(app):
    at = app("lessons/multihead.py", sentence="she sat on the bank and watched the river")
    assert not at.exception
    assert not highlighted(at)
    assert "mh_para_focus" not in [s.key for s in at.selectbox]


def test_real_heads_views_name_tokens_by_place_and_leave_out_specials(app):
    at = app("lessons/real_heads.py", sentence=LONG)
    assert not at.exception
    assert at.selectbox(key="real_para_focus").value == "The"  # [CLS] is not the default focus
    links = [m.value for m in at.markdown if re.match(r"1\. ", m.value)]
    assert links and "CLS" not in links[0] and "SEP" not in links[0]
    at.toggle(key="real_para_skip").set_value(False).run()
    assert not at.exception
    no_html(at)


def test_hostile_paragraph_is_escaped(app):
    at = app("lessons/real_heads.py", sentence=HOSTILE)
    assert not at.exception
    text = " ".join(highlighted(at))
    assert text and "<script>" not in text and ":red[" not in text and "](javascript" not in text
    no_html(at)


def test_one_repeated_token(app):
    at = app("lessons/multihead.py", sentence="bank " * 400)
    assert not at.exception
    assert at.selectbox(key="mh_para_focus").value == "bank"
    assert any("No links to list" in m.value for m in at.markdown)  # every pair is "bank" with "bank"
    at.text_input(key="mh_para_find").set_value("bank").run()
    assert any("is at 254 places" in c.value.replace("\\", "") for c in at.caption)
    no_html(at)


def test_similarity_links_list_each_pair_once(app):
    at = app("lessons/similarity.py", sentence=LONG)
    for _ in range(4):  # answer "skip" to every predict-first question, so the map and its panel are drawn
        skips = [b for b in at.button if b.key and b.key.endswith("_skip")]
        if not skips:
            break
        skips[0].click().run()
    assert not at.exception
    lists = [m.value for m in at.markdown if re.match(r"\d+\. ", m.value)]
    lines = [ln for block in lists for ln in block.splitlines()]
    assert len(lines) == 10  # ten links although many pairs repeat
    pairs = [tuple(re.match(r"\d+\. (\S+) ↔ (\S+) ", ln).groups()) for ln in lines]
    assert all(a != b for a, b in pairs)  # a word with itself, even in two places, is left out
    assert len({frozenset(p) for p in pairs}) == len(pairs)  # "i ↔ me" is "me ↔ i": listed once

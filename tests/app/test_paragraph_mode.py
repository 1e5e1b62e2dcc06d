"""Paragraph mode through the app: long text in the box and in links, compressed links, hostile links."""

import base64
import zlib

import pytest

from app_support.kit.sentence import LINK_KEY, PRESETS
from attnviz.paragraph import pack

LONG = PRESETS[-1]  # our own paragraph of 256 pieces


def param(at, key: str) -> str:
    value = at.query_params[key]
    return value[-1] if isinstance(value, list) else value


def infos(at) -> str:
    return " ".join(i.value for i in at.sidebar.info)


def test_long_text_goes_in_the_link_compressed_and_comes_back(app):
    at = app("lessons/similarity.py")
    at.text_area(key="sentence").set_value(LONG).run()
    assert not at.exception
    assert "sentence" not in at.query_params and param(at, LINK_KEY) == pack(LONG)
    again = app("lessons/similarity.py", **{LINK_KEY: pack(LONG)})
    assert not again.exception
    assert again.text_area(key="sentence").value == LONG
    assert not infos(again)  # 256 pieces exactly: nothing cut, nothing to say


def test_short_text_stays_readable_in_the_link(app):
    at = app(**{LINK_KEY: pack("she sat on the bank")})
    assert at.text_area(key="sentence").value == "she sat on the bank"
    assert param(at, "sentence") == "she sat on the bank" and LINK_KEY not in at.query_params


@pytest.mark.parametrize(
    "packed,message",
    [
        ("%%%not-a-link", "characters a link never writes"),
        (base64.urlsafe_b64encode(b"not zlib at all").decode(), "does not unpack"),
        (base64.urlsafe_b64encode(zlib.compress(b"a" * 5_000_000, 9)).decode(), "more than 20,000 characters"),
        ("A" * 40_000, "may carry up to 32,000"),
    ],
)
def test_broken_links_say_why_and_show_the_default(app, packed, message):
    at = app(**{LINK_KEY: packed})
    assert not at.exception
    assert message in infos(at) and "Showing the default sentence instead" in infos(at)
    assert at.text_area(key="sentence").value == "I walked by the river bank"
    assert LINK_KEY not in at.query_params  # the link to this view no longer carries the broken text


def test_a_link_with_400000_characters_of_text(app):
    at = app("lessons/similarity.py", sentence="bank " * 80_000)
    assert not at.exception
    assert "400,000 characters long; the box keeps its first 20,000" in infos(at)
    assert "the model reads the first 256" in infos(at)
    assert at.text_area(key="sentence").value == " ".join(["bank"] * 254)


def test_a_link_with_a_megabyte_of_text(app):
    # In the running app such a link never reaches a page: the server answers it with its own page
    # (tests/e2e/test_paragraph.py). Here, below the HTTP layer, Streamlit 1.67 drops a query string over 512 KiB
    # before the script runs: the app opens as from a link without settings, on the default sentence
    at = app("lessons/similarity.py", sentence="bank " * 200_000)
    assert not at.exception
    assert at.text_area(key="sentence").value == "I walked by the river bank"


def test_a_pasted_100000_characters(app):
    at = app("lessons/real_heads.py")
    at.text_area(key="sentence").set_value("The river rose. " * 6_250).run()
    assert not at.exception
    assert "100,000 characters long" in infos(at) and "up to “river”" in infos(at)


def test_text_with_no_known_word(app):
    at = app("lessons/similarity.py", sentence="zzqxv " * 300)
    assert not at.exception
    assert any("needs at least 1 word" in w.value for w in at.warning)

"""Hostile input through every page: its controls, the sentence box, and the settings a link carries.

Each page of `tests.app.conftest.PAGES` (new lessons join by being listed there) gets the same share, drawn from a
fixed seed: sessions opened from a hostile link (a bad sentence and a bad value for every setting the page keeps in
the URL, found from the widgets' own `query_param_key`), then rounds in which most of the page's controls change at
once — text boxes get hostile text, numbers and sliders values in and out of range, choices a random option, and the
"predict first" questions an answer, so the parts behind them are drawn too. A few hundred inputs in all.

After every run: no exception; no element that may render HTML carries a tag that learner text brought; learner
text in markdown (alerts, captions, headings, labels, metrics) keeps its markup escaped; plotly text has its tags
escaped; and no element is larger than the server's `maxMessageSize`, which it would replace with an error.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import tomllib
from collections.abc import Iterator

import pytest

from app_support.kit import screens, view
from tests.app.conftest import PAGES, ROOT

SEED = 20261128
LINKS = 4  # sessions per page opened from a hostile link
ROUNDS = 10  # rounds of control changes per page
CHANGE = 0.6  # chance that a given control changes in a round
NOT_CLICKED = ("proj_train",)  # buttons that start long work; skip buttons are the only ones pressed

MARK = "PWNED"  # every markup payload wraps this word, so a leak is found wherever it lands
TAGS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:alert(1)'>PWNED</a>",
        "<iframe src=javascript:alert(1)>", "<svg onload=alert(1)>", "<style>*{display:none}</style>"]  # fmt: skip
MARKUP = [f"[{MARK}](javascript:alert(1))", f"![{MARK}](http://example.invalid/x.png)", f":red[{MARK}]",
          f"**{MARK}** _{MARK}_ `{MARK}`", f"${MARK}^2$ $$\\frac{{{MARK}}}{{0}}$$", f"# {MARK}", f"> {MARK}",
          f"| {MARK} | x |\n|---|---|", f"<{MARK}>", f":material/warning: {MARK}", f"~~{MARK}~~"]  # fmt: skip
HOSTILE = [
    *TAGS,
    *MARKUP,
    "",
    "   \t\n  ",
    "x" * 10_000,
    "a" * 5_000,  # one very long word
    "I walked by the river bank " * 400,
    "😀🎉🚀 🦀 👩‍👩‍👧‍👦 🏳️‍🌈",
    "مرحبا بالعالم \u202eknab revir\u202c שלום",  # Arabic, Hebrew and a right-to-left override
    "the\u200bcat\u200c sat\u200d on\ufeff the mat",  # zero-width characters
    "bank\x00river\x00",
    "e\u0301" * 500,  # combining accents
    "{} {0} {{}} %s %(x)s {__class__}",
    "\\ \\\\ ` ``` ~~~ | # * _ [ ] ( ) ! < > & &lt;script&gt;",
    "\x1b[31mred\x1b[0m \r\n\r\n carriage",
    "Привет мир, 東京 では, Ελληνικά",
    "1234 5678 !!! ??? ... ,,,",
    "the the the the the the the the the the the the",
]
# Real words around the payloads: pages that need known words draw their figures with these in the labels.
MIXED = [
    "I walked by the river bank <img src=x onerror=alert(1)>",  # sentences first
    f"the cat sat on the [{MARK}](javascript:alert(1)) mat",
    f"<script>alert(1)</script> money bank :red[{MARK}] river",
    f"king queen ${MARK}$ man woman **{MARK}**",
    "it was tired because the cat <svg onload=alert(1)> sat",
    "bank",
    "cat",
    "it",
    "river",
]
SENTENCES = 5  # the first MIXED entries are sentences
URL_VALUES = ["-1", "0", "1e309", "-1e309", "nan", "NaN", "inf", "-inf", "99999999999999999999", "3.5", "abc", "",
              " ", "\x00", "0x10", "１２", "٣", "+5", "--1", "1e-400", "2,3", *TAGS[:2], MARKUP[0]]  # fmt: skip
OUT_OF_RANGE = [-1, -1e12, 1e12, 10**9, -(2**31), 2**53]

_MAX_BYTES = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxMessageSize"] * 10**6
_TAG = re.compile(r"<\s*/?\s*(script|img|a|iframe|svg|style|object|embed|link|meta)\b", re.IGNORECASE)
# The one tag of ours in figure text: a head census label linking to that head's view on this page. Its address is
# URL-encoded (learner text reaches it only as %XX, + and the URL-safe base64 of `textz`), its text a fixed label.
_OWN_LINK = re.compile(
    r'<a href="[a-z-]+\?(?:[A-Za-z0-9_.~%+=-]|&amp;)*#[a-z0-9-]+" target="_self" '
    r'style="color:#[0-9A-Fa-f]{6}">[a-z-]+</a>'
)
_MARKDOWN_FIELDS = ("body", "label", "help", "caption")


# ------------------------------------------------------------------------------------------------ checks


def elements(at) -> Iterator[object]:
    for node in [*at.main, *at.sidebar]:
        if getattr(node, "proto", None) is not None and not hasattr(node, "children"):
            yield node


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _unescaped(text: str, index: int) -> bool:
    """True when the character at ``index`` is not escaped by a backslash (an odd run of them)."""
    run = 0
    while index - run - 1 >= 0 and text[index - run - 1] == "\\":
        run += 1
    return run % 2 == 0


def leaks(text: str, html: bool) -> list[str]:
    """Markup that learner text brought into ``text`` and that would be rendered, not shown."""
    found = []
    for m in _TAG.finditer(text):
        if html or _unescaped(text, m.start()):
            found.append(m.group(0))
    if not html:
        for m in re.finditer(MARK, text):
            before = m.start() - 1
            # [PWNED](…), **PWNED**, $PWNED$, :red[PWNED], # PWNED at a line start, `PWNED`: the markup is escaped
            if before >= 0 and text[before] in "[*_$`~" and _unescaped(text, before):
                found.append(text[max(0, before - 8) : m.end() + 4])
    return found


def check(at, context: str) -> None:
    """Everything this file promises about one run of a page."""
    assert not at.exception, f"{context}: {[e.value for e in at.exception]}"
    for el in elements(at):
        proto, kind = el.proto, el.type
        size = proto.ByteSize()
        assert size < _MAX_BYTES, f"{context}: a {kind} of {size:,} bytes is over the message limit"
        if kind == "plotly_chart":
            for s in _strings(json.loads(proto.spec)):
                if not _OWN_LINK.fullmatch(s):
                    assert not _TAG.search(s), f"{context}: plotly text with a live tag: {s[:120]!r}"
            continue
        if kind == "html" and getattr(proto, "body", None) in view.OWN_HTML + screens.OWN_HTML:
            continue  # the page's own constant CSS and script, byte for byte: no learner text can be in them
        if kind == "text":
            continue  # st.text: shown as it is, never read as markdown or HTML (a figure's text alternative)
        html = kind == "html" or bool(getattr(proto, "allow_html", False))
        for name in _MARKDOWN_FIELDS:
            text = getattr(proto, name, None)
            if isinstance(text, str) and text:
                bad = leaks(text, html)
                assert not bad, f"{context}: {kind}.{name} renders learner markup {bad} in {text[:160]!r}"


# ------------------------------------------------------------------------------------------- driving a page


def option_value(widget, label: str) -> object:
    """The option whose label is ``label``: AppTest sets radios and selectboxes by value, the page shows labels."""
    fmt = widget.format_func
    owner = getattr(fmt, "__self__", None)
    candidates: list[object] = [label]
    if isinstance(owner, dict):
        candidates += list(owner)
    for convert in (int, float):
        with contextlib.suppress(ValueError):
            candidates.append(convert(label))
    candidates += list(range(-1, len(widget.options)))
    for value in candidates:
        try:
            if str(fmt(value)) == label:
                return value
        except Exception:  # a format function may refuse values of another type
            continue
    return label


def bound_settings(at) -> dict[str, object]:
    """The page's settings kept in the URL (``bind="query-params"``), by key."""
    found = {}
    for el in elements(at):
        key = getattr(el.proto, "query_param_key", "")
        if isinstance(key, str) and key:
            found[key] = el
    return found


def hostile_text(rng: random.Random, sentence: bool = False) -> str:
    """Hostile text, or real words around a payload (a sentence for the sentence box, so the page draws)."""
    if rng.random() < 0.5:
        return rng.choice(HOSTILE)
    return rng.choice(MIXED[:SENTENCES] if sentence else MIXED)


def number(rng: random.Random, low: float, high: float, integer: bool) -> float:
    if rng.random() < 0.35:
        return rng.choice(OUT_OF_RANGE)
    value = rng.uniform(low, high)
    return round(value) if integer else value


def change_controls(at, rng: random.Random) -> list[str]:
    """Give most of the page's controls a new value, at once; what was set, for the failure message."""
    done = []
    for el in elements(at):
        kind, key = el.type, getattr(el, "key", None)
        if not key or (rng.random() > CHANGE and "predict" not in key):
            continue
        if kind in ("text_input", "text_area"):
            value = hostile_text(rng, sentence=key == "sentence")
            el.set_value(value)
        elif kind == "number_input":
            integer = el.proto.data_type == el.proto.INT
            value = number(rng, el.proto.min if el.proto.has_min else -100, el.proto.max if el.proto.has_max else 100,
                           integer)  # fmt: skip
            el.set_value(value)
        elif kind == "slider":
            integer = el.proto.data_type == el.proto.INT
            value = number(rng, el.proto.min, el.proto.max, integer)
            el.set_value(value)
        elif kind == "select_slider":
            value = rng.choice(el.options)
            el.set_value(option_value(el, value))
        elif kind in ("radio", "selectbox") and el.options:
            if "predict" in key and el.value is not None:
                continue
            value = rng.choice(el.options)
            el.set_value(option_value(el, value))
        elif kind in ("checkbox", "toggle"):
            value = rng.random() < 0.5
            el.set_value(value)
        else:
            continue
        done.append(f"{key}={value!r:.60}")
    return done


def reveal(at, context: str) -> None:
    """Skip every "predict first" question, so that the page draws everything behind them."""
    for _ in range(8):
        skips = [b for b in at.button if b.key and b.key.endswith("_skip") and b.key not in NOT_CLICKED]
        if not skips:
            return
        skips[0].click().run()
        check(at, f"{context}, after skipping {skips[0].key}")


@pytest.mark.parametrize("page", PAGES)
def test_hostile_input_on_every_control_and_link(app, page):
    rng = random.Random(f"{SEED}:{page}")
    inputs = 0

    # the page as a learner first sees it, everything revealed: which settings does it keep in the URL?
    at = app(page)
    check(at, f"{page} as opened")
    reveal(at, page)
    settings = sorted(bound_settings(at))

    # links that carry a hostile sentence and a hostile value for every setting
    for n in range(LINKS):
        query = {"sentence": hostile_text(rng, sentence=True)} | {key: rng.choice(URL_VALUES) for key in settings}
        if n == 0:
            query["not_a_setting"] = TAGS[0]
        context = f"{page} opened from ?{query!r:.300}"
        link = app(page, **query)
        inputs += len(query)
        check(link, context)
        reveal(link, context)

    # rounds of controls: most change at once, some to values no browser would send
    for n in range(ROUNDS):
        done = change_controls(at, rng)
        inputs += len(done)
        at.run()
        check(at, f"{page}, round {n}: {'; '.join(done)}")

    assert inputs >= 30, f"only {inputs} hostile inputs reached {page}: are its controls still found by key?"


@pytest.mark.parametrize("value", ["inf", "-inf", "1e309", "-1e999"])
def test_an_infinite_number_in_a_link_is_refused_with_a_note(app, value):
    # Streamlit 1.67 raises OverflowError when it seeds a whole-number widget from such a value;
    # widgets.link_value takes it out of the URL first and keeps it for the note.
    at = app("lessons/multihead.py", mh_seed=value)
    assert not at.exception
    assert at.number_input(key="mh_seed").value == 0
    assert any(f"seed “{value}”" in w.value for w in at.warning)
    assert "mh_seed" not in at.query_params


def test_checks_catch_what_they_promise():
    """The checks above are not vacuous: live markup is found, escaped markup passes."""
    assert leaks("<img src=x onerror=alert(1)>", html=False)
    assert not leaks("\\<img src=x onerror=alert\\(1\\)\\>", html=False)
    assert leaks("&lt;b&gt; <script>", html=True) and not leaks("&lt;script&gt;", html=True)
    assert leaks(f"see [{MARK}](javascript:alert(1))", html=False)
    assert not leaks(f"see \\[{MARK}\\]\\(javascript\\:alert\\(1\\)\\)", html=False)
    assert leaks(f":red[{MARK}]", html=False) and not leaks(f"\\:red\\[{MARK}\\]", html=False)
    assert leaks(f"**{MARK}**", html=False) and not leaks(f"\\*\\*{MARK}\\*\\*", html=False)
    assert leaks(f"${MARK}$", html=False) and not leaks(f"\\${MARK}\\$", html=False)
    assert leaks(f"\\\\[{MARK}", html=False)  # an escaped backslash leaves the bracket live


# --- paragraph mode (issue 17): long text, compressed links, hostile paragraphs -------------------------------------
PARAGRAPH_PAGES = ["lessons/similarity.py", "lessons/projections.py", "lessons/softmax.py", "lessons/multihead.py",
                   "lessons/real_heads.py", "lessons/efficient.py"]  # fmt: skip
HOSTILE_PARAGRAPH = " ".join(MIXED[:SENTENCES] * 12)  # the payloads among real words, well past 256 pieces


def _paragraph_links() -> list[dict[str, str]]:
    import base64
    import zlib

    from attnviz.paragraph import pack

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode()

    return [
        {"textz": pack(HOSTILE_PARAGRAPH)},  # a hostile paragraph, compressed
        {"textz": "%%%" + TAGS[0]},  # not base64
        {"textz": b64(b"\x78\x9c not deflate at all")},  # a zlib header, then garbage
        {"textz": b64(zlib.compress(b"bank " * 2_000_000, 9))},  # 10 MB inside: a zip bomb
        {"sentence": "bank " * 60_000},  # 300,000 characters of one repeated word
        {"sentence": "zzqxv qqzzv " * 1_000},  # no known word
        {"sentence": "x" * 100_000},  # one word of 100,000 characters
    ]


@pytest.mark.parametrize("page", PARAGRAPH_PAGES)
def test_hostile_paragraphs_in_links_and_the_box(app, page):
    for query in _paragraph_links():
        context = f"{page} opened from ?{query!r:.120}"
        at = app(page, **query)
        check(at, context)
        reveal(at, context)
        box = at.text_area(key="sentence").value
        assert len(box) <= 20_000, context
    # a 100,000-character paste typed into the box, then the page's controls, as the other rounds do
    at = app(page)
    at.text_area(key="sentence").set_value(((HOSTILE_PARAGRAPH + " ") * 30)[:100_000]).run()
    check(at, f"{page} after a 100,000-character paste")
    reveal(at, f"{page} after a 100,000-character paste")
    assert any("characters long; the box keeps its first 20,000" in i.value for i in at.sidebar.info)
    rng = random.Random(f"{SEED}:paragraph:{page}")
    for n in range(3):
        done = change_controls(at, rng)
        at.run()
        check(at, f"{page} on a paragraph, round {n}: {'; '.join(done)}")

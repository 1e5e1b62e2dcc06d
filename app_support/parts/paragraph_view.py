"""Paragraph mode on a page: a long T×T map made readable, in one call.

For a text longer than `attnviz.paragraph.LONG_TOKENS` tokens a page adds, under its own map:
find a word and focus it; its row (what it looks at) and its column (who looks at it) as the text itself, marked
like a highlighter; the strongest links of the whole map; and the map averaged over sentences or 16-token blocks.
The text is built from escaped tokens as markdown (Streamlit's coloured backgrounds), never as raw HTML.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from app_support.data import loaders
from app_support.kit import charts
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import linked, linked_choice
from attnviz import paragraph, paragraph_plots
from attnviz.embeddings import tokenize

SPECIALS = ("[CLS]", "[SEP]")
LEVELS = ((5, "red"), (15, "orange"), (30, "yellow"))  # by rank: the 5 largest red, 10 more orange, 15 more yellow
FLOOR = 1 / 8  # a value under this share of the largest is never marked (a spread-out row marks only its top)
FOCUS = "➤"  # before the focused word (plain text: no markup touches the learner's word)
NUMBERED = 5  # the largest values of a row or column carry their number as well as a colour
LINKS = 10
_ATTACH = set(".,;:!?)]}%'\"”’")  # tokens written without a space before them


def _bare(label: str) -> str:
    return str(label).split("·")[0]


def highlighted(labels: Sequence[str], values: np.ndarray, focus: int, decimals: int) -> tuple[str, float]:
    """The text as markdown with each token's background by its value (see `LEVELS`), the focus after `FOCUS`.

    Returns:
        (markdown, the largest value).
    """
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)  # (T,)
    top = float(clean.max()) if clean.size else 0.0
    # rank = how many values are larger (0 for the largest), so equal values share a rank and a colour: a
    # paragraph's copies of one word hold equal values, and ranking them by position coloured some red, some orange
    rank = np.searchsorted(-np.sort(clean)[::-1], -clean, side="left")  # (T,)
    out: list[str] = []
    for i, label in enumerate(labels):
        word = _bare(label)
        value = float(clean[i])
        marked = top > 0 and value > 0 and value >= FLOOR * top
        colour = next((c for last, c in LEVELS if rank[i] < last), None) if marked else None
        # a piece of a word or a comma joins the word before; a marked one stays apart (a directive needs a space)
        glue = colour is None and (word.startswith("##") or (bool(word) and all(c in _ATTACH for c in word)))
        shown = md_escape(word.removeprefix("##") if glue else word)
        if i == focus:
            shown = f"{FOCUS} {shown}"
        if colour is not None:
            number = f" {value:.{decimals}f}" if rank[i] < NUMBERED else ""
            # a pad of no-break spaces inside the mark: learner text never touches the page's own markup
            shown = f":{colour}-background[\u00a0{shown}{number}\u00a0]"
        out.append(shown if glue and out else (" " + shown if out else shown))
    return "".join(out), top


def _on_find(key: str, labels: tuple[str, ...]) -> None:
    """Focus the next token that matches the search box (Enter again moves on to the next match)."""
    query = st.session_state.get(f"{key}_find", "")
    hits = paragraph.find(labels, query)
    if not hits:
        st.session_state[f"{key}_found"] = f"“{query.strip()}” is not in the text." if query.strip() else ""
        return
    now = st.session_state.get(f"{key}_focus")
    at = labels.index(now) if now in labels else -1
    nxt = next((h for h in hits if h > at), hits[0])
    st.session_state[f"{key}_focus"] = labels[nxt]
    st.session_state[f"{key}_found"] = (
        f"“{query.strip()}” is at {len(hits)} places: this is number {hits.index(nxt) + 1}. Press Enter in the box "
        "again for the next."
        if len(hits) > 1
        else ""
    )


def _sentences(labels: Sequence[str], glove_text: str | None) -> list[int]:
    if glove_text is None:
        return paragraph.sentence_blocks(labels)
    kv = loaders.glove()
    return paragraph.sentence_starts(glove_text, lambda part: len(tokenize(part, kv, max_words=10**6).words))


def long_map(
    matrix: object,
    labels: Sequence[str],
    *,
    key: str,
    weights: bool = True,
    glove_text: str | None = None,
    decimals: int = 3,
    rows: str = "looks at",
    cols: str = "is looked at by",
) -> None:
    """Draw the paragraph views of a (T, T) map when the text is long; nothing when T ≤ `paragraph.LONG_TOKENS`.

    Args:
        matrix: (T, T) the map the page shows above (tensor or array).
        labels: T distinct token labels, as on the map.
        key: a page-prefixed key for this block's widgets (e.g. "sim_para").
        weights: the map is attention weights (rows sum to 1); otherwise scores, compared by size only.
        glove_text: the text whose GloVe words (no punctuation) the tokens are: sentences are found in it. None:
            the tokens are the model's pieces, punctuation included.
        rows, cols: what a row and a column mean, for the headings ("looks at", "is looked at by").
    """
    labels = tuple(str(label) for label in labels)
    T = len(labels)
    if T <= paragraph.LONG_TOKENS:
        return
    W = paragraph.as_matrix(matrix)  # (T, T)
    if W.shape != (T, T):
        st.warning(f"The map has shape {W.shape}, not {T} × {T}: the paragraph views are left out.")
        return
    specials = [i for i, label in enumerate(labels) if _bare(label) in SPECIALS]
    with st.container(border=True):
        st.markdown(
            f"**Reading a long map.** {T} tokens make {T * T:,} cells, too many to read one by one. Drag across the "
            "map above to zoom in (double-click zooms out), or read it here: one word at a time, its strongest "
            "links, and the map in blocks."
        )
        i = _focus(key, labels, specials)
        _highlighter_tabs(W, labels, i, decimals, rows, cols)
        _top_links(W, labels, specials, key=key, glove=glove_text is not None, decimals=decimals)
        _block_overview(W, labels, key=key, weights=weights, glove_text=glove_text, decimals=decimals)


def _focus(key: str, labels: tuple[str, ...], specials: list[int]) -> int:
    """(d) Find a word, (a) focus on it: the search box and the focus choice; returns the focused token's index."""
    T = len(labels)
    c1, c2 = st.columns(2)
    c1.text_input(
        "Find a word", key=f"{key}_find", on_change=_on_find, args=(key, labels), placeholder="type a word, Enter"
    )
    default = next((j for j in range(T) if j not in specials), 0)
    i = linked_choice(c2.selectbox, "Focus on", labels, default=default, key=f"{key}_focus")
    if st.session_state.get(f"{key}_found"):
        st.caption(md_escape(st.session_state[f"{key}_found"]))
    return i


def _highlighter_tabs(W: np.ndarray, labels: tuple[str, ...], i: int, decimals: int, rows: str, cols: str) -> None:
    """The focused word's row (what it looks at) and column (who looks at it) as the text, marked by value."""
    word = md_escape(_bare(labels[i]))
    tab_row, tab_col = st.tabs([f"What “{word}” {rows}", f"Who “{word}” {cols}"])
    for tab, values, what in ((tab_row, W[i], f"row of “{word}”"), (tab_col, W[:, i], f"column of “{word}”")):
        text, top = highlighted(labels, values, i, decimals)
        if top <= 0:
            tab.caption(f"Nothing in the {what} is above zero: no word is marked.")
        else:
            tab.caption(
                f"Marked by rank in the {what}: red its {LEVELS[0][0]} largest values (with the value), orange "
                f"the next {LEVELS[1][0] - LEVELS[0][0]}, yellow the next {LEVELS[2][0] - LEVELS[1][0]}; a value "
                f"under an eighth of the largest ({top:.{decimals}f}) is never marked. Equal values share a colour."
            )
        tab.markdown(text)


def _top_links(
    W: np.ndarray, labels: tuple[str, ...], specials: list[int], *, key: str, glove: bool, decimals: int
) -> None:
    """(b) The strongest links of the whole map, a repeated word's link listed once with its count."""
    symmetric = bool(np.allclose(W, W.T, equal_nan=True))
    skip = bool(specials) and linked(st.toggle, "Leave out [CLS] and [SEP]", value=True, key=f"{key}_skip")
    found = paragraph.top_links(W, 50 * LINKS, skip=specials if skip else ())
    # a repeated word has the same row wherever it stands (on the GloVe pages): one line, with its count
    pairs: dict[tuple[str, str, str], int] = {}
    for x in found:
        name = _bare if glove else str  # the model's tokens differ by place: "he·2" says which "he"
        a, b = name(labels[x.source]), name(labels[x.target])
        a, b = sorted((a, b)) if symmetric else (a, b)  # S: a ↔ b is b ↔ a
        pair = (a, b, f"{x.weight:.{decimals}f}")
        if glove and pair[0] == pair[1]:  # one GloVe word in two places is one vector: the diagonal again
            continue
        if pair in pairs or len(pairs) < LINKS:
            pairs[pair] = pairs.get(pair, 0) + 1
    left_out = ("a word with itself (also where it repeats)" if glove else "a token with itself") + (
        ", [CLS] and [SEP]" if skip else ""
    )
    if not pairs:
        st.markdown(
            f"**No links to list**: with {md_escape(left_out)} left out, nothing is left (the text repeats one word)."
        )
    else:
        st.markdown(f"**The {len(pairs)} strongest links of the whole map** ({md_escape(left_out)} left out)")
        per = 2 if symmetric else 1  # S lists a ↔ b from both ends
        lines = [
            f"{n + 1}. {md_escape(a)} {'↔' if symmetric else '→'} {md_escape(b)} {value}"
            + (f" (×{count // per}: the words repeat)" if count > per else "")
            for n, ((a, b, value), count) in enumerate(pairs.items())
        ]
        half = (len(lines) + 1) // 2
        l1, l2 = st.columns(2)
        l1.markdown("\n".join(lines[:half]))
        l2.markdown("\n".join(lines[half:]))


def _block_overview(
    W: np.ndarray, labels: tuple[str, ...], *, key: str, weights: bool, glove_text: str | None, decimals: int
) -> None:
    """(c) The map averaged over sentences or fixed blocks of tokens, with the blocks' token spans."""
    T = len(labels)
    by = linked(st.radio, "Blocks", ["sentences", f"{paragraph.BLOCK} tokens"], horizontal=True, key=f"{key}_blocks")
    starts = _sentences(labels, glove_text) if by == "sentences" else paragraph.fixed_blocks(T)
    if by == "sentences" and len(starts) < 2:
        st.caption(f"The text is one sentence by its punctuation: blocks of {paragraph.BLOCK} tokens instead.")
        starts = paragraph.fixed_blocks(T)
    blocks = paragraph.block_average(W, starts)
    names = paragraph.block_labels(labels, blocks, width=14)
    charts.chart(
        paragraph_plots.block_overview(
            blocks, names, weights=weights, title=f"The map in {len(names)} blocks", decimals=decimals
        ),
        key=f"{key}_overview",
        name="map in blocks",
        csv=(blocks.total if weights else blocks.mean, names, names),
    )
    bounds = zip(blocks.starts, blocks.ends, strict=True)
    spans = ", ".join(f"{n + 1}: {a + 1}–{e}" for n, (a, e) in enumerate(bounds))
    st.caption(
        (
            "A cell is what a token of the row's block gives the whole column's block, on average: each row sums to 1."
            if weights
            else "A cell is the mean of the cells between the two blocks."
        )
        + f" The blocks, by token: {spans}."
    )

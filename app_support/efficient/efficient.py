"""Lesson 6's Streamlit side: the variant chooser and its knobs (bound to the URL), the `Reading` a page makes once
per run, and the cached results that take it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app_support.data import loaders
from app_support.efficient import efficient_text
from app_support.efficient.efficient_lab import measurement_lock
from app_support.kit.widgets import check_link, link_value, warn
from attnviz import paragraph, pretrained
from attnviz.efficient import REGISTRY, anatomy, compare, costs
from attnviz.efficient.registry import KnobValue
from attnviz.embeddings import tokenize, vectors_for
from attnviz.labels import unique_labels

SOURCES = {"real": "a head of the pretrained MiniLM", "toy": "12 random heads over GloVe vectors"}


URL_KEY = "l6_variant"  # the URL names the variant by its short name, on page 6 and on page 6b
_CHOICE = "_l6_variant_choice"  # session state: the variant last shown on page 6 or 6b, carried between them


def _carry(key: str) -> None:
    st.session_state[_CHOICE] = st.session_state[key]  # before the rerun, so the choice is not set back


def choose_variant(key: str, label: str = "Variant", old_key: str | None = None) -> str:
    """A variant chooser showing the variants' names, kept in the URL as ``?l6_variant=<short name>``.

    Pages 6 and 6b share the choice: opening one shows the variant last chosen on the other, unless the link names
    one. ``old_key`` is a URL parameter older links used instead (6b's ``l6b_variant``); it is read, then replaced.
    A bad link is named and the default shown. (Not a widget bound to the URL: a bound widget writes its displayed
    name into the address, and links name variants by their short names.)
    """
    names = list(REGISTRY)  # the registry's order
    raw = st.query_params.get(URL_KEY)
    if raw is None and old_key is not None:
        raw = st.query_params.get(old_key)
    carried = st.session_state.get(_CHOICE)
    if key not in st.session_state:  # the first run of this page (a link, a reload or a page switch)
        st.session_state[key] = raw if raw in names else carried if carried in names else names[0]
    elif carried in names and st.session_state[key] != carried:  # chosen meanwhile on the other page
        st.session_state[key] = carried
    name = st.selectbox(
        label, names, key=key, format_func=lambda n: REGISTRY[n].text.title, on_change=_carry, args=(key,),
        help="Each variant has its own section below; the URL keeps the choice.",
    )  # fmt: skip
    st.session_state[_CHOICE] = name
    if raw is not None and raw != name and raw not in names:
        title = REGISTRY[name].text.title
        warn(f"The link asks for the variant “{raw}”, which this lesson does not have: showing {title}.")
    if old_key is not None and old_key in st.query_params:
        del st.query_params[old_key]
    if name == names[0]:
        if URL_KEY in st.query_params:
            del st.query_params[URL_KEY]  # the default stays out of the link
    elif st.query_params.get(URL_KEY) != name:
        st.query_params[URL_KEY] = name
    return name


def knob_widgets(prefix: str, name: str, where: object = st, length: int | None = None) -> dict[str, KnobValue]:
    """One slider (or choice) per knob of the variant, each bound to the URL as ``<prefix>_<knob>``.

    ``length``: the tokens the variant runs on, for knobs whose settings depend on it (`Knob.offered_for`).
    """
    knobs: dict[str, KnobValue] = {}
    labelled = efficient_text.knobs(name)
    columns = where.columns(len(labelled))  # type: ignore[attr-defined]
    for column, knob in zip(columns, labelled, strict=True):
        key = f"{prefix}_{knob.name}"
        raw = link_value(key)
        values = knob.knob.offered_for(length)  # the record says which values fit ``length`` tokens
        default = knob.default if knob.default in values else values[0]
        if key in st.session_state and st.session_state[key] not in values:  # a longer text than before
            del st.session_state[key]  # its smallest setting now, instead of Streamlit's value error
        if isinstance(knob.default, str):
            value = column.radio(
                knob.label, values, index=values.index(default), key=key, horizontal=True,
                help=knob.help, bind="query-params",
            )  # fmt: skip
        else:
            value = column.select_slider(
                knob.label, values, value=default, key=key, help=knob.help, bind="query-params"
            )
        check_link(
            raw,
            value,
            f"The link sets {knob.label.lower()} to “{raw}”; the choices are {', '.join(map(str, values))}: "
            f"using {value}.",
        )
        knobs[knob.name] = value
    return knobs


@dataclass(frozen=True, eq=False)
class HeadInput:
    """Every head of one layer on the learner's sentence, from the real model or the GloVe toy."""

    source: str  # "real" or "toy"
    labels: tuple[str, ...]  # T token labels, unique ([CLS], pieces, [SEP] for the real model)
    notes: tuple[str, ...]  # what to tell the learner (unknown words, truncation)
    q: torch.Tensor  # (H, T, Dh)
    k: torch.Tensor  # (H, T, Dh)
    v: torch.Tensor  # (H, T, Dh)

    @property
    def length(self) -> int:
        return int(self.q.shape[-2])


@dataclass(frozen=True)
class LayerReading:
    """What every head of one layer shares on the page: the learner's text, where Q, K and V come from and the layer.
    The key of the layer-wide results (`head_input`, `spectrum`, `head_changes`): a head switch keeps it, so their
    cache answers. Hashed by `st.cache_data` field by field (a dataclass: its `asdict`), the same in every run."""

    text: str
    source: str  # "real" or "toy"
    layer: int  # 0-based; 0 for the toy, which has one layer

    @property
    def inp(self) -> HeadInput:
        """Q, K, V of every head of the layer: computed once per text, source and layer (`head_input`)."""
        return head_input(self)


@dataclass(frozen=True)
class Reading:
    """What the variant page reads, made once per run and passed down: the learner's text and the chosen source,
    layer (0-based; 0 for the toy) and head (0-based). Cached results of one head take it (`run`, `sweep`,
    `flash_walk`, `flash_timings`); those of the whole layer take `of_layer`. Its tokens, Q, K and V are `inp`'s."""

    text: str
    source: str
    layer: int
    head: int

    @property
    def of_layer(self) -> LayerReading:
        """The layer-wide key: the same for every head of the layer (layer 0 for the toy, which has one)."""
        return LayerReading(self.text, self.source, self.layer if self.source == "real" else 0)

    @property
    def inp(self) -> HeadInput:
        """Q, K, V of every head of the layer and its token labels (cached per layer, so a head switch reads them)."""
        return head_input(self.of_layer)

    def qkv(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The chosen head's Q, K, V: (T, Dh) each."""
        inp = self.inp
        return inp.q[self.head], inp.k[self.head], inp.v[self.head]


@st.cache_data(show_spinner=False, max_entries=32)
def head_input(reading: LayerReading) -> HeadInput:
    """Q, K, V of every head of the layer on the sentence: the one place they are computed for page 6."""
    if reading.source == "real":
        return real_layers(reading.text)[reading.layer]
    kv = loaders.glove()
    tokens = tokenize(reading.text, kv, max_words=paragraph.MAX_WORDS)  # a paragraph: up to 256 words
    notes = []
    if tokens.unknown:
        notes.append("Not in the GloVe vocabulary, so left out: " + ", ".join(f"“{w}”" for w in tokens.unknown[:12]))
    if tokens.truncated:
        notes.append(f"Only the first {len(tokens.words)} known words are used.")
    if not tokens.words:
        empty = torch.zeros(compare.TOY_HEADS, 0, compare.TOY_WIDTH)
        return HeadInput("toy", (), tuple(notes), empty, empty, empty)
    x = vectors_for(kv, tokens.words, "cpu")  # (T, 50)
    q, k, v = compare.toy_qkv(x)
    return HeadInput("toy", tuple(tokens.labels), tuple(notes), q, k, v)


@st.cache_data(show_spinner=False, max_entries=4)  # 6 layers of Q, K, V: about 7 MB at 256 tokens
def real_layers(text: str) -> tuple[HeadInput, ...]:
    """`HeadInput` of every layer of the real model on the text, from one forward pass (a layer switch then needs
    none)."""
    fwd = pretrained.forward(loaders.model(), text)
    labels = tuple(unique_labels(fwd.tokens.pieces))
    notes = tuple(fwd.tokens.notes)
    return tuple(
        HeadInput("real", labels, notes, *(x.float().cpu().clone() for x in (lay.q, lay.k, lay.v)))
        for lay in fwd.layers  # q, k, v: (H, T, Dh) each
    )


@st.cache_data(show_spinner=False, max_entries=64)
def run(reading: Reading, name: str, knobs: tuple) -> compare.Run:
    """One variant against exact attention on the reading's head (see `attnviz.compare.run_variant`)."""
    inp = reading.inp
    return compare.run_variant(name, inp.q, inp.k, inp.v, dict(knobs), reading.head)


@st.cache_data(show_spinner="Measuring the error at every setting…", max_entries=32)
def sweep(reading: Reading, name: str, knobs: tuple, knob: str) -> compare.Sweep:
    inp = reading.inp
    return compare.sweep(name, inp.q, inp.k, inp.v, dict(knobs), knob, reading.head)


@st.cache_data(show_spinner=False, max_entries=32)
def spectrum(reading: LayerReading) -> anatomy.Spectrum:
    """Singular values of every head's exact attention map in the layer."""
    from attnviz.attention import scaled_dot_product

    inp = reading.inp
    return anatomy.spectrum(scaled_dot_product(inp.q, inp.k, inp.v).weights)


@st.cache_data(show_spinner=False, max_entries=64)
def flash_walk(reading: Reading, tile: int, step: int) -> costs.FlashWalk:
    """Step ``step`` (0-based) of the tile walk on the reading's head, computing only its block of query rows."""
    return costs.flash_walk(*reading.qkv(), tile, step)


@st.cache_data(show_spinner="Timing attention three ways on this machine…", max_entries=32)
def flash_timings(reading: Reading, tile: int) -> costs.Timings:
    """The tiled pass, PyTorch's fused kernel and the matrix path on the reading's head, timed here (one at a
    time)."""
    q, k, v = reading.qkv()
    with measurement_lock():
        return costs.flash_timings(q, k, v, tile, min_run_time=0.05)


@st.cache_data(show_spinner=False, max_entries=32)
def head_changes(reading: LayerReading, groups: int) -> np.ndarray:
    inp = reading.inp
    return compare.head_changes(inp.q, inp.k, inp.v, groups)


@st.cache_data(show_spinner=False, max_entries=16)
def exact_embeddings(texts: tuple[str, ...]) -> torch.Tensor:
    """(N, D) the texts' sentence embeddings with exact attention: the same for every variant and knob."""
    return compare.exact_embeddings(loaders.model(), texts)


@st.cache_data(show_spinner=False, max_entries=16)
def longest(texts: tuple[str, ...]) -> int:
    """The most WordPiece tokens among the texts (with [CLS] and [SEP], as the model reads them)."""
    return max(len(pretrained.encode(loaders.model(), t)) for t in texts)


@st.cache_data(show_spinner="Running the model with the variant…", max_entries=32)
def swap(texts: tuple[str, ...], name: str, knobs: tuple) -> compare.Swap:
    return compare.swap(loaders.model(), texts, name, dict(knobs), exact=exact_embeddings(texts))


def knob_key(knobs: dict[str, KnobValue]) -> tuple:
    """The knobs as a hashable, ordered cache key."""
    return tuple(sorted(knobs.items()))

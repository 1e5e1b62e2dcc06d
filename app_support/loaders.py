"""Heavy read-only objects, loaded once per server process and shared by every session."""

from __future__ import annotations

import gc
from pathlib import Path

import plotly.graph_objects  # noqa: F401  (imported here so that the freeze below covers it)
import streamlit as st
import torch
from gensim.models import KeyedVectors

from attnviz.device import pick_device
from attnviz.embeddings import load_glove, parse_word_list
from attnviz.pretrained import Model, load_model

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@st.cache_resource(show_spinner="Loading 400,000 word vectors (once per server)…")
def glove() -> KeyedVectors:
    """GloVe 6B 50-d. Read-only: pages must never write into it."""
    return load_glove()


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    return pick_device()


@st.cache_resource(show_spinner="Loading the pretrained transformer (once per server)…")
def model() -> Model:
    """The bundled all-MiniLM-L6-v2 (6 layers × 12 heads). Loaded on first use only: lessons 1–4 never pay for
    it. Its tensors are inference tensors, so no session can change them."""
    return load_model(device())


@st.cache_data(show_spinner=False, max_entries=8)
def word_list(name: str) -> list[str]:
    """A shipped word list, ``assets/words/<name>.txt``."""
    return parse_word_list((ASSETS / "words" / f"{name}.txt").read_text(encoding="utf-8"))


# Everything imported so far (torch, gensim, plotly, streamlit) lives as long as the process; moving it out
# of the collector's sight keeps each rerun's collections short. This module is imported once per process.
# runner.postScriptGC is off in .streamlit/config.toml for the same reason.
gc.freeze()

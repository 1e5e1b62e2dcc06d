"""Heavy read-only objects, loaded once per server process and shared by every session."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects  # noqa: F401  (imported here so that the freeze below covers it)
import streamlit as st
import torch
from gensim.models import KeyedVectors

from attnviz.device import pick_device, set_cpu_threads
from attnviz.embeddings import load_glove, parse_word_list
from attnviz.training import Dataset, load_dataset

if TYPE_CHECKING:
    from attnviz.pretrained import Model

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# set by app.py after each full run: the launcher's warm-up (app_support.serve) waits for the first before it loads
# what the later pages need, so that the first page does not share the CPU with it
page_served = threading.Event()


@st.cache_resource(show_spinner="Loading 400,000 word vectors (once per server)…")
def glove() -> KeyedVectors:
    """GloVe 6B 50-d. Read-only: pages must never write into it."""
    return load_glove()


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    """The device every page computes on; first called by app.py, once per process, which also sets the number of
    CPU threads for the server (one per operation: the sessions share the cores)."""
    set_cpu_threads()
    return pick_device()


@st.cache_data(show_spinner=False, max_entries=8)
def word_list(name: str) -> list[str]:
    """A shipped word list, ``assets/words/<name>.txt``."""
    return parse_word_list((ASSETS / "words" / f"{name}.txt").read_text(encoding="utf-8"))


@st.cache_resource(show_spinner="Loading the pretrained MiniLM transformer (once per server)…")
def model() -> Model:
    """all-MiniLM-L6-v2, loaded only when a page asks for it (lessons 1–2 never wait for it). Read-only."""
    from attnviz.pretrained import load_model  # tokenizers and safetensors too: imported on first use only

    return load_model(device())


@st.cache_resource(show_spinner=False)
def training_sets() -> dict[str, Dataset]:
    """The labelled sets of lesson 3's training loop, ``assets/training/*.txt``, by name. Frozen: read-only."""
    return {path.stem: load_dataset(path) for path in sorted((ASSETS / "training").glob("*.txt"))}


# Everything imported so far (torch, gensim, plotly, streamlit) lives as long as the process; moving it out
# of the collector's sight keeps each rerun's collections short. This module is imported once per process.
# runner.postScriptGC is off in .streamlit/config.toml for the same reason.
gc.freeze()

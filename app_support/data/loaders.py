"""Heavy read-only objects, loaded once per server process and shared by every session."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects  # noqa: F401  (imported here so that the freeze below covers it)
import streamlit as st
from gensim.models import KeyedVectors

from attnviz.embeddings import load_glove, parse_word_list
from attnviz.threads import limit_blas, requested

# torch is imported by the functions that need it, not here: the first lesson computes with NumPy and is drawn
# before torch has loaded (tests/app/test_first_page.py)
if TYPE_CHECKING:
    import torch

    from attnviz.decoder.model import Model as DecoderModel
    from attnviz.pretrained import Model
    from attnviz.training import Dataset

ASSETS = Path(__file__).resolve().parents[2] / "assets"
# set by app.py after each full run: the launcher's warm-up (server.serve) waits for the first before it loads
# what the later pages need, so that the first page does not share the CPU with it
page_served = threading.Event()


@st.cache_resource(show_spinner="Loading 400,000 word vectors (once per server)…")
def glove() -> KeyedVectors:
    """GloVe 6B 50-d. Read-only: pages must never write into it. Also gives NumPy's BLAS its share of threads
    (`attnviz.threads.limit_blas`) before the first search through the vectors."""
    limit_blas()
    return load_glove()


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    """The device every page computes on; first called by app.py, once per process, which also sets the number of
    CPU threads for the server (one per operation: the sessions share the cores)."""
    from attnviz.device import pick_device, set_cpu_threads

    set_cpu_threads()
    return pick_device()


def computing_on(with_torch: bool) -> str:
    """The sidebar's "Computing on" label for the page just drawn: torch's device for a page that computes with
    torch (`attnviz.device.describe`), or the CPU and NumPy's BLAS threads for one that does not (lesson 1), which
    then leaves torch unloaded."""
    if with_torch:
        from attnviz.device import describe

        return describe(device())
    threads = requested()
    return f"CPU, NumPy ({threads} thread{'' if threads == 1 else 's'})"


@st.cache_data(show_spinner=False, max_entries=8)
def word_list(name: str) -> list[str]:
    """A shipped word list, ``assets/words/<name>.txt``."""
    return parse_word_list((ASSETS / "words" / f"{name}.txt").read_text(encoding="utf-8"))


@st.cache_resource(show_spinner="Loading the pretrained MiniLM transformer (once per server)…")
def model() -> Model:
    """all-MiniLM-L6-v2, loaded only when a page asks for it (lessons 1–2 never wait for it). Read-only."""
    from attnviz.pretrained import load_model  # tokenizers and safetensors too: imported on first use only

    return load_model(device())


@st.cache_resource(
    show_spinner="Loading the SmolLM2 decoder, mostly 4-bit weights unpacked to float32 (once per server)…"
)
def decoder() -> DecoderModel:
    """SmolLM2-135M-Instruct from its GGUF file (`attnviz.decoder.model.load_model`: about 3 s and 560 MiB),
    loaded only when lesson 7 asks for it or by the launcher's warm-up after the first page. Read-only."""
    from attnviz.decoder.model import load_model  # gguf, tokenizers: imported on first use only

    return load_model(device())


@st.cache_resource(show_spinner=False)
def training_sets() -> dict[str, Dataset]:
    """The labelled sets of lesson 3's training loop, ``assets/training/*.txt``, by name. Frozen: read-only."""
    from attnviz.training import load_dataset

    return {path.stem: load_dataset(path) for path in sorted((ASSETS / "training").glob("*.txt"))}


# Everything imported so far (gensim, plotly, streamlit; torch comes later) lives as long as the process; moving it out
# of the collector's sight keeps each rerun's collections short. This module is imported once per process.
# runner.postScriptGC is off in .streamlit/config.toml for the same reason.
gc.freeze()

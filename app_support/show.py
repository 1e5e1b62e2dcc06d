"""How every page shows things: section headings, figures and matrices, each with its export.

Pages call these instead of ``st.header`` / ``st.plotly_chart`` so that classroom features (exports named after the
sentence and settings, presenter mode, the palette) live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import streamlit as st

from app_support import sentence

_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
SKIP_PARAMS = {sentence.KEY}  # the sentence is named first; other query parameters are the page's settings


def _slug(text: str, limit: int) -> str:
    return _UNSAFE.sub("-", text).strip("-").lower()[:limit].strip("-")


def file_stem(name: str) -> str:
    """A file name (no extension) that says what is in the file: figure or matrix, sentence, page settings.

    Only ASCII letters, digits and dashes survive, so no learner text can make a path or a header unsafe.
    """
    parts = ["attnviz", _slug(name, 40) or "figure", _slug(sentence.current(), 60) or "no-sentence"]
    params = sorted((k, v) for k, v in st.query_params.items() if k not in SKIP_PARAMS)
    settings = [f"{_slug(k, 20)}-{_slug(str(v), 20)}" for k, v in params]
    parts += [s for s in settings if s.strip("-")]
    return "_".join(parts)[:180]


def step(title: str) -> None:
    """A section of a lesson: its heading."""
    st.header(title)


def chart(fig: dict | object, *, key: str, name: str, where: object = st) -> None:
    """Draw a plotly figure. Its camera button saves a PNG (drawn in the browser, so it works offline), named by
    ``file_stem(name)``."""
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": file_stem(name), "scale": 2},
    }
    where.plotly_chart(fig, key=key, config=config)  # type: ignore[attr-defined]


def matrix_csv(values: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> str:
    """A matrix as CSV: a header row of column labels, then one labelled row per matrix row.

    Args:
        values: (R, C) numbers.
        rows, cols: R and C labels; learner words are quoted so commas, quotes and leading "=" stay text.
    """
    values = np.asarray(values)  # (R, C)
    if values.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix of shape {values.shape} with {len(rows)} row and {len(cols)} column labels")

    def cell(label: str) -> str:
        label = str(label)
        if label[:1] in "=+-@\t\r":  # a spreadsheet would run these as formulas
            label = "'" + label
        return '"' + label.replace('"', '""') + '"'

    lines = [",".join([cell("")] + [cell(c) for c in cols])]
    lines += [",".join([cell(r)] + [f"{float(x):.6g}" for x in row]) for r, row in zip(rows, values, strict=True)]
    return "\n".join(lines) + "\n"


def matrix_download(
    values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, key: str, name: str, where: object = st
) -> None:
    """A button that downloads the matrix as CSV, named by ``file_stem(name)``; the CSV is made only when clicked."""
    values, rows, cols = np.array(values, copy=True), list(rows), list(cols)
    where.download_button(  # type: ignore[attr-defined]
        "Download as CSV",
        data=lambda: matrix_csv(values, rows, cols),
        file_name=file_stem(name) + ".csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )

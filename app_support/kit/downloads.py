"""A matrix as a CSV download, named after the sentence and the page's settings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from app_support.kit.links import file_stem
from attnviz.host import to_host


def matrix_csv(values: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> str:
    """A matrix as CSV: a header row of column labels, then one labelled row per matrix row.

    Args:
        values: (R, C) numbers, or names (a grid of labels): names are quoted as the labels are.
        rows, cols: R and C labels; learner words are quoted so commas, quotes and leading "=" stay text.
    """
    values = np.asarray(values)  # (R, C)
    if values.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix of shape {values.shape} with {len(rows)} row and {len(cols)} column labels")

    def cell(label: str) -> str:
        label = str(label)
        if label and label[0] in "=+-@\t\r":  # a spreadsheet would run these as formulas
            label = "'" + label
        return '"' + label.replace('"', '""') + '"'

    lines = [",".join([cell("")] + [cell(c) for c in cols])]
    lines += [
        ",".join([cell(r)] + [cell(x) if isinstance(x, str) else f"{float(x):.6g}" for x in row])
        for r, row in zip(rows, values, strict=True)
    ]
    return "\n".join(lines) + "\n"


def matrix_download(
    values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, key: str, name: str, where: object = st
) -> None:
    """A button that downloads the matrix as CSV, named by ``file_stem(name)``; the CSV is made only when clicked."""
    if hasattr(values, "detach"):
        values = to_host(values)  # type: ignore[arg-type]
    names = np.asarray(values).dtype == object  # a grid of labels stays names; numbers are copied as float64
    values = np.array(values, dtype=object if names else np.float64, copy=True)
    rows, cols = list(rows), list(cols)
    where.download_button(  # type: ignore[attr-defined]
        f"Download {name} as CSV",
        data=lambda: matrix_csv(values, rows, cols),
        file_name=file_stem(name) + ".csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
        type="tertiary",
        help=f"{values.shape[0]} rows × {values.shape[1]} columns, with the row and column labels",
    )

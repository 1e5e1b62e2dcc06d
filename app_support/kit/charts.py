"""Figures on the page: each plotly chart styled for the view settings, with its PNG, its text alternative for screen
readers and, for a matrix, its CSV."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app_support.compat import streamlit_compat
from app_support.kit.downloads import matrix_download
from app_support.kit.links import file_stem
from app_support.kit.view import CELLS, CONTRAST, DARK, SVG, VALUES_NOTE_HTML, flag, presenting
from attnviz import plots
from attnviz.plots.describe import describe
from attnviz.plots.theme import axis_type


def chart(
    fig: plots.Figure,
    *,
    key: str,
    name: str,
    where: object = st,
    csv: tuple[object, Sequence[str], Sequence[str]] | None = None,
) -> None:
    """Draw a plotly figure. Its camera button saves a PNG, or an SVG when the view setting `SVG` is on (drawn in the
    browser, so it works offline), named by ``file_stem(name)``.

    Just before it, its text alternative (`describe`: the title, the axes and the largest values), in a box that
    the page's CSS keeps off the screen (app_support.kit.view): a screen reader reads it in the picture's place.

    Args:
        csv: (values (R, C), R row labels, C column labels): the matrix the figure shows, offered as a CSV
            download under the figure (see `matrix_download`).
    """
    config = {
        "displaylogo": False,
        # the camera, zoom and reset only: a short toolbar that leaves the figure's title readable on a phone
        "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "pan2d", "select2d", "lasso2d"],
        # one format per camera (a config sent as JSON cannot add a second button): PNG at twice the pixels, or SVG
        "toImageButtonOptions": {"format": "svg", "filename": file_stem(name), "scale": 1}
        if flag(SVG)
        else {"format": "png", "filename": file_stem(name), "scale": 2},
    }
    box = where.container() if csv is not None else where  # type: ignore[attr-defined]
    fig = plots.styled(fig, cells=flag(CELLS), contrast=flag(CONTRAST), present=presenting(), dark=flag(DARK))
    if not (flag(CONTRAST) or flag(DARK)):  # (the dark theme draws them in #e6eaf1, 15.6:1 on its background)
        axis_type(fig.spec)  # in place: the page made this figure for this chart; no copy of its arrays
    words = describe(fig) + (" Every value is in the hover and in the CSV download below." if csv else "")
    box.container(key=f"figtext_{key}").text(words)  # plain text: learner words in it stay words
    box.plotly_chart(streamlit_compat.ready_figure(fig.spec), key=key, config=config)
    if csv is not None:
        values, rows, cols = csv
        row = box.container(horizontal=True, vertical_alignment="center", gap="small")
        matrix_download(values, rows, cols, key=f"{key}_csv", name=name, where=row)
        row.html(VALUES_NOTE_HTML)  # where each value is, for who cannot read it from the colours


def attention_chart(
    weights: object, labels: Sequence[str], *, title: str, row_title: str, key: str, name: str, where: object = st
) -> None:
    """A (T, T) self-attention map drawn with `chart`: the same labels down (``row_title``) and across ("attends
    to"), its matrix offered as a CSV download under it."""
    fig = plots.attention_map(weights, labels, labels, title=title, row_title=row_title, col_title="attends to")
    chart(fig, key=key, name=name, where=where, csv=(weights, labels, labels))

"""Tables on a page: Streamlit's data grid, or in presenter mode the same table as HTML in the projector's type.

`st.dataframe` draws its cells on a canvas in the theme's small type (about 13 px), which no CSS reaches: on a
projector, with the page's text at 23 px, its tables were the smallest thing on the screen. `st.table` is HTML, which
the presenter CSS sets in large type (`app_support.kit.view`); a long table keeps a height and scrolls inside it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_support.kit.view import presenting

PRESENT_ROWS = 12  # presenter mode: a longer table scrolls inside `PRESENT_HEIGHT`
PRESENT_HEIGHT = 560  # px: a dozen rows in presenter type, header included


def table(
    data: Any,
    *,
    key: str,
    hide_index: bool | None = None,
    height: int | None = None,
    width: str = "stretch",
    where: Any = st,
) -> None:
    """Draw ``data`` (a DataFrame or its Styler) as `st.dataframe`, or in presenter mode as `st.table`.

    Args:
        key: the data grid's key (a page-prefixed name); an HTML table has none.
        hide_index: leave out the index column (the row labels).
        height: the data grid's height in px; default Streamlit's (about ten rows, then it scrolls).
    """
    if presenting():
        frame = getattr(data, "data", data)  # a Styler holds its DataFrame as .data
        rows = len(frame) if hasattr(frame, "__len__") else 0
        where.table(data, hide_index=hide_index, height=PRESENT_HEIGHT if rows > PRESENT_ROWS else "content")
        return
    where.dataframe(data, key=key, hide_index=hide_index, height=height if height is not None else "auto", width=width)

"""How every page shows things: the one import the pages use (``from app_support import show``).

Pages call these instead of ``st.header`` / ``st.plotly_chart`` so that classroom features (exports named after the
sentence and settings, presenter mode, the palette) live in one place. Each concern has its own module, re-exported
here: the view settings and their CSS (`app_support.kit.view`), sections and presenter mode's steps (`steps`), the link
to this view and file names (`links`), charts (`charts`), CSV downloads (`downloads`). The figure theming for the
view settings (`styled`) is `attnviz.plots.theme`.
"""

from __future__ import annotations

from app_support.kit.charts import attention_chart, chart
from app_support.kit.downloads import matrix_csv, matrix_download
from app_support.kit.links import (
    LOOPBACK,
    SKIP_PARAMS,
    current_params,
    file_stem,
    link,
    query_string,
    refresh_link,
    share_link,
    unused,
)
from app_support.kit.steps import begin_page, section, step
from app_support.kit.view import (
    CELLS,
    CONTRAST,
    OWN_HTML,
    PRESENT,
    VIEW_PARAMS,
    page_style,
    presenting,
    view_settings,
)
from attnviz import plots

__all__ = [
    "CELLS",
    "CELL_TEXT_MAX",
    "CONTRAST",
    "HIGH_CONTRAST_DIVERGING",
    "HIGH_CONTRAST_SEQUENTIAL",
    "LOOPBACK",
    "OWN_HTML",
    "PRESENT",
    "PRESENT_FONT",
    "SKIP_PARAMS",
    "VIEW_PARAMS",
    "attention_chart",
    "begin_page",
    "chart",
    "current_params",
    "file_stem",
    "link",
    "matrix_csv",
    "matrix_download",
    "page_style",
    "presenting",
    "query_string",
    "refresh_link",
    "section",
    "share_link",
    "step",
    "styled",
    "unused",
    "view_settings",
]

CELL_TEXT_MAX, PRESENT_FONT = plots.CELLS_VIEW_MAX, plots.PRESENT_FONT  # owned by attnviz.plots.theme
styled = plots.styled  # the figure theming for the view settings (attnviz.plots.theme)
HIGH_CONTRAST_DIVERGING, HIGH_CONTRAST_SEQUENTIAL = plots.HIGH_CONTRAST_DIVERGING, plots.HIGH_CONTRAST_SEQUENTIAL


# --- figures ------------------------------------------------------------------------------------------------------

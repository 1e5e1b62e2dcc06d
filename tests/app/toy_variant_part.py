"""The toy variant's own page part (tests/app/test_variant_registry.py): one module on the Streamlit side that the
toy's record names by its dotted name, as FlashAttention's names `app_support/efficient/efficient_flash.py`."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from app_support.efficient.efficient_sections import Extras, View
from attnviz.efficient.registry import KnobValue

SECTION = "The toy's own part"
NOTE = "The toy's own note on page 6b"


def toy_section(view: View) -> None:
    st.subheader(f"{SECTION}, on {len(view.labels)} tokens at size {view.knobs['size']}")


def toy_note(longest: int, knobs: Mapping[str, KnobValue]) -> None:
    st.caption(f"{NOTE}: the longest sentence has {longest} tokens.")


PART = Extras(section=toy_section, swap_note=toy_note)

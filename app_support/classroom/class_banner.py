"""The join banner on the projector: a live class's code, the students' link and a QR code of it, drawn by the
server (segno: no external service), at the top of the page in presenter mode, where the folded sidebar no longer
shows them. The teacher folds it away once the class has joined and shows it again with *How to join* (key J)."""

from __future__ import annotations

import base64
import html
import io

import segno
import streamlit as st

_SHOWN = "_class_banner_shown"  # session state: {class code: whether the banner is open}


def qr_svg(link: str) -> str:
    """The link as a QR code, an SVG drawing (black on white, error correction M: readable from the back of a room
    on a projector that washes out a few modules)."""
    qr = segno.make(link, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=10, border=3, dark="#000000", light="#ffffff", xmldecl=False, title="")
    return out.getvalue().decode("ascii")


def qr_figure(link: str, caption: str) -> str:
    """The QR code as an image with a text alternative (Streamlit's st.image gives none: axe's image-alt; an inline
    <svg> is removed by st.html's sanitiser), with ``caption`` under it."""
    data = base64.b64encode(qr_svg(link).encode("ascii")).decode("ascii")
    name = html.escape(f"QR code: {caption}")
    return (
        f'<figure style="margin:0"><img src="data:image/svg+xml;base64,{data}" alt="{name}" width="320" '
        f'height="320" style="max-width:100%;height:auto"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


def _toggle(code: str) -> None:
    shown = st.session_state.setdefault(_SHOWN, {})
    shown[code] = not shown.get(code, True)


def join_banner(code: str, link: str) -> None:
    """The banner for class ``code`` whose students open ``link``: open when the class starts, folded on request."""
    is_open = st.session_state.get(_SHOWN, {}).get(code, True)
    if not is_open:
        st.button(
            f"How to join class {code}",
            key="cls_banner_show",
            icon=":material/qr_code_2:",
            shortcut="j",
            on_click=_toggle,
            args=(code,),
            help="Show the class code, the link and its QR code (key J)",
        )
        return
    with st.container(border=True, key="cls_banner"):
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.markdown(f"### Join the class: **{code}**")
        left.markdown("Scan the code, or open this link, or type the class code in the sidebar's *Class code* box:")
        left.code(link, language=None, wrap_lines=True)
        left.button("Hide", key="cls_banner_hide", icon=":material/visibility_off:", shortcut="j", on_click=_toggle,
                    args=(code,), help="Fold the banner away (key J shows it again)")  # fmt: skip
        with right:
            st.html(qr_figure(link, f"The students' link to class {code}"))

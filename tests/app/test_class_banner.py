"""The join banner on the projector (classroom/class_banner.py): in presenter mode the teacher's page shows the
class code, the students' link and a QR code of that link, which a phone's reader decodes to the same link."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import segno

from app_support.classroom import class_banner
from tests.app.elements import ok
from tests.app.test_live_class import SIM, store  # noqa: F401  (a fresh class store: the fixture)


def test_the_qr_code_is_the_link(tmp_path):
    link = "http://192.168.1.20:8501/?class=K7QF"
    svg = class_banner.qr_svg(link)
    assert svg.startswith("<svg") and "<script" not in svg
    if not shutil.which("zbarimg"):
        message = "zbarimg (Debian's zbar-tools, which .ci/run installs) is not installed: the drawing is not decoded"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    png = tmp_path / "qr.png"
    segno.make(link, error="m").save(png, scale=10, border=3)  # the same symbol, as a picture zbar reads
    read = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, timeout=30)
    assert read.stdout.strip() == link
    assert f'd="{_path(svg)}"' in _drawn(link)  # the page's drawing is that symbol's


def _path(svg: str) -> str:
    return svg.split('class="qrline"', 1)[1].split('d="', 1)[1].split('"', 1)[0]


def _drawn(link: str) -> str:
    import io

    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=10, border=3, xmldecl=False)
    return out.getvalue().decode()


def test_presenter_mode_shows_the_join_banner_and_folds_it(app, store):  # noqa: F811
    at = app(SIM)
    at.sidebar.button(key="cls_start").click().run()
    code = at.query_params["class"]
    code = code[0] if isinstance(code, list) else code
    assert not [c for c in at.get("flex_container") if "cls_banner" in str(c.proto)]
    at.sidebar.toggle(key="present").set_value(True).run()
    ok(at)
    texts = [m.value for m in at.markdown]
    assert f"### Join the class: **{code}**" in texts
    assert any(c.value.endswith(f"/?class={code}") for c in at.code)
    drawn = [h.proto.body for h in at.get("html") if "data:image/svg+xml" in h.proto.body]
    assert len(drawn) == 1 and f'alt="QR code: The students&#x27; link to class {code}"' in drawn[0]
    ok(at.button(key="cls_banner_hide").click().run())
    assert f"### Join the class: **{code}**" not in [m.value for m in at.markdown]
    show_again = at.button(key="cls_banner_show")
    assert show_again.label == f"How to join class {code}" and show_again.proto.shortcut
    ok(show_again.click().run())
    assert f"### Join the class: **{code}**" in [m.value for m in at.markdown]


def test_students_never_see_the_banner(app, store):  # noqa: F811
    code, _ = store.create_class()
    at = ok(app(SIM, **{"class": code, "present": "true"}))
    assert f"### Join the class: **{code}**" not in [m.value for m in at.markdown]

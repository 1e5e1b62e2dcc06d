"""Lesson 6's FlashAttention section: the Triton kernel's source beside the walk, and what this server runs."""

import subprocess
import sys
import textwrap
from pathlib import Path

from app_support.efficient.efficient_flash import kernel_note
from attnviz.efficient.flash import triton_kernel_source
from tests.app.elements import ok
from tests.app.test_pages import _reveal_all

PAGE = "lessons/efficient.py"
TITLE = "The same algorithm as a GPU kernel (Triton)"


def test_the_expander_shows_the_kernel_and_says_it_does_not_run_on_this_cpu(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    expander = next(e for e in at.expander if e.label == TITLE)
    codes = [c.value for c in expander.code]
    assert codes == [triton_kernel_source().rstrip("\n")]
    assert "def flash_forward_kernel(" in codes[0] and "tl.program_id(0)" in codes[0]
    text = " ".join(m.value for m in expander.markdown)
    assert "This page never runs the kernel" in text
    assert "This server computes on its CPU" in text  # the tests run without a GPU


def test_the_note_follows_the_device():
    assert "page 6c's timings of FlashAttention (ours) do run this kernel" in kernel_note("cuda", True)
    assert "Triton is not installed" in kernel_note("cuda", False)
    assert "on its CPU" in kernel_note("cpu", True) and "the kernel needs a GPU" in kernel_note("cpu", False)
    for device in ("cpu", "cuda"):
        assert kernel_note(device, True).startswith("This page never runs the kernel")


def test_the_app_and_the_timings_work_without_triton():
    script = textwrap.dedent(
        """
        import sys

        class NoTriton:  # as if triton were not installed
            def find_spec(self, name, path=None, target=None):
                if name == "triton" or name.startswith("triton."):
                    raise ImportError("no triton")

        sys.meta_path.insert(0, NoTriton())
        import torch
        import app_support.efficient.efficient_flash  # FlashAttention's own page part (and the parts every variant has)
        from attnviz import scaling
        from attnviz.efficient.flash import triton_kernel_source

        assert "def flash_forward_kernel(" in triton_kernel_source()
        q, k, v = scaling.inputs_for_timing(64, "cpu")
        assert scaling.make_case("flash", q, k, v)().block_q == 256  # the loop
        assert "triton" not in sys.modules
        print("ok")
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]

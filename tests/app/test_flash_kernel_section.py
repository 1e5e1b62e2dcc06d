"""Lesson 6's FlashAttention section: the Triton kernel's source beside the walk, and what this server runs."""

from app_support.efficient_sections import kernel_note
from attnviz.efficient.flash import triton_kernel_source
from tests.app.test_lesson5 import ok
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
    assert "lesson 6c's timings of FlashAttention (ours) do run this kernel" in kernel_note("cuda", True)
    assert "Triton is not installed" in kernel_note("cuda", False)
    assert "on its CPU" in kernel_note("cpu", True) and "needs a CUDA GPU" in kernel_note("cpu", False)
    for device in ("cpu", "cuda"):
        assert kernel_note(device, True).startswith("This page never runs the kernel")

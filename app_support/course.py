"""The course: its lessons in order, each a page file with its title and address. The one list of lessons: the
entry point (app.py) builds its navigation from it, the tests and the benches read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    file: str  # the page script, from the repository root
    title: str  # in the navigation
    url_path: str  # Streamlit's name for the page in addresses
    default: bool = False  # the first lesson: its address is the app's root

    @property
    def address(self) -> str:
        """The path after the app's root address: "" for the first lesson (the root itself)."""
        return "" if self.default else self.url_path


LESSONS = (
    Lesson("lessons/embeddings.py", "1 · Words as vectors", "embeddings", default=True),
    Lesson("lessons/similarity.py", "2 · The similarity matrix", "similarity"),
    Lesson("lessons/projections.py", "3 · Queries, keys and values", "projections"),
    Lesson("lessons/softmax.py", "4 · Softmax and scaling", "softmax"),
    Lesson("lessons/multihead.py", "5 · Multi-head attention", "multihead"),
    Lesson("lessons/real_heads.py", "5b · Heads of a real transformer", "real-heads"),
    Lesson("lessons/real_examples.py", "5c · What real heads do", "real-examples"),
    Lesson("lessons/efficient.py", "6 · Efficient attention", "efficient"),
    Lesson("lessons/efficient_swap.py", "6b · Swap into the real model", "efficient-swap"),
    Lesson("lessons/efficient_scaling.py", "6c · Scaling lab", "efficient-scaling"),
)
FILES = [lesson.file for lesson in LESSONS]

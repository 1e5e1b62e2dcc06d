"""The course: its lessons in order, each a page file with its title, address, what it teaches and a suggested time
in class; and the pages around them (the start page, the glossary). The one list of lessons: the entry point (app.py)
builds its navigation from it, the start page lists it, the tests and bench/bench_load.py read it
(bench/bench_lessons.py times particular controls of particular lessons)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    file: str  # the page script, from the repository root
    title: str  # in the navigation
    url_path: str  # Streamlit's name for the page in addresses
    default: bool = False  # the first lesson: its address is the app's root
    teaches: str = ""  # one line for the start page: what the lesson shows
    minutes: int = 0  # a suggested time for it in class (our suggestion for planning, not a measurement)

    @property
    def address(self) -> str:
        """The path after the app's root address: "" for the first lesson (the root itself)."""
        return "" if self.default else self.url_path


LESSONS = (
    Lesson("lessons/embeddings.py", "1 · Words as vectors", "embeddings", default=True, minutes=20,
           teaches="Words as GloVe vectors: analogies, dot product and cosine, nearest neighbours."),
    Lesson("lessons/similarity.py", "2 · The similarity matrix", "similarity", minutes=20,
           teaches="S = I·Iᵀ, every word against every word, and the first attention O = S·I."),
    Lesson("lessons/projections.py", "3 · Queries, keys and values", "projections", minutes=25,
           teaches="Q, K and V as learned projections: identity, random, trained here, and a real head."),
    Lesson("lessons/softmax.py", "4 · Softmax and scaling", "softmax", minutes=20,
           teaches="Scores to weights: ÷√d, temperature, softmax, the causal and padding masks."),
    Lesson("lessons/multihead.py", "5 · Multi-head attention", "multihead", minutes=15,
           teaches="Several heads side by side, their outputs joined and projected."),
    Lesson("lessons/real_heads.py", "5b · Heads of a real transformer", "real-heads", minutes=20,
           teaches="All 72 heads of a real encoder (MiniLM) on your text, and what kinds of heads it has."),
    Lesson("lessons/real_examples.py", "5c · What real heads do", "real-examples", minutes=20,
           teaches="Heads that follow a referent or look from a verb to its subject, tested on minimal pairs."),
    Lesson("lessons/efficient.py", "6 · Efficient attention", "efficient", minutes=30,
           teaches="FlashAttention, Linformer, Performer, Longformer, BigBird, Reformer and others, one by one."),
    Lesson("lessons/efficient_swap.py", "6b · Swap into the real model", "efficient-swap", minutes=15,
           teaches="Each variant in every layer of the real model: what changes in what it computes."),
    Lesson("lessons/efficient_scaling.py", "6c · Scaling lab", "efficient-scaling", minutes=15,
           teaches="Time and memory against length, measured on this server, up to a million tokens."),
    Lesson("lessons/decoder.py", "7 · Inside a decoder LLM", "decoder", minutes=30,
           teaches="A real decoder (SmolLM2) on your text: next word, causal heads, sinks, GQA, KV cache, RoPE."),
)  # fmt: skip
START = Lesson("lessons/start.py", "Start here", "start")
GLOSSARY = Lesson("lessons/glossary.py", "Glossary", "glossary")


def next_lesson(url_path: str) -> Lesson | None:
    """The lesson after the one at ``url_path`` (Streamlit's page path: "" for the first lesson, the root); None after
    the last one and on pages that are not lessons."""
    paths = [lesson.address for lesson in LESSONS]
    if url_path not in paths or paths.index(url_path) == len(paths) - 1:
        return None
    return LESSONS[paths.index(url_path) + 1]


FILES = [lesson.file for lesson in LESSONS]
AROUND = (START, GLOSSARY)  # the pages around the lessons, after them in the navigation

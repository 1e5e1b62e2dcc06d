"""One record per efficient variant: its knobs, how they become keyword arguments, its pattern, its timing cases, and
the text the pages show beside it (`VariantText`: title, paper, formula, complexity, what it keeps; a label and a
help for each knob).

Each variant module (``attnviz/efficient/<x>.py``) defines its ``SPEC`` beside its function; ``attnviz.efficient``
collects them into ``REGISTRY`` in the order the course teaches them. Everything that compares, sweeps or times
variants reads these records, so no code outside a variant's own module asks for a variant by name.

Its own parts of pages 6 and 6b, where it has them, are one module on the Streamlit side that the record names
(``page_part``, a dotted module name: attnviz never imports Streamlit); its rows of the bench's error tables are
``bench``.

A knob is chosen from a fixed list of values, so a setting keeps meaning the same thing on any input; a value
larger than the input allows (a rank above T, a stride above T) is cut to what the input has, and `Fit` keeps a
note saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import Tensor

from attnviz.attention import AttentionFn
from attnviz.errors import AttnvizInputError

if TYPE_CHECKING:
    from attnviz.efficient.compare import Run

KnobValue = int | str
HEADS, WIDTH = 8, 64  # H and Dh of every timed case (float32, batch 1)


@dataclass(frozen=True)
class KnobText:
    """What the learner reads beside one knob."""

    label: str
    help: str


@dataclass(frozen=True)
class VariantText:
    """What the pages say about one variant: its section's heading and formula, and its row of the closing table."""

    title: str
    paper: str
    knobs: Mapping[str, KnobText]  # by the knob's name in the variant's record, one for each knob
    formula: str  # LaTeX
    time: str  # time complexity
    memory: str  # extra memory beyond Q, K, V and the output
    keeps_exact: str  # what it keeps exact (closing table)
    costs: str  # what it gives up
    choose_when: str  # when to choose it


@dataclass(frozen=True)
class Question:
    """A "predict first" question asked before a variant's result is shown: answers, the right one decided by what
    was measured (`attnviz.efficient.questions` writes the ones of each kind)."""

    question: str
    options: tuple[str, str, str]
    correct: int  # the index of the right answer, from the measurement
    explain: str


def band(value: float, low: float, high: float) -> int:
    """0 below ``low``, 1 below ``high``, else 2: which of three answers a measured value picks."""
    return 0 if value < low else (1 if value < high else 2)


@dataclass(frozen=True)
class Knob:
    """One setting of a variant that trades accuracy (or memory) for cost."""

    name: str  # the knob's short name (what a link and a settings dict call it)
    values: tuple[KnobValue, ...]  # the values offered, smallest cost first where that makes sense
    default: KnobValue
    # (T, values) → the values offered for an input of T tokens, when fewer than all (None: every value, always)
    offered: Callable[[int, tuple[KnobValue, ...]], tuple[KnobValue, ...]] | None = None

    def offered_for(self, t: int | None) -> tuple[KnobValue, ...]:
        """The values offered for an input of ``t`` tokens (all of them when ``t`` is None or nothing is cut)."""
        return self.values if self.offered is None or t is None else tuple(self.offered(t, self.values))


@dataclass
class Fit:
    """The input a variant's knobs are fitted to (T tokens, H heads), and what had to be cut."""

    t: int
    heads: int = 1
    notes: list[str] = field(default_factory=list)

    def cut(self, value: int, what: str) -> int:
        """``value``, or T when it is more than the input's T tokens (with a note)."""
        if value > self.t:
            self.notes.append(f"{what} {value} is more than your {self.t} tokens allow: using {self.t}.")
            return self.t
        return value


@dataclass(frozen=True)
class TimingCase:
    """One timed case of the scaling measurements: H = 8 heads of width 64, float32, batch 1, length n."""

    make: Callable[[Tensor, Tensor, Tensor], Callable[[], object]]  # q, k, v (1, H, n, Dh) → a call to time
    flops: Callable[[int, int, int], float]  # (n, heads, d) → the multiply-adds (×2) it is designed to do
    setting: str  # the settings it runs with
    growth: tuple[str, str]  # how its time and its extra memory are designed to grow with T
    label: str  # its short name in a table or a legend
    exact: bool = False  # computes every (causal) score, like exact attention: a time slope of 2


@dataclass(frozen=True)
class BenchRow:
    """One row of the bench's error tables (`bench/bench_efficient.py`): the variant at the bench's own setting, on
    inputs far longer than a sentence (its values need not be among the knobs' values)."""

    note: str  # what sets the row apart, in brackets after the variant's name ("" for none)
    kwargs: Callable[[int, int], Mapping[str, object]]  # (T, H) → the function's keyword arguments


def full_flops(n: int, heads: int, d: int) -> float:
    """Every query against every key: Q·Kᵀ and P·V."""
    return 4.0 * n * n * d * heads


@dataclass(frozen=True)
class VariantSpec:
    """Everything the comparison, the sweeps and the timings need to know about one variant."""

    name: str  # its key in the registry
    fn: AttentionFn
    kind: str  # "exact", "pattern" (exact softmax on a sparse pattern) or "approx" (an approximation)
    knobs: tuple[Knob, ...]
    to_kwargs: Callable[[Mapping[str, KnobValue], Fit], dict[str, object]]  # full knobs → keyword arguments
    cases: Mapping[str, TimingCase]  # its timing case(s), by the name the tables use
    text: VariantText  # what the pages show beside it
    pattern: Callable[[Tensor, Mapping[str, object]], Tensor] | None = None  # (q (T, D), kwargs) → (T, T) bool
    random: Callable[[Mapping[str, KnobValue]], bool] = lambda knobs: False  # does the seed change the result?
    swept: str | None = None  # the knob whose error curve the comparison draws (None: the result never changes)
    shared_qk: bool = False  # compared as the paper defines it: keys are the queries at unit length, no self
    all_heads: bool = False  # runs on every head of a layer at once (shares keys and values across heads)
    in_model: Mapping[str, object] = field(default_factory=dict)  # keyword arguments that differ inside a whole model
    # (kwargs, T, H) → does it compute exact attention, every pair of every head, on T tokens (None: it depends on
    # the input's values)? None here: `compare.computes_exact` decides by kind (exact: yes; a pattern: whether it
    # covers every pair; an approximation: no)
    exact_when: Callable[[Mapping[str, object], int, int], bool | None] | None = None
    # (its record, the run just measured, the head's name) → its own "predict first" question (None: its kind's)
    question: Callable[[VariantSpec, Run, str], Question] | None = None
    # its own parts of the variant pages, on the Streamlit side: the dotted name of one module (attnviz never imports
    # it) whose `PART` is an `app_support.efficient.efficient_sections.Extras` (None: the parts every variant has)
    page_part: str | None = None
    # its rows of the bench's error tables (empty: one row, its knobs at their defaults fitted to the bench's input)
    bench: tuple[BenchRow, ...] = ()

    def __post_init__(self) -> None:
        named, texts = [knob.name for knob in self.knobs], set(self.text.knobs)
        if set(named) != texts:
            raise ValueError(f"{self.name}: the knobs {named} need one text each; the text names {sorted(texts)}")

    def default_knobs(self) -> dict[str, KnobValue]:
        """Every knob at its default."""
        return {knob.name: knob.default for knob in self.knobs}

    def bench_rows(self) -> tuple[BenchRow, ...]:
        """Its rows of the bench's error tables: its own, or one of its knobs at their defaults, fitted to the input."""
        return self.bench or (BenchRow("", lambda t, heads: self.fit(self.default_knobs(), t, heads)[0]),)

    def knob(self, name: str) -> Knob:
        """The knob called ``name``; AttnvizInputError when there is none."""
        found = next((knob for knob in self.knobs if knob.name == name), None)
        if found is None:
            raise AttnvizInputError(f"{self.name} has no knob {name!r}")
        return found

    def fit(self, knobs: Mapping[str, KnobValue], t: int, heads: int = 1) -> tuple[dict[str, object], tuple[str, ...]]:
        """The keyword arguments for an input of T tokens (H heads), knobs cut to fit, and what was cut.

        Raises AttnvizInputError for a knob value outside its list or an input without tokens.
        """
        if t < 1:
            raise AttnvizInputError("the sentence has no tokens")
        full = self.default_knobs() | dict(knobs)
        for knob in self.knobs:
            if full[knob.name] not in knob.values:
                raise AttnvizInputError(
                    f"{self.name}'s {knob.name} cannot be {full[knob.name]!r}; choose one of {list(knob.values)}"
                )
        fit = Fit(t, heads)
        kwargs = self.to_kwargs(full, fit)
        return kwargs, tuple(fit.notes)

"""The efficient-attention pages' view of each variant's text: its knobs with their labels, the titles of a kind.

The text itself (title, paper, formula, complexity, what it keeps, each knob's label and help) is part of the
variant's record, ``attnviz.efficient.REGISTRY[name].text``, in the variant's own module. A page's URL keeps a knob
as ``<page prefix>_<knob name>`` (``l6_tile``).
"""

from __future__ import annotations

from dataclasses import dataclass

from attnviz.efficient import REGISTRY, Knob, VariantSpec


@dataclass(frozen=True)
class LabelledKnob:
    """A knob of a variant's record with its text, for a widget."""

    knob: Knob
    label: str
    help: str

    @property
    def name(self) -> str:
        return self.knob.name

    @property
    def values(self) -> tuple:
        return self.knob.values

    @property
    def default(self) -> object:
        return self.knob.default


def spec(name: str) -> VariantSpec:
    """The variant's record (its knobs' values, its kind)."""
    return REGISTRY[name]


def knobs(name: str) -> list[LabelledKnob]:
    """The variant's knobs, in its record's order, each with its label and help."""
    text = REGISTRY[name].text.knobs
    return [LabelledKnob(k, text[k.name].label, text[k.name].help) for k in REGISTRY[name].knobs]


def titles_of_kind(kind: str) -> str:
    """The titles of the variants of one kind ("pattern", "approx", "exact"), in the course's order."""
    return ", ".join(s.text.title for s in REGISTRY.values() if s.kind == kind)

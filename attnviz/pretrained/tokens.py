"""A sentence as the model reads it: WordPiece tokens, the words they came from, and groups of them.

`encode` never fails on odd text (empty, emoji, other scripts, too long): it says what happened in ``notes``.
`group_tokens` ties the pieces back to words, with [CLS] and [SEP] in or out, for maps drawn by word.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from attnviz.errors import AttnvizInputError

if TYPE_CHECKING:
    from attnviz.pretrained.model import Model


@dataclass(frozen=True)
class Tokens:
    """A sentence as the model sees it: WordPiece pieces with [CLS] first and [SEP] last.

    ``word_ids`` ties each piece to a word of ``words`` (None for [CLS] and [SEP]), so that pieces can be
    grouped back into words. Words are what BERT's pre-tokenizer splits on: spaces and punctuation, so
    "tired," is two words, "tired" and ",".
    """

    text: str  # the text as given
    ids: tuple[int, ...]  # T vocabulary ids
    pieces: tuple[str, ...]  # T WordPiece strings; a piece that continues a word starts with "##"
    word_ids: tuple[int | None, ...]  # T; index into `words`, None for the special tokens
    words: tuple[str, ...]  # the words as typed (cut from `text`), before lower-casing
    special: tuple[bool, ...]  # T; True for the [CLS] and [SEP] the tokenizer added
    unknown: tuple[bool, ...]  # T; True where a word is not in the vocabulary and became [UNK]
    offsets: tuple[tuple[int, int], ...]  # T; (start, end) characters in `text`; (0, 0) for [CLS]/[SEP]
    truncated: bool  # the text needed more than the model's max_pieces and its end was dropped
    n_dropped: int  # pieces dropped by truncation (0 when not truncated)
    notes: tuple[str, ...]  # what a learner should be told: empty input, [UNK] words, truncation

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_empty(self) -> bool:
        """Nothing but [CLS] and [SEP]: the text was empty or only spaces."""
        return not self.words

    @property
    def unknown_words(self) -> tuple[str, ...]:
        """The typed words that the model sees as [UNK], each once, in order."""
        seen: dict[str, None] = {}
        for unk, w in zip(self.unknown, self.word_ids, strict=True):
            if unk and w is not None:
                seen.setdefault(self.words[w], None)
        return tuple(seen)


def encode(model: Model, text: str) -> Tokens:
    """Split ``text`` into the model's WordPiece tokens, [CLS] first and [SEP] last.

    Never fails on odd text: empty or whitespace-only input gives just [CLS] [SEP], emoji and words outside
    the vocabulary become [UNK], other scripts split into single characters; each case adds a note. Text
    beyond ``model.max_pieces`` tokens ([CLS] and [SEP] included; 256, `attnviz.paragraph.MODEL_PIECES`, unless
    the model was loaded otherwise) is cut, with ``truncated`` set and a note saying how much was dropped.

    Args:
        model: from `load_model`.
        text: what the learner typed.
    Returns:
        Tokens.
    """
    if not isinstance(text, str):
        raise AttnvizInputError(f"expected a sentence as text, got {type(text).__name__}")
    enc = model.tokenizer.encode(text)
    special = tuple(bool(s) for s in enc.special_tokens_mask)
    offsets = tuple((int(a), int(b)) for a, b in enc.offsets)

    # 1. a word's text is the span from its first piece to its last one, cut from what was typed
    spans: dict[int, list[int]] = {}
    for w, (a, b) in zip(enc.word_ids, offsets, strict=True):
        if w is not None:
            span = spans.setdefault(w, [a, b])
            span[0], span[1] = min(span[0], a), max(span[1], b)
    words = tuple(text[spans[w][0] : spans[w][1]] for w in sorted(spans))
    # number the kept words 0..n-1 in order, whatever the tokenizer numbered them
    dense = {w: i for i, w in enumerate(sorted(spans))}
    word_ids = tuple(None if w is None else dense[w] for w in enc.word_ids)

    # 2. [UNK] is a real vocabulary entry; flag it where it stands for a typed word
    unk_id = model.tokenizer.token_to_id("[UNK]")
    unknown = tuple(i == unk_id and not s for i, s in zip(enc.ids, special, strict=True))

    # 3. the overflow pieces, each chunk framed by its own [CLS]/[SEP]
    n_dropped = sum(sum(1 for s in o.special_tokens_mask if not s) for o in enc.overflowing)

    tokens = Tokens(
        text=text,
        ids=tuple(enc.ids),
        pieces=tuple(enc.tokens),
        word_ids=word_ids,
        words=words,
        special=special,
        unknown=unknown,
        offsets=offsets,
        truncated=n_dropped > 0,
        n_dropped=n_dropped,
        notes=(),
    )

    # 4. what a learner should be told about it
    notes = []
    if tokens.is_empty:
        notes.append("The text is empty: the model sees only [CLS] and [SEP].")
    if tokens.unknown_words:
        listed = ", ".join(repr(w) for w in tokens.unknown_words)
        notes.append(f"Not in the model's vocabulary, so it reads [UNK]: {listed}.")
    if tokens.truncated:
        kept = len(tokens) - sum(special)
        notes.append(
            f"The text is longer than the {model.max_pieces} pieces the model reads ([CLS] and [SEP] included): "
            f"kept the first {kept} pieces (up to {words[-1]!r}) and dropped the last {n_dropped}."
        )
    return dataclasses.replace(tokens, notes=tuple(notes))


def find_word(model: Model, tokens: Tokens, word: str) -> int:
    """Index into ``tokens.words`` of the first word equal to ``word`` after the tokenizer's normalisation
    (lower case, accents off), so "Bank" finds "bank".

    Raises:
        AttnvizInputError: when the word is not in the sentence.
    """
    if not isinstance(word, str) or not word.strip():
        raise AttnvizInputError("name a word to look for")
    norm = model.tokenizer.normalizer
    wanted = norm.normalize_str(word.strip())
    for i, w in enumerate(tokens.words):
        if norm.normalize_str(w) == wanted:
            return i
    raise AttnvizInputError(f"{word.strip()!r} is not a word of the sentence {tokens.text!r}")


def piece_positions(tokens: Tokens, word_index: int) -> list[int]:
    """The token positions of word ``word_index``'s pieces ([CLS] and [SEP] never count)."""
    return [t for t, w in enumerate(tokens.word_ids) if w == word_index and not tokens.special[t]]


# ----------------------------------------------------------------------------------------------------------
# Pieces back into words, special tokens in or out
# ----------------------------------------------------------------------------------------------------------


class SentencePair:
    """For a result measured on two sentences (its fields ``tokens_a`` and ``tokens_b``): the model's notes on each."""

    tokens_a: Tokens
    tokens_b: Tokens

    @property
    def notes_a(self) -> tuple[str, ...]:
        """The model's notes on sentence A ([UNK] words, truncation, empty text)."""
        return self.tokens_a.notes

    @property
    def notes_b(self) -> tuple[str, ...]:
        """The model's notes on sentence B."""
        return self.tokens_b.notes


@dataclass(frozen=True)
class Grouping:
    """Which token positions make up each row/column of a grouped map."""

    labels: tuple[str, ...]  # G labels: the word as typed, a WordPiece, or "[CLS]" / "[SEP]"
    members: tuple[tuple[int, ...], ...]  # G tuples of token positions
    special: tuple[bool, ...]  # G; True for a [CLS] or [SEP] group

    def __len__(self) -> int:
        return len(self.labels)


def group_tokens(tokens: Tokens, *, words: bool = True, keep_special: bool = True) -> Grouping:
    """Group token positions for display.

    Args:
        tokens: from `encode`.
        words: True to merge the WordPiece pieces of each word ("em ##bed ##ding ##s" → "embeddings");
            False for one group per piece.
        keep_special: False to leave out [CLS] and [SEP].
    Returns:
        Grouping, in sentence order.
    """
    labels: list[str] = []
    members: list[list[int]] = []
    special: list[bool] = []
    last_word: int | None = None
    for t, (piece, w, s) in enumerate(zip(tokens.pieces, tokens.word_ids, tokens.special, strict=True)):
        if s and not keep_special:
            continue
        if words and w is not None and not s and w == last_word:
            members[-1].append(t)
            continue
        labels.append(tokens.words[w] if words and w is not None and not s else piece)
        members.append([t])
        special.append(s)
        last_word = None if s else w
    return Grouping(labels=tuple(labels), members=tuple(tuple(m) for m in members), special=tuple(special))


__all__ = ["Grouping", "SentencePair", "Tokens", "encode", "find_word", "group_tokens", "piece_positions"]

"""Text as the decoder reads it: byte-level BPE tokens (Sennrich et al., 2016; GPT-2's byte-level variant, Radford
et al., 2019), built from the GGUF file's vocabulary, merges and control tokens.

Pre-tokenisation is llama.cpp's for this file (``tokenizer.ggml.pre = "smollm"``): every digit on its own (regex
``\\p{N}``), then GPT-2's split into words, numbers, punctuation and spaces, each byte shown as a printable
character (a space is "Ġ"). The original tokenizer.json of SmolLM2 does the same. (transformers' GGUF converter
leaves out the digit split; the two differ only where a space or letter next to a numeric character has a merge,
as in " ²", which we split like llama.cpp: tests/attnviz/decoder/test_tokens.py.)

No BOS token is added (``tokenizer.ggml.add_bos_token`` is false), so the first token is the text's own first piece.
Control tokens typed into the text (``<|im_start|>``) are read as control tokens, as the chat template uses them;
`encode` notes it. At most `MAX_TOKENS` tokens are read; `encode` says where it stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from attnviz.checks import whole_number
from attnviz.errors import AttnvizInputError

if TYPE_CHECKING:
    from attnviz.decoder.model import Model

MAX_TOKENS = 256  # the most tokens of a learner's text the model reads on the pages (the rest is dropped)
MAX_CHARS = 100_000  # text beyond this many characters is not even tokenised (it could never be read)
CONTROL = 3  # tokenizer.ggml.token_type of a control token (llama.cpp's LLAMA_TOKEN_TYPE_CONTROL)


def build_tokenizer(vocabulary: Sequence[str], merges: Sequence[str], token_types: Sequence[int]) -> Tokenizer:
    """A byte-level BPE tokenizer from a GGUF file's ``tokenizer.ggml.*`` metadata.

    Args:
        vocabulary: V byte-level token strings; a token's id is its index.
        merges: "a b" strings, highest priority first.
        token_types: V llama.cpp token types; `CONTROL` ones become special tokens that the text can contain.
    """
    vocab = {token: i for i, token in enumerate(vocabulary)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),  # llama.cpp's first regex for this file, \p{N}
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),  # GPT-2's split, bytes as characters
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    kinds = zip(vocabulary, token_types, strict=True)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in kinds if k == CONTROL])
    return tokenizer


@cache
def _byte_of_char() -> dict[str, int]:
    """GPT-2's printable stand-in for each of the 256 bytes, reversed ("Ġ" → 0x20)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(b)
        else:
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in enumerate(chars)}


def piece_label(piece: str, special: bool = False) -> str:
    """What one vocabulary piece stands for, readable: its bytes as text; the bytes of a character split across
    pieces (an emoji is 4 bytes, often in 2 pieces) in hex, e.g. " ⟨f0 9f 98⟩" then "⟨80⟩"."""
    if special:
        return piece
    table = _byte_of_char()
    raw = bytes(table[c] for c in piece)
    text, stray, i = [], [], 0
    while i < len(raw):
        for n in range(1, min(4, len(raw) - i) + 1):  # a UTF-8 character is 1 to 4 bytes
            try:
                char = raw[i : i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if stray:
                text.append("⟨" + " ".join(stray) + "⟩")
                stray = []
            text.append(char)
            i += n
            break
        else:  # no whole character starts here: a byte of a character split across pieces
            stray.append(f"{raw[i]:02x}")
            i += 1
    if stray:
        text.append("⟨" + " ".join(stray) + "⟩")
    return "".join(text)


@dataclass(frozen=True)
class Tokens:
    """A text as the decoder reads it: at most `MAX_TOKENS` byte-level BPE tokens, no BOS."""

    text: str  # the text as given
    ids: tuple[int, ...]  # T vocabulary ids
    pieces: tuple[str, ...]  # T vocabulary strings, bytes as printable characters ("Ġcat")
    labels: tuple[str, ...]  # T; what each piece stands for (" cat"), partial characters as hex bytes
    offsets: tuple[tuple[int, int], ...]  # T; (start, end) characters in `text`
    special: tuple[bool, ...]  # T; True for a control token (<|im_start|>) typed in the text
    truncated: bool  # the text had more than max_tokens tokens and the rest was dropped
    n_dropped: int  # tokens dropped (counted in the first MAX_CHARS characters)
    stop_char: int  # characters of `text` read: the end of the last token kept
    notes: tuple[str, ...]  # what a learner should be told: empty text, where it stopped, control tokens

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_empty(self) -> bool:
        return not self.ids


def _notes(tokens: Tokens, max_tokens: int, cut_chars: bool) -> tuple[str, ...]:
    notes = []
    if tokens.is_empty:
        notes.append("The text is empty: the model has no token to predict from.")
    if tokens.truncated:
        more = f" (and the text after character {MAX_CHARS:,} was not read)" if cut_chars else ""
        notes.append(
            f"The model reads at most {max_tokens} tokens: it stopped at character {tokens.stop_char:,} "
            f"(after {tokens.text[max(0, tokens.stop_char - 30) : tokens.stop_char]!r}) and dropped the "
            f"next {tokens.n_dropped:,} tokens{more}."
        )
    typed = sorted({label for label, s in zip(tokens.labels, tokens.special, strict=True) if s})
    if typed:
        notes.append(f"The text contains the model's control tokens, read as control tokens: {', '.join(typed)}.")
    return tuple(notes)


def encode(model: Model, text: str, max_tokens: int = MAX_TOKENS) -> Tokens:
    """Split ``text`` into the model's tokens, keeping at most ``max_tokens``.

    Never fails on odd text (empty, emoji, other scripts, 20,000 characters, HTML, a chat template): each case
    that a learner should know about adds a note. Only the first `MAX_CHARS` characters are tokenised.

    Args:
        model: from `load_model`.
        text: what the learner typed.
        max_tokens: 1 to the model's context length; default `MAX_TOKENS`.
    Returns:
        Tokens.
    """
    if not isinstance(text, str):
        raise AttnvizInputError(f"expected the text as a string, got {type(text).__name__}")
    whole_number(max_tokens, "the number of tokens to read", 1, model.config.max_positions)
    cut_chars = len(text) > MAX_CHARS
    enc = model.tokenizer.encode(text[:MAX_CHARS], add_special_tokens=False)
    ids = tuple(enc.ids[:max_tokens])
    pieces = tuple(enc.tokens[:max_tokens])
    control = _control_ids(model.tokenizer)
    special = tuple(i in control for i in ids)
    offsets = tuple((int(a), int(b)) for a, b in enc.offsets[:max_tokens])
    n_dropped = max(0, len(enc.ids) - max_tokens)
    tokens = Tokens(
        text=text,
        ids=ids,
        pieces=pieces,
        labels=tuple(piece_label(p, s) for p, s in zip(pieces, special, strict=True)),
        offsets=offsets,
        special=special,
        truncated=n_dropped > 0 or cut_chars,
        n_dropped=n_dropped,
        stop_char=offsets[-1][1] if offsets else 0,
        notes=(),
    )
    return dataclasses.replace(tokens, notes=_notes(tokens, max_tokens, cut_chars))


def _control_ids(tokenizer: Tokenizer) -> frozenset[int]:
    return frozenset(i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special)


def token_labels(model: Model, ids: Sequence[int]) -> tuple[str, ...]:
    """`piece_label` of each id (for generated tokens and top-k lists)."""
    control = _control_ids(model.tokenizer)
    return tuple(piece_label(model.tokenizer.id_to_token(int(i)), int(i) in control) for i in ids)


def decode(model: Model, ids: Sequence[int]) -> str:
    """The text of a run of tokens, control tokens kept (generated text is shown as plain text)."""
    return model.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)


__all__ = ["MAX_CHARS", "MAX_TOKENS", "Tokens", "build_tokenizer", "decode", "encode", "piece_label", "token_labels"]

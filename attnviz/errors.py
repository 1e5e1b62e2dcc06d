"""The one error type that `attnviz` raises for bad learner input."""


class AttnvizInputError(ValueError):
    """Input a learner can fix (an empty sentence, an unknown word, a stray operator).

    The message is written for the learner: pages show it as it is.
    """


class EmptyTextError(AttnvizInputError):
    """The text gives the model no token to read (empty, or only what the tokenizer drops)."""


class TooManyTokensError(AttnvizInputError):
    """More tokens than the model reads: more than a page's stated limit, or beyond the positions it was trained on."""

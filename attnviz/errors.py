"""The one error type that `attnviz` raises for bad learner input."""


class AttnvizInputError(ValueError):
    """Input a learner can fix (an empty sentence, an unknown word, a stray operator).

    The message is written for the learner: pages show it as it is.
    """

"""`attnviz.checks.whole_number`: the one check of a whole number in a range."""

import pytest

from attnviz import AttnvizInputError
from attnviz.checks import whole_number


@pytest.mark.parametrize(("value", "low", "high"), [(1, 1, 64), (64, 1, 64), (0, 0, None), (10**12, 1, None)])
def test_a_whole_number_in_range_comes_back(value, low, high):
    assert whole_number(value, "n", low, high) == value


@pytest.mark.parametrize(
    ("value", "high", "said"),
    [(0, 64, "n must be a whole number from 1 to 64, got 0"), (65, 64, "from 1 to 64, got 65"),
     (0, None, "n must be a whole number of at least 1, got 0"), (True, None, "got True"), (2.0, 64, "got 2.0"),
     ("3", 64, "got '3'"), (None, None, "got None")],
)  # fmt: skip
def test_anything_else_is_refused_with_the_range(value, high, said):
    with pytest.raises(AttnvizInputError, match=said.replace("(", r"\(")):
        whole_number(value, "n", 1, high)


def test_the_pages_settings_go_through_it():
    from attnviz import heads, projections

    with pytest.raises(AttnvizInputError, match="the number of heads must be a whole number from 1"):
        heads.toy_weights(50, 0, 8, seed=0)
    with pytest.raises(AttnvizInputError, match="the seed must be a whole number from 0 to"):
        projections.random_projections(4, seed=-1)

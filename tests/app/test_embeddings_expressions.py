"""Page 1's analogy box on expressions with no positive word ("-dog", "-1"): answers and their picture, no error
(the fuzz test found the arrow from the first positive word failing on them)."""

import pytest

from tests.app.elements import ok


@pytest.mark.parametrize("expression", ["-dog", "-1", "- king - queen"])
def test_an_expression_of_negative_terms_alone_draws_without_error(app, expression):
    at = ok(app(emb_expr=expression))
    for _ in range(5):
        skips = [b for b in at.button if b.key and b.key.endswith("_skip")]
        if not skips:
            break
        ok(skips[0].click().run())
    assert not at.exception

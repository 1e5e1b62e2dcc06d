"""What the scaling lab says each timing case is designed to do (a fresh reader's finding on page 6c)."""

from attnviz import scaling


def test_reformer_timing_case_says_its_hashing_grows_like_t_squared():
    # n_buckets = n/64: hashing against R (D × n_buckets/2, Kitaev et al. 2020, section 2) is T·D·T/128, so the
    # designed time is not T·log T alone, as the scaling lab's table said
    assert scaling.timing()["reformer"].growth == ("T·log T, and T² to hash into n/64 buckets", "T")

"""`attnviz.similarity.diagonal_wins`: the word itself as the largest cell of its row, a tie not counted as a loss."""

import numpy as np
import pytest
import torch

from attnviz.embeddings import tokenize, vectors_for
from attnviz.projections import project, random_projections
from attnviz.similarity import diagonal_wins, similarity_matrix

FISHERMAN = "the old fisherman rested on the muddy bank of the quiet river"


def test_a_repeated_word_ties_with_its_copy_and_does_not_lose(kv):
    words = tokenize(FISHERMAN, kv).words
    S = similarity_matrix(vectors_for(kv, words), "dot")  # (12, 12)
    count = diagonal_wins(S, words)
    assert count.rows == 12 and count.share == 1.0 and count.losses == ()
    # "the" (0), "the·2" (5) and "the·3" (9) are one vector: every row of them ties with the other two copies
    assert set(count.ties) == {(0, 5), (0, 9), (5, 0), (5, 9), (9, 0), (9, 5)}
    assert all(count.copies)
    assert count.best == tuple(range(12))  # a tie goes to the word itself, not to its first copy
    # the old count (argmax) gave the tie to the first copy and called both later copies losses
    assert (S.argmax(dim=1) == torch.arange(12)).float().mean().item() == pytest.approx(10 / 12)


def test_cosine_and_random_projections_tie_the_same_way(kv):
    words = tokenize(FISHERMAN, kv).words
    X = vectors_for(kv, words)
    cosine = diagonal_wins(similarity_matrix(X, "cosine"), words)
    assert cosine.share == 1.0 and cosine.ties == diagonal_wins(similarity_matrix(X, "dot"), words).ties
    # random M_Q, M_K (seed 0): every diagonal loses here, and the three copies of "the" lose to the same key
    count = diagonal_wins(project(X, random_projections(X.shape[1], seed=0)).scores, words)  # (T, T) Q·Kᵀ
    assert count.share == 0.0 and count.ties == () and count.best[0] == count.best[5] == count.best[9] == 11


def test_a_real_loss_is_a_loss_and_numpy_works():
    s = np.array([[1.0, 2.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    count = diagonal_wins(s, ["a", "b", "c"])
    assert count.wins == (False, True, True) and count.losses == (0,) and count.best == (1, 1, 2)
    assert count.ties == () and count.share == pytest.approx(2 / 3)
    tied = diagonal_wins(np.array([[1.0, 1.0], [1.0, 1.0]]), ["a", "b"])  # two different words, one score
    assert tied.share == 1.0 and tied.ties == ((0, 1), (1, 0)) and tied.copies == (False, False)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="square"):
        diagonal_wins(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="3 words"):
        diagonal_wins(np.zeros((2, 2)), ["a", "b", "c"])


def test_tied_copies_and_other_ties_are_named():
    s = np.array([[2.0, 0.0, 2.0, 2.0], [0.0, 1.0, 0.0, 0.0], [2.0, 0.0, 2.0, 2.0], [2.0, 0.0, 2.0, 2.0]])
    count = diagonal_wins(s, ["the", "cat", "the", "a"])
    assert count.tied_copies(["the", "cat", "the", "a"]) == ("the",)
    assert count.other_ties == ((0, 3), (2, 3), (3, 0), (3, 2))

import re
from pathlib import Path

import pytest
import torch

from attnviz import AttnvizInputError
from attnviz.training import (
    TrainConfig,
    attention_accuracy,
    load_dataset,
    make_batch,
    parse_dataset,
    train_projections,
)

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "training"
GOALS = sorted(p.stem for p in ASSETS.glob("*.txt"))
# held-out accuracy each shipped goal reaches with TrainConfig() (seed 0): the figures lesson 3 states
EXPECTED = {"noun_adjective": 0.85, "verb_subject": 0.9}

TINY = """# title: Tiny
# goal: nouns look at adjectives
# try: a new test
[train]
the old man walked\tman>old
the red car and the car\tcar#2>red
[held-out]
a tall tree\ttree>tall
"""


def test_parse_reads_meta_pairs_and_repeats():
    ds = parse_dataset(TINY, name="tiny")
    assert (ds.name, ds.title, ds.goal, ds.example) == ("tiny", "Tiny", "nouns look at adjectives", "a new test")
    assert ds.train[0].words == ("the", "old", "man", "walked") and ds.train[0].pairs == ((2, 1),)
    assert ds.train[1].pairs == ((5, 1),)  # car#2 is the second "car"
    assert len(ds.heldout) == 1 and "tree" in ds.words


@pytest.mark.parametrize(
    "text,message",
    [
        ("the old man\tman>old\n", "before [train]"),
        ("[train]\nthe old man\n[held-out]\na b\tb>a\n", "expected a sentence"),
        ("[train]\nthe old man\tman-old\n[held-out]\na b\tb>a\n", "not query>target"),
        ("[train]\nthe old man\tdog>old\n[held-out]\na b\tb>a\n", "'dog' is not in the sentence"),
        ("[train]\nthe old man\tman#2>old\n[held-out]\na b\tb>a\n", "not in the sentence"),
        ("[train]\nthe old man\tman>old\n", "held-out split is empty"),
    ],
)
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(AttnvizInputError, match=re.escape(message)):
        parse_dataset(text)


@pytest.mark.parametrize("goal", GOALS)
def test_shipped_sets_are_sound(kv, goal):
    ds = load_dataset(ASSETS / f"{goal}.txt")
    assert 60 <= len(ds.train) + len(ds.heldout) <= 150
    assert len(ds.heldout) >= 20
    assert all(w in kv.key_to_index for w in ds.words)
    assert ds.title and ds.goal and ds.example
    assert tuple(ds.example.split()) not in {ex.words for ex in ds.train + ds.heldout}  # "in neither set"
    # held-out query and target words never occur in training: the held-out score measures generalisation
    train_words = {w for ex in ds.train for w in ex.words}
    for ex in ds.heldout:
        for q, t in ex.pairs:
            assert ex.words[q] not in train_words and ex.words[t] not in train_words, ex.words
            assert q != t


def test_batch_pads_and_flattens(kv):
    ds = parse_dataset(TINY)
    batch = make_batch(kv, ds.train)
    assert batch.x.shape == (2, 6, 50) and batch.keys.sum() == 10
    assert batch.target.tolist() == [1, 1] and batch.query.tolist() == [2, 5]
    assert batch.chance == pytest.approx((1 / 4 + 1 / 6) / 2)
    eye = torch.eye(50)
    assert attention_accuracy(batch, eye, eye) == 0.0  # with the identity each word looks at itself
    with pytest.raises(AttnvizInputError, match="zzqxv"):
        make_batch(kv, parse_dataset("[train]\nzzqxv man\tman>zzqxv\n[held-out]\na b\tb>a\n").train)


@pytest.fixture(scope="module")
def results(kv):
    return {goal: train_projections(load_dataset(ASSETS / f"{goal}.txt"), kv, TrainConfig()) for goal in GOALS}


@pytest.mark.parametrize("goal", GOALS)
def test_training_reaches_the_stated_accuracy_and_beats_both_baselines(results, goal):
    r = results[goal]
    assert r.heldout_acc >= EXPECTED[goal]
    assert r.train_acc >= 0.95
    assert r.heldout_acc > r.random_acc + 0.4 and r.heldout_acc > r.identity_acc + 0.4
    assert r.identity_acc <= 0.1  # identity sends a noun (or verb) to itself
    assert r.losses[-1] < 0.25 * r.losses[0]
    assert len(r.losses) == len(r.heldout_losses) == TrainConfig().steps
    assert r.m_q.shape == r.m_k.shape == (50, 50)
    p = r.projections()
    assert torch.equal(p.m_v, torch.eye(50)) and p.name == "trained here"


def test_training_is_deterministic_and_reports_every_step(kv):
    ds = load_dataset(ASSETS / "noun_adjective.txt")
    seen = []
    a = train_projections(ds, kv, TrainConfig(steps=12, seed=5), on_step=lambda *args: seen.append(args))
    b = train_projections(ds, kv, TrainConfig(steps=12, seed=5))
    assert torch.equal(a.m_q, b.m_q) and a.losses == b.losses
    assert [s for s, _, _ in seen] == list(range(1, 13))
    assert [loss for _, loss, _ in seen] == list(a.losses)


def test_an_interrupted_run_returns_nothing(kv):
    ds = load_dataset(ASSETS / "noun_adjective.txt")

    def stop(step, *_):
        if step == 3:
            raise KeyboardInterrupt  # what a page's rerun does, in spirit

    with pytest.raises(KeyboardInterrupt):
        train_projections(ds, kv, TrainConfig(steps=50), on_step=stop)


@pytest.mark.parametrize(
    "kwargs",
    [{"steps": 0}, {"steps": 5000}, {"steps": 2.5}, {"width": 0}, {"lr": 0}, {"seed": -1}, {"lr": float("nan")}],
)
def test_config_is_checked(kwargs):
    with pytest.raises(AttnvizInputError):
        TrainConfig(**kwargs)

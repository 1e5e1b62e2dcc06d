"""Lesson 3's training panel: the goal and settings, the Train button, a live loss curve and progress bar, results.

Training runs in the page's own script run, so that the progress bar and the loss curve update while it runs. A
finished run is kept in `cached.keep_trained` under its settings; a rerun that interrupts the loop (any click)
raises out of the progress callback, and nothing is kept.
"""

from __future__ import annotations

import time

import streamlit as st
from gensim.models import KeyedVectors

from app_support.data import cached, loaders
from app_support.kit import charts, sentence
from app_support.kit.widgets import linked
from attnviz import plots
from attnviz.training import Dataset, TrainConfig, TrainResult, train_projections

REPLAY_SECONDS = 4.0  # a stored run is replayed at its measured pace, but never slower than this in all


def _pause(seconds: float) -> None:
    """The replay's wait between two drawn steps (a function of its own, so that a test can record it)."""
    time.sleep(seconds)


def loss_chart(
    losses: list[float] | tuple[float, ...], held: list[float] | tuple[float, ...], steps: int
) -> plots.Figure:
    """Training and held-out loss against the step, on an x axis as long as the whole run."""
    x = list(range(1, len(losses) + 1))
    return plots.lines(
        [plots.Series("training sentences", x, losses), plots.Series("held-out sentences", x, held, dash="dash")],
        title="Loss: how unlikely the right word still is (lower is better)",
        x_title="step",
        y_title="cross-entropy",
        x_range=(0, steps),
        height=320,
    )


def training_panel(kv: KeyedVectors) -> TrainResult:
    """Draw the panel and return the run to show: this one's, or the learner's last finished one.

    Stops the page (``st.stop``) with a hint while there is no finished run yet.
    """
    sets = loaders.training_sets()
    with st.container(border=True):
        c1, c2, c3 = st.columns([2, 2, 1])
        goal = linked(c1.selectbox, "Goal", list(sets), format_func=lambda n: sets[n].title, key="proj_goal")
        steps = int(linked(c2.slider, "Training steps", 10, 600, 150, step=10, key="proj_steps"))
        train_seed = int(linked(c3.number_input, "Training seed", 0, 9999, 0, key="proj_train_seed"))
        data = sets[goal]
        st.markdown(
            f"**Goal:** {data.goal}. We learn $M_Q$ and $M_K$ (50 × 50 each; $M_V$ stays the identity) from "
            f"{len(data.train)} labelled sentences, then test on {len(data.heldout)} held-out sentences whose "
            "query and target words never occur in training. Training turns each row of Q·Kᵀ into probabilities "
            "with softmax (page 4) and raises the probability of the right word."
        )
        settings = (goal, train_seed, steps)
        result = cached.trained(*settings)
        watched: set = st.session_state.setdefault("proj_watched", set())  # settings this session saw train
        pressed = st.button("Train", key="proj_train", type="primary", icon=":material/model_training:")
        # "Train again" is drawn under a replayed curve; its click is read here, before the loop
        again = bool(st.session_state.get("proj_retrain")) and result is not None
        if pressed or again:
            result = _train_or_replay(data, kv, settings, result, again=again)
            watched.add(settings)
            st.session_state["proj_last"] = settings
        if result is not None and settings not in watched:
            result = None  # stored by another session: this student presses Train and watches it
        if result is None and "proj_last" in st.session_state:
            result = cached.trained(*st.session_state["proj_last"])
            if result is not None:
                last_goal, last_seed, last_steps = st.session_state["proj_last"]
                st.info(
                    f"Showing your last run ({sets[last_goal].title}, {last_steps} steps, seed {last_seed}). "
                    "Press Train for the new settings."
                )
        if result is None:
            st.info("Press **Train** and watch the loss fall, step by step.")
            st.stop()
        _show_result(result, sets)
    return result


def _train_or_replay(
    data: Dataset, kv: KeyedVectors, settings: tuple[str, int, int], result: TrainResult | None, *, again: bool
) -> TrainResult:
    """Train with ``settings`` (goal, seed, steps), drawing the progress bar and the live loss curve, or replay the
    stored ``result`` of these settings at its measured pace; the run shown."""
    _goal, train_seed, steps = settings
    bar, live = st.progress(0.0, text="Starting…"), st.empty()
    seen: tuple[list[float], list[float]] = ([], [])
    every = max(1, steps // 25)

    def on_step(step: int, loss: float, held: float) -> None:
        seen[0].append(loss)
        seen[1].append(held)
        if step % every == 0 or step == steps:
            bar.progress(step / steps, text=f"Step {step} of {steps} · training loss {loss:.3f}")
            charts.chart(loss_chart(*seen, steps), key=f"proj_live_{step}", name="training loss", where=live)

    if result is None or again:
        # a rerun (any click) stops the loop inside on_step; only a finished run is stored
        result = train_projections(data, kv, TrainConfig(steps=steps, seed=train_seed), on_step=on_step)
        cached.keep_trained(*settings, result)
        st.session_state.pop("proj_replayed", None)
    else:
        # this server already trained these settings (this student or another): replay its recorded
        # losses at the pace they were measured, at most REPLAY_SECONDS in all
        pause = min(result.seconds, REPLAY_SECONDS) / steps
        for step, (loss, held) in enumerate(zip(result.losses, result.heldout_losses, strict=True), 1):
            if step % every == 0:
                _pause(pause * every)
            on_step(step, loss, held)
        st.session_state["proj_replayed"] = settings
    bar.empty()
    live.empty()
    return result


def _show_result(result: TrainResult, sets: dict[str, Dataset]) -> None:
    """The finished run: its loss curve, the held-out accuracies against the baselines, and the buttons under it."""
    left, right = st.columns([3, 2])
    charts.chart(
        loss_chart(result.losses, result.heldout_losses, result.config.steps),
        key="proj_loss",
        name="training loss",
        where=left,
    )
    right.metric("Held-out: trained", f"{result.heldout_acc:.0%}")
    m1, m2, m3 = right.columns(3)
    m1.metric("identity", f"{result.identity_acc:.0%}")
    m2.metric("random start", f"{result.random_acc:.0%}")
    m3.metric("chance", f"{result.chance:.0%}")
    right.caption(
        "Share of held-out query words whose largest score goes to the right word; the identity column is page "
        f"2's S doing the same job. Training took {result.seconds:.1f} s on this server ({result.config.steps} "
        f"steps, seed {result.config.seed}); the training sentences reach {result.train_acc:.0%}."
    )
    if st.session_state.get("proj_replayed") == (result.dataset, result.config.seed, result.config.steps):
        left.caption(
            "Replayed: this server had already trained these exact settings (you earlier, or another student), "
            "and training is deterministic, so the curve above is that run's recorded losses, step by step. "
            "**Train again** recomputes it from scratch."
        )
        left.button(
            "Train again", key="proj_retrain", icon=":material/replay:",
            help="Recompute the run from scratch instead of showing the stored one.",
        )  # fmt: skip
    example = sets[result.dataset].example if result.dataset in sets else ""
    if example:
        sentence.try_button(
            f"Try it on “{example}”",
            example,
            key="proj_try",
            help="Puts this sentence, which is in neither labelled set, in the sidebar box (every lesson uses it).",
        )

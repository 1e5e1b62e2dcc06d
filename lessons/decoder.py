"""Page 7: inside a real decoder LLM (SmolLM2-135M-Instruct) on the learner's text: the next word, causal attention,
attention sinks, grouped-query heads and the KV cache, rotary positions. Compute: attnviz.decoder."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import decoder_cached, loaders
from app_support.kit import charts, sentence, steps
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import EDIT, linked, warn
from attnviz import plots
from attnviz.decoder.gqa import groups
from attnviz.decoder.lesson import grown_map
from attnviz.decoder.sinks import PAPER_SINKS, even_first_share
from attnviz.decoder.tokens import MAX_TOKENS, encode
from attnviz.decoder.views import model_cache_size
from attnviz.labels import unique_labels
from attnviz.plots.lines import Series, lines

WINDOWS = (4, 8, 16, 32, 64, 128)  # the sink experiment's window sizes, tokens each query sees


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1024**2 else f"{n / 1024**2:,.2f} MiB"


st.title("7 · Inside a decoder LLM")
model = loaders.decoder()
c = model.config
L, H, HKV = c.n_layers, c.n_heads, c.n_kv_heads
quant = ", ".join(  # Q4_1: 4-bit codes with a scale and a minimum per block of 32; Q8_0: 8-bit; F32: the norms
    f"{q.name} {q.parameters / model.n_parameters:.{0 if q.parameters / model.n_parameters >= 0.01 else 2}%}"
    for q in model.quantisation if q.parameters
)  # fmt: skip
st.markdown(
    f"The chatbots you know are built on **decoder**-only transformers: each token sees only the text to its left, "
    f"and the model predicts the next token. Here is a real one, bundled with the course: **SmolLM2-135M-Instruct** "
    f"(HuggingFaceTB, Apache-2.0), {model.n_parameters / 1e6:.1f} million weights in {L} layers of {H} query heads, "
    f"run by our own code. Most of its weights are stored in 4 bits (Q4_1), the token embedding, which is also its "
    f"output layer, in 8 bits (Q8_0), the norms in 32 (F32): {quant} of the weights. We unpack them all to 32-bit "
    f"floats to compute. A 4-bit copy can answer differently from the original 16-bit model (not measured here). "
    f"It reads at most **{MAX_TOKENS} tokens** of your text."
)
text = sentence.current()
tokens = encode(model, text)
for note in tokens.notes:
    warn(note)
if tokens.is_empty:
    st.warning("The sentence box is empty. Type a sentence in the sidebar, or pick a ready one.", icon=EDIT)
    st.stop()
view = decoder_cached.text_view(model, text)
T = len(view.tokens)
labels = list(view.labels)

# --- a. the next word --------------------------------------------------------------------------------------------
steps.step("The next word")
st.code(" | ".join(view.tokens.labels), language=None, wrap_lines=True)
st.caption(
    f"Your text as the model reads it: {T} tokens (it reads at most {MAX_TOKENS})"
    + (f", up to character {view.tokens.stop_char:,}" if view.tokens.truncated else "")
    + ". A token is a common word, a piece of one or a few bytes; in English a word usually carries the space "
    "before it (' walked')."
)
top = view.top
charts.chart(
    plots.bars(
        [repr(s) for s in top.labels], np.array(top.probabilities), horizontal=True, value_name="probability",
        title="The likeliest next tokens after your text", height=320,
    ),
    key="dec_top",
    name="next tokens",
    csv=(np.array(top.probabilities)[:, None], [repr(s) for s in top.labels], ["probability"]),
)  # fmt: skip
st.caption(
    f"The model gives every one of its {c.vocab_size:,} tokens a probability (softmax of the logits: the output "
    f"layer's {c.vocab_size:,} scores at your last token). "
    f"These {len(top.labels)} together hold {sum(top.probabilities):.0%}."
)
g1, g2, g3 = st.columns(3)
n_new = int(linked(g1.slider, "Tokens to generate", 1, 16, 8, key="dec_new"))
temp = float(linked(g2.slider, "Temperature (0: the likeliest each time)", 0.0, 2.0, 0.0, 0.1, key="dec_temp"))
seed = int(linked(g3.number_input, "Seed", 0, 9999, 0, key="dec_seed", help="Same seed, same sampled text."))
gen = decoder_cached.generated(model, text, n_new, round(temp, 2), seed)
st.markdown("**What the model writes next** (shown as plain text, exactly as generated):")
st.code(gen.text or "(nothing)", language=None, wrap_lines=True)
st.caption(
    ("Greedy: each step takes the likeliest token. " if temp == 0 else
     f"Sampled from softmax(logits ÷ {temp:g}) with seed {seed}. ")
    + (f"It stopped after {len(gen.steps)} tokens: the model produced an end token. " if gen.stopped_at_end else
       f"It wrote the {len(gen.steps)} tokens asked for. ")
    + f"A {model.n_parameters / 1e6:.0f}-million-weight instruct model continuing your raw text, without its chat "
    "template: it is not answering you, and what it writes is not a fact."
)  # fmt: skip
s1, s2, s3 = st.columns(3)
layer = int(linked(s1.selectbox, "Layer", list(range(1, L + 1)), key="dec_layer")) - 1
head = int(linked(s2.selectbox, "Head", list(range(1, H + 1)), key="dec_head")) - 1
shown = int(linked(s3.slider, "Generated steps shown", 0, len(gen.steps), len(gen.steps), key="dec_shown"))
rows = [s.row[layer, head] for s in gen.steps[:shown]]
grown = grown_map(view.weights[layer, head], rows)
names = list(unique_labels([*view.tokens.labels, *(s.label for s in gen.steps[:shown])]))
left, right = st.columns([3, 1])
charts.chart(
    plots.heatmap(
        grown, names, names, title=f"Layer {layer + 1} · head {head + 1}: your text and {shown} generated tokens",
        row_title="looks (query)", col_title="looked at (key)", value_name="weight", diverging=False,
        zrange=(0.0, 1.0), highlight_rows=list(range(T, T + shown)), narrow=True,
    ),
    key="dec_grown", name="attention while generating", where=left, csv=(grown, names, names),
)  # fmt: skip
cache = model_cache_size(model)
cached_tokens = T + shown
held = gen.steps[shown - 1].cache_bytes if shown else cache.total(T)  # the pass's own cache after the last step shown
right.metric(f"KV cache after {cached_tokens} tokens", kib(held))
right.caption(
    f"Each generated token adds one row: it looks at every token before it and itself, never ahead. Its keys and "
    f"values are kept in the cache, so the next step reads only the new token through the {L} layers, not all "
    f"{cached_tokens + 1} again: "
    f"{kib(cache.per_token)} per token (2 × {L} layers × {HKV} key/value heads × {c.head_dim} numbers × 4 bytes)."
)
if shown:
    last = gen.steps[shown - 1]
    likeliest = zip(last.top.labels, last.top.probabilities, strict=True)
    st.caption(
        f"Step {shown} chose {md_escape(repr(last.label))} (the model's probability at temperature 1: "
        f"{last.probability:.0%}); the likeliest were "
        + ", ".join(f"{md_escape(repr(lab))} {p:.0%}" for lab, p in likeliest)
        + "."
    )

# --- b. causal attention, all heads, the first token ------------------------------------------------------------
steps.step(f"Causal attention in all {L * H} heads")
share = float(np.nanmean(view.first_share)) if T > 1 else float("nan")
answered = predict_first(
    "dec_predict",
    "Every row of a decoder's map can see the first token. On average over all heads and rows, how much of a row's "
    "weight do you expect the very first token of your text to get?",
    ["little (under 10%)", "some (10% to 50%)", "most (over 50%)"],
    correct=None if T < 2 else (0 if share < 0.1 else (1 if share < 0.5 else 2)),
    explain=(
        f"On your text the first token gets on average {share:.0%} of a row's weight (mean over the {L * H} heads "
        f"and rows 2 to {T}). A head that spread each row evenly would give it {even_first_share(T):.0%}: row i "
        "has only i tokens to share among." if T > 1 else "Your text has one token: there is no later row to measure."
    ),
)  # fmt: skip
charts.chart(
    plots.heatmap_mosaic(
        view.thumbs, view.thumb_labels, row_headers=[f"layer {i + 1}" for i in range(L)],
        col_headers=[f"head {j + 1}" for j in range(H)], highlight=(layer, head),
    ),
    key="dec_grid", name="all heads",
    csv=(view.thumbs.reshape(-1, view.thumbs.shape[-1]),
         [f"layer {i + 1} · head {j + 1} · {w}" for i in range(L) for j in range(H) for w in view.thumb_labels],
         list(view.thumb_labels)),
)  # fmt: skip
G = view.thumbs.shape[-1]
st.caption(
    f"One small map per head, {L} layers down, {H} heads across: rows look, columns are looked at. The framed one "
    f"is layer {layer + 1} · head {head + 1}, chosen above."
    + (
        f" Your {T} tokens are pooled into {G} blocks (rows averaged, columns summed, so each row still adds to 1)."
        if G < T
        else ""
    )
)
charts.chart(
    plots.heatmap(
        view.weights[layer, head], labels, labels, title=f"Layer {layer + 1} · head {head + 1} on your text",
        row_title="looks (query)", col_title="looked at (key)", value_name="weight", diverging=False,
        zrange=(0.0, 1.0), narrow=True,
    ),
    key="dec_large", name=f"layer {layer + 1} head {head + 1}",
    csv=(view.weights[layer, head], labels, labels),
)  # fmt: skip
st.caption(
    f"Above the diagonal, over all {L * H} heads, the largest weight is {view.upper_max:g}: "
    + ("exactly zero. " if view.upper_max == 0 else "not zero! ")
    + "The causal mask sets every score of a later token to −∞ before the softmax, and e^−∞ = 0: a token never "
    "sees the text after it, which is what lets the model be trained to predict it."
)
if answered and T > 1:
    charts.chart(
        plots.heatmap(
            view.first_share, [f"layer {i + 1}" for i in range(L)], [f"head {j + 1}" for j in range(H)],
            title=f"Each head's share of weight on the first token (mean over rows 2 to {T})", value_name="share",
            diverging=False,
            zrange=(0.0, 1.0), cell_text=False,
        ),
        key="dec_first", name="weight on the first token",
        csv=(view.first_share, [f"layer {i + 1}" for i in range(L)], [f"head {j + 1}" for j in range(H)]),
    )  # fmt: skip
    by_layer = np.nanmean(view.first_share, axis=1)  # (L,)
    over = int((view.first_share > 0.5).sum())
    st.caption(
        f"Mean over rows 2 to {T} of the weight on token 1. Layers 1 and 2 give it {by_layer[0]:.0%} and "
        f"{by_layer[1]:.0%} on average; from layer 3 on, {float(np.nanmean(by_layer[2:])):.0%}. {over} of the "
        f"{L * H} heads give it over half of a row's weight on average; an even spread would give "
        f"{even_first_share(T):.0%}. This model adds no start token: token 1 is your first word, and a large "
        "weight on it says where a head parks weight, not that the word matters. Xiao et al. (2023, Section 3.1, "
        "Figure 2) found that in "
        "Llama-2-7B, beyond the bottom two layers, the heads attend heavily to the initial token, and called such "
        "tokens **attention sinks**: softmax makes each row's weights add up to 1, and they propose that a token "
        "every later row can see collects the weight a head does not need."
    )

steps.step("Attention sinks: a sliding window with and without the first tokens")
st.markdown(
    "A model that keeps only the last few tokens' keys and values (a sliding window) could run on forever with a "
    "fixed cache. StreamingLLM (Xiao et al., 2023, Section 3.1, Table 1; Section 3.2) reports that a window alone "
    f"fails once the first tokens leave it, and that keeping the first {PAPER_SINKS} tokens restores the "
    "perplexity (e to the mean next-token loss: lower is better). In the paper's Table 1 the first tokens take the "
    f"place of recent ones in a cache of the same size ({PAPER_SINKS} + 1020 against 0 + 1024); here they are kept "
    f"beside the window, so the third bar sees {PAPER_SINKS} more tokens than the second. Measured here on your text:"
)
window = int(
    linked(st.select_slider, "Window (the last tokens each position sees)", list(WINDOWS), 16, key="dec_window")
)
if window >= T - 1:
    st.info(
        f"Your text has {T} tokens: a window of {window} drops nothing, so all three would be the same. The "
        f"experiment needs a text longer than the window, more than {window + 1} tokens: pick a smaller window or a "
        "paragraph from the sidebar's ready texts.",
        icon=EDIT,
    )
elif not linked(
    st.toggle, "Measure it (three passes of the model over your text)", key="dec_sinks_run",
    help="Full attention, the window alone, the window with the first tokens: a few seconds or more, depending "
    "on the server.",
):  # fmt: skip
    st.caption("Turn on the measurement above to compare the three on your text.")
else:
    exp = decoder_cached.sinks(model, text, window)
    ppl = [cur.perplexity_from(window) for cur in exp.curves]
    names3 = ["full attention", f"window of {window}", f"window of {window} + first {PAPER_SINKS}"]
    charts.chart(
        plots.bars(names3, np.array(ppl), value_name="perplexity", decimals=2, height=260,
                   title=f"Perplexity predicting tokens {window + 2} to {T}, once the window has left token 1"),
        key="dec_sinks", name="sink experiment", csv=(np.array(ppl)[:, None], names3, ["perplexity"]),
    )  # fmt: skip
    x = np.arange(1, T)
    charts.chart(
        lines([Series(n, x, cur.losses.cpu().numpy()) for n, cur in zip(names3, exp.curves, strict=True)],
              title="Next-token loss at each position", x_title="position predicted from", y_title="loss (nats)",
              height=300),
        key="dec_sink_losses", name="next-token loss",
    )  # fmt: skip
    helped = abs(ppl[2] - ppl[0]) < abs(ppl[1] - ppl[0])
    st.caption(
        f"Full {ppl[0]:.2f}, window alone {ppl[1]:.2f}, window + first {PAPER_SINKS} tokens {ppl[2]:.2f}: on your "
        + ("text the first tokens bring the window closer to full attention, as the paper reports. " if helped else
           "text keeping the first tokens does not bring the window closer to full attention. ")
        + f"As in StreamingLLM, the kept tokens are given positions inside the cache ({PAPER_SINKS} + {window}), not "
        "in the text. One text and one short window: a measurement, not a benchmark."
    )  # fmt: skip

# --- c. grouped-query heads and the cache ------------------------------------------------------------------------
steps.step("Grouped-query heads and the KV cache")
groups_ = groups(H, HKV)
member = np.array([[1.0 if h in grp else 0.0 for h in range(H)] for grp in groups_])  # (HKV, H)
charts.chart(
    plots.heatmap(
        member, [f"key/value head {g + 1}" for g in range(HKV)], [f"query head {h + 1}" for h in range(H)],
        title="Which key/value head each query head reads", value_name="reads it", diverging=False,
        cell_text=True, decimals=0, height=220,
    ),
    key="dec_gqa", name="grouped-query heads",
    csv=(member, [f"key/value head {g + 1}" for g in range(HKV)], [f"query head {h + 1}" for h in range(H)]),
)  # fmt: skip
st.caption(
    "; ".join(f"key/value head {g + 1} serves query heads {', '.join(str(h + 1) for h in grp)}"
              for g, grp in enumerate(groups_))
    + f" (read from the file: {H} query heads, {HKV} key/value heads). Grouped-query attention (Ainslie et al., "
    "2023, Section 2.2) divides the query heads into groups that each share one key head and one value head: "
    "each query head still has its own map, but the cache holds only one key and value per group, per layer, per "
    "token."
)  # fmt: skip
per = [cache.per_token, cache.per_token_separate]
st.dataframe(
    pd.DataFrame(
        {"per token": [kib(p) for p in per], f"your {T} tokens": [kib(p * T) for p in per],
         f"{c.max_positions:,} tokens (its full context; this page reads {MAX_TOKENS})":
            [kib(p * c.max_positions) for p in per]},
        index=[f"this model: {HKV} key/value heads", f"{H} separate key/value heads"],
    )
)  # fmt: skip
st.caption(
    f"The KV cache in float32, as our code keeps it: 2 × {L} layers × heads × {c.head_dim} × 4 bytes per token. "
    f"Sharing makes it {cache.saving:.0%} of the size, a factor of {1 / cache.saving:g}."
)

# --- d. rotary positions -----------------------------------------------------------------------------------------
steps.step("Rotary positions: a query–key score sees only the distance")
if view.shift is None:
    st.info("The check needs two tokens: type a longer text.", icon=EDIT)
else:
    sc = view.shift
    st.markdown(
        "There is no position vector in this model. Instead, inside every layer, RoPE (Su et al., RoFormer, 2021, "
        "Section 3.2) turns each pair of a query's and a key's dimensions by an angle proportional to the token's "
        f"position, each pair at its own rate θᵢ = {c.rope_base:,.0f}^(−2i/{c.head_dim}) radians per position, so "
        "the score q·k depends on the two positions only through their difference. Measured on layer 1, "
        f"head 1: the query of your last token and the key of your first, at positions {sc.pos_q} and {sc.pos_k} "
        "(RoPE counts from 0)."
    )
    st.dataframe(
        pd.DataFrame(
            {"both moved by": list(sc.shifts), "score q·k (before ÷√d)": [f"{v:.6f}" for v in sc.scores],
             "only the key moved": [f"{v:.6f}" for v in sc.unmoved_q] + [""] * (len(sc.scores) - len(sc.unmoved_q))}
        ),
        hide_index=True,
    )  # fmt: skip
    st.caption(
        f"Moving both by up to {max(sc.shifts):,} positions changes the score by at most {sc.max_difference:.1e}: "
        "float rounding. Moving the key alone changes the distance, and the score with it. (MiniLM, on pages 5b "
        "and 5c, adds a learned position vector to each token before its first layer instead.)"
    )

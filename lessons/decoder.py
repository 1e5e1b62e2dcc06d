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
from app_support.parts.decoder_claim import claim_section
from app_support.parts.decoder_swap import swap_section
from app_support.parts.decoder_timing import timed_generation
from attnviz import plots
from attnviz.decoder.gqa import cache_size, groups, membership
from attnviz.decoder.lesson import Stored, grown_map, storage
from attnviz.decoder.rope import frequencies
from attnviz.decoder.sinks import PAPER_SINKS, even_first_share
from attnviz.decoder.tokens import MAX_TOKENS, encode
from attnviz.decoder.views import model_cache_size
from attnviz.host import to_host
from attnviz.labels import unique_labels
from attnviz.plots.lines import Series, lines

# the sink experiment's window sizes, tokens each query sees: at least PAPER_SINKS + 4, so that the paper's equal
# cache (the first 4 and the last W − 4) keeps some recent tokens
WINDOWS = (8, 16, 32, 64, 128)


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1024**2 else f"{n / 1024**2:,.2f} MiB"


def pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 else f"{x:.2%}"


def sci(x: float) -> str:
    """1.4·10⁻⁵ for 1.43e-05."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}·10{str(int(exponent)).translate(str.maketrans('-0123456789', '⁻⁰¹²³⁴⁵⁶⁷⁸⁹'))}"


def stored_in(s: Stored) -> str:
    if s.code_bits and s.code_bits < 32:
        return f"{s.code_bits} bits ({s.kind.name}: {s.format}; {s.kind.bits_per_weight:.1f} bits a weight in all)"
    return s.format or s.kind.name


st.title("7 · Inside a decoder LLM")
model = loaders.decoder()
c = model.config
L, H, HKV = c.n_layers, c.n_heads, c.n_kv_heads
stored = storage(model)  # most weights first
main = stored[0]
mostly = f"mostly {main.code_bits}-bit" if main.share > 0.5 and main.code_bits else "compressed"
kinds = f"{'Most' if main.share > 0.5 else 'Some'} of its weights ({pct(main.share)}: {' and '.join(main.parts)}) "
kinds += f"are stored in {stored_in(main)}" + "".join(
    f"; {' and '.join(s.parts)} ({pct(s.share)}), in {stored_in(s)}" for s in stored[1:]
)
st.markdown(
    "The chatbots you know are built on **decoder-only transformers**: each token sees only the text to its left, "
    f"and the model predicts the next token. Here is a real one, bundled with the course: **SmolLM2-135M-Instruct** "
    f"(HuggingFaceTB, Apache-2.0), {model.n_parameters / 1e6:.1f} million weights in {L} layers of {H} query heads, "
    f"run by our own code. {kinds}. We unpack them all to 32-bit floats to compute. A copy in so few "
    "bits does not compute exactly what the original 16-bit model does (how much its answers differ is not measured "
    f"here). It reads at most **{MAX_TOKENS} tokens** of your text."
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
    f"The model gives every one of its {c.vocab_size:,} tokens a probability: the softmax of the logits, the output "
    f"layer's {c.vocab_size:,} scores at your last token. "
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
    f"A {model.n_parameters / 1e6:.0f}-million-weight instruct model with {mostly} weights, continuing your raw text "
    "without its chat template: it is not answering you, and what it writes is not a fact. "
    + ("Greedy: each step takes the likeliest token. " if temp == 0 else
       f"Sampled from softmax(logits ÷ {temp:g}) with seed {seed}. ")
    + (f"It stopped after {len(gen.steps)} tokens: the model produced an end token." if gen.stopped_at_end else
       f"It wrote the {len(gen.steps)} tokens asked for.")
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
right.metric(f"KV cache after {cached_tokens} tokens", kib(held))  # no delta: st.metric draws one as a green ↑
right.caption(
    f"Each generated token adds one row: it looks at every token before it and itself, never ahead. Its keys and "
    f"values are kept in the cache, so the next step reads only the new token through the {L} layers, not all "
    f"{cached_tokens + 1} again: {kib(cache.per_token)} per token (2 × {L} layers × {HKV} key/value heads × "
    f"{c.head_dim} numbers × 4 bytes)."
)
if shown:
    last = gen.steps[shown - 1]
    likeliest = zip(last.top.labels, last.top.probabilities, strict=True)
    st.caption(
        f"Step {shown} chose {md_escape(repr(last.label))} (the model's probability at temperature 1: "
        f"{last.probability:.0%}); the likeliest at temperature 1 were "
        + ", ".join(f"{md_escape(repr(lab))} {p:.0%}" for lab, p in likeliest)
        + "."
    )

# --- b. causal attention, all heads, the first token ------------------------------------------------------------
steps.step(f"Causal attention in all {L * H} heads")
share = float(np.nanmean(view.first_share)) if T > 1 else float("nan")
even = (
    even_first_share(T) if T > 1 else float("nan")
)  # what a head spreading each row evenly would give token 1: (1/(T−1))·Σ_{i=2..T} 1/i
answered = predict_first(
    "dec_predict",
    "Every row of a decoder's map can see the first token. On average over all heads and rows, how much of a row's "
    "weight do you expect the very first token of your text to get?",
    ["little (under 10%)", "some (10% to 50%)", "most (over 50%)"],
    correct=None if T < 2 else (0 if share < 0.1 else (1 if share < 0.5 else 2)),
    explain=(
        f"On your text the first token gets on average {share:.0%} of a row's weight (mean over the {L * H} heads "
        f"and rows 2 to {T}). A head that spread each row evenly would give it {even:.0%}: row i sees only i tokens."
        if T > 1 else "Your text has one token: there is no later row to measure."
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
    # Xiao et al. 2023, Section 3.1, Figure 2 (Llama-2-7B, beyond the bottom two layers); Table 1: four "\n" as the
    # first tokens give perplexity 5.60 against 5.40 for the text's own four (Llama-2-13B, 4 + 1020)
    st.caption(
        f"Mean over rows 2 to {T} of the weight on token 1. Layers 1 and 2 give it {by_layer[0]:.0%} and "
        f"{by_layer[1]:.0%} on average; from layer 3 on, {float(np.nanmean(by_layer[2:])):.0%}. A head that spread "
        f"each row evenly would give it {even:.0%}. {over} of the {L * H} heads give it over half of a row's weight "
        "on average. Xiao et al. (2023, Section 3.1, Figure 2) found that in "
        "Llama-2-7B, beyond the bottom two layers, the heads attend heavily to the initial token, and called such "
        "tokens **attention sinks**: softmax makes each row's weights add up to 1, and they propose that a token "
        "every later row can see collects the weight a head does not need."
    )
    st.caption(
        f"This model adds no start token: token 1 is the first piece of your own text, "
        f"{md_escape(repr(view.tokens.labels[0]))}. A large weight on it says where a head parks weight, not that "
        "the piece matters: in the paper's Table 1, four line breaks in place of the first four tokens work almost "
        "as well (perplexity 5.60 against 5.40)."
    )

steps.step("Attention sinks: a sliding window with and without the first tokens")
K = PAPER_SINKS
# StreamingLLM (Xiao et al., 2023): Section 3.1, Table 1 (Llama-2-13B on PG19: 0 + 1024 → 5158.07, 4 + 1020 → 5.40),
# one cache size for both; their code keeps start_size + recent_size as one fixed cache
st.markdown(
    "A model that keeps only the last few tokens' keys and values (a sliding window) could run on forever with a "
    "fixed cache. StreamingLLM (Xiao et al., 2023, Section 3.1, Table 1) reports that a window alone fails once the "
    f"first tokens leave it, and that keeping the first {K} tokens restores the perplexity (e to the mean next-token "
    f"loss: lower is better). In the paper the {K} first tokens take the place of {K} recent ones ({K} + 1020 against "
    f"0 + 1024): the cache keeps its size. Measured here on your text, beside a window that keeps the first {K} on "
    f"top of its own tokens, so that it sees {K} more:"
)
window = int(
    linked(st.select_slider, "Window (the last tokens each position sees)", list(WINDOWS), 16, key="dec_window")
)
if window >= T - 1:
    st.info(
        f"Your text has {T} tokens: a window of {window} drops nothing, so all four would be the same. The "
        f"experiment needs a text longer than the window, more than {window + 1} tokens: pick a smaller window or a "
        "paragraph from the sidebar's ready texts.",
        icon=EDIT,
    )
elif not linked(
    st.toggle, "Measure it (four passes of the model over your text)", key="dec_sinks_run",
    help="Full attention, the window alone, the paper's equal cache, the window with the first tokens besides: a few "
    "seconds or more, depending on the server.",
):  # fmt: skip
    st.caption("Turn on the measurement above to compare the four on your text.")
else:
    exp = decoder_cached.sinks(model, text, window)
    ppl = {cur.name: cur.perplexity_from(window) for cur in exp.curves}
    full, alone, wide = (ppl[cur.name] for cur in (exp.full, exp.window_only, exp.with_sinks))
    names = {
        exp.full.name: "full attention",
        exp.window_only.name: f"window of {window} alone",
        exp.with_sinks.name: f"window of {window} + first {K} (sees {window + K})",
    }
    if exp.equal_cache is not None:
        names[exp.equal_cache.name] = f"first {K} + last {window - K} (sees {window}: the paper's)"
    shown_names = [names[cur.name] for cur in exp.curves]
    values = np.array([ppl[cur.name] for cur in exp.curves])
    charts.chart(
        plots.bars(shown_names, values, value_name="perplexity", decimals=2, height=300,
                   title=f"Perplexity predicting tokens {window + 2} to {T}, once the window has left token 1"),
        key="dec_sinks", name="sink experiment", csv=(values[:, None], shown_names, ["perplexity"]),
    )  # fmt: skip
    x = np.arange(1, T)
    charts.chart(
        lines([Series(names[cur.name], x, to_host(cur.losses)) for cur in exp.curves],
              title="Next-token loss at each position", x_title="position predicted from", y_title="loss (nats)",
              height=300),
        key="dec_sink_losses", name="next-token loss",
    )  # fmt: skip
    said = f"Full {full:.2f}, window of {window} alone {alone:.2f}"
    if exp.equal_cache is not None:
        equal = ppl[exp.equal_cache.name]
        helped = abs(equal - full) < abs(alone - full)
        said += (
            f", first {K} + last {window - K} {equal:.2f}: with the same cache of {window} tokens, keeping the first "
            + (f"{K} brings the perplexity closer to full attention's, as the paper reports. " if helped else
               f"{K} does not bring the perplexity closer to full attention's on your text. ")
        )  # fmt: skip
    else:
        said += ". "
    st.caption(
        said + f"The window of {window} + first {K} ({wide:.2f}) sees {K} more tokens than the window alone. As in "
        "StreamingLLM, the kept tokens are given positions inside the cache, not in the text. One text and one "
        "short window: a measurement, not a benchmark."
    )

# --- c. grouped-query heads and the cache ------------------------------------------------------------------------
steps.step("Grouped-query heads and the KV cache")
groups_ = groups(H, HKV)
member = membership(H, HKV)  # (HKV, H)
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
    "each query head still has its own map, but the cache holds only one key and one value per group, per layer, "
    "per token."
)  # fmt: skip
# multi-head attention: one key/value head per query head; multi-query (Shazeer, 2019): one for all
per = [cache.per_token_separate, cache.per_token, cache_size(L, H, 1, c.head_dim).per_token]
st.dataframe(
    pd.DataFrame(
        {"per token": [kib(p) for p in per], f"your {T} tokens": [kib(p * T) for p in per],
         f"{c.max_positions:,} tokens (its full context; this page reads {MAX_TOKENS})":
             [kib(p * c.max_positions) for p in per]},
        index=[f"MHA: {H} key/value heads", f"GQA, this model: {HKV} key/value heads", "MQA: 1 key/value head"],
    )
)  # fmt: skip
st.caption(
    f"The KV cache in float32, as our code keeps it: 2 × {L} layers × heads × {c.head_dim} × 4 bytes per token. "
    f"Sharing (GQA) makes it {cache.saving:.0%} of MHA's size, a factor of {1 / cache.saving:g}."
)
timed_generation(model, text)

# --- d. rotary positions -----------------------------------------------------------------------------------------
steps.step("Rotary positions: a query–key score sees only the distance")
if view.shift is None:
    st.info("The check needs two tokens: type a longer text.", icon=EDIT)
else:
    sc = view.shift
    theta = frequencies(c.head_dim, c.rope_base)  # (Dh/2,) θ_i = base^(−2i/Dh)
    # Su et al. 2021 (RoFormer): Section 3.2 (θ_i = 10000^(−2(i−1)/d) in the paper; this model's base is read from the
    # file), Section 3.4 (the derivation: the score depends on m − n only)
    st.markdown(
        "There is no position vector in this model. Instead, inside every layer, RoPE (Su et al., RoFormer, 2021, "
        "Section 3.2) turns each pair of a query's and a key's dimensions by an angle proportional to the token's "
        f"position, each pair at its own rate θᵢ = {c.rope_base:,.0f}^(−2i/{c.head_dim}): from "
        f"{float(theta[0]):g} radian per position for the first pair to about {sci(float(theta[-1]))} for the last. "
        "So the score q·k depends on the two positions only through their difference. Measured on layer 1, "
        f"head 1: the query of your last token and the key of your first, at positions {sc.pos_q} and {sc.pos_k} "
        "(RoPE counts from 0)."
    )
    st.dataframe(
        pd.DataFrame(
            {"both moved by": list(sc.shifts), "score q·k (before ÷ √d)": [f"{v:.6f}" for v in sc.scores],
             "only the key moved": [f"{v:.6f}" for v in sc.unmoved_q] + [""] * (len(sc.scores) - len(sc.unmoved_q))}
        ),
        hide_index=True,
    )  # fmt: skip
    st.caption(
        f"The score q·k is shown before the model divides it by √{c.head_dim} = {c.head_dim**0.5:g}. "
        f"Moving both by up to {max(sc.shifts):,} positions changes the score by at most {sc.max_difference:.1e}: "
        "float rounding. Moving the key alone changes the distance, and the score with it. (MiniLM, on pages 5b "
        "and 5c, adds a learned position vector to each token before its first layer instead.)"
    )

# --- e. the article's claim --------------------------------------------------------------------------------------
steps.step("The article's claim, on a decoder")
claim_section(model, text, L * H)

# --- f. lesson 6's variants in every layer ---------------------------------------------------------------------------
steps.step("Efficient attention in a decoder")
swap_section(model, text)

"""What the efficient-attention pages say about each variant: titles, papers, formulas, the knobs' labels, the table.

The variants themselves, their knobs' values and what they compute are in `attnviz.efficient.REGISTRY`; this is
the text beside them, by the same names. A page's URL keeps a knob as ``<page prefix>_<knob name>`` (``l6_tile``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from attnviz.efficient import REGISTRY, Knob, VariantSpec


@dataclass(frozen=True)
class KnobText:
    """What the learner reads beside one knob."""

    label: str
    help: str


@dataclass(frozen=True)
class VariantText:
    """What the pages say about one variant."""

    title: str
    paper: str
    knobs: Mapping[str, KnobText]  # by the knob's name in the variant's record
    formula: str  # LaTeX
    time: str  # time complexity
    memory: str  # extra memory beyond Q, K, V and the output
    keeps_exact: str  # what it keeps exact (closing table)
    costs: str  # what it gives up
    choose_when: str  # when to choose it


INFO: Mapping[str, VariantText] = {
    "flash": VariantText(
        title="FlashAttention",
        paper="Dao et al., 2022, in the loop order of FlashAttention-2 (Dao, 2023)",
        knobs={
            "tile": KnobText(
                label="Tile size (query rows = keys per tile)",
                help="Bigger tiles: fewer steps, more fast memory per step. The result never changes.",
            ),
        },
        formula=(
            r"\begin{aligned} m' &= \max\big(m,\ \max_j s_j\big) \\ \ell' &= \ell\,e^{m-m'} + \textstyle\sum_j "
            r"e^{s_j-m'} \\ \mathrm{acc}' &= \mathrm{acc}\,e^{m-m'} + \textstyle\sum_j e^{s_j-m'}\,v_j \\ O &= "
            r"\mathrm{acc}/\ell \quad \text{after the last tile} \end{aligned}"
        ),
        time="O(T²·D), the same as exact",
        memory="O(T) in total: a running max and sum per query row, plus one tile; never the T×S matrix",
        keeps_exact="everything: it is exact attention",
        costs="nothing but a more complex kernel",
        choose_when="always, when a kernel exists: it is the default of modern frameworks",
    ),
    "linformer": VariantText(
        title="Linformer",
        paper="Wang et al., 2020",
        knobs={
            "rank": KnobText(
                label="Rank k (projected keys)",
                help="How many mixes of the keys and values replace them.",
            ),
            "proj": KnobText(
                label="Projection",
                # what the reference code initialises E and F with (checked in the code, 2026-12):
                # fairseq examples/linformer, MultiheadLinearAttention.reset_parameters: xavier_uniform_(gain=1/√2);
                # lucidrains/linformer, LinformerSelfAttention: init_ on (seq_len, k), uniform within ±1/√k
                help=(
                    "pool: each projected key and value is the mean of one of k stretches of the sentence. "
                    "gaussian: random mixes with N(0, 1/T) entries, never trained. Reference code starts training "
                    "from other random draws: fairseq's Linformer from Xavier-uniform E and F (gain 1/√2), "
                    "lucidrains' linformer from entries uniform within ±1/√k."
                ),
            ),
        },
        formula=(
            r"O = \mathrm{softmax}\!\left(\frac{Q\,(E K)^\top}{\sqrt{d}}\right)(F V),\quad E, F \in "
            r"\mathbb{R}^{k\times T}"
        ),
        time="O(T·k·D)",
        memory="O(T·k)",
        keeps_exact="nothing exactly; the matrix is forced to rank ≤ k",
        costs="fixed length (E and F are T wide), no causal mask, and E, F must be learned",
        choose_when="long inputs of one fixed length in an encoder, when a trained model is available",
    ),
    "performer": VariantText(
        title="Performer (FAVOR+)",
        paper="Choromanski et al., 2021",
        knobs={
            "features": KnobText(
                label="Random features m",
                help="More features: a less noisy estimate of exp(q·k/√d), linearly more work.",
            ),
        },
        formula=(
            r"\begin{aligned} e^{q\cdot k/\sqrt d} &\approx \varphi(q)\cdot\varphi(k) \\ \varphi(x)_i &= "
            r"\tfrac{1}{\sqrt m}\, e^{\,\omega_i\cdot x/d^{1/4} \,-\, \|x\|^2/(2\sqrt d)},\quad \omega_i \sim \mathcal "
            r"N(0, I_d),\ i = 1, \dots, m \\ O_t &= \frac{\varphi(q_t)\cdot\big(\sum_s \varphi(k_s)\, "
            r"v_s^\top\big)}{\varphi(q_t)\cdot\sum_s \varphi(k_s)} \end{aligned}"
        ),
        time="O(T·m·D)",
        memory="O(T·m)",
        keeps_exact=(
            "nothing exactly; each kernel value e^(q·k/√d) is estimated without bias, each weight (a ratio of two "
            "estimates) only nearly"
        ),
        # Choromanski et al. (2021), Lemma 2: MSE of the positive features = (1/m)·exp(‖x+y‖²)·SM²(x, y)·(1 −
        # exp(−‖x+y‖²)), x = q/d^¼, y = k/d^¼: the error relative to the kernel value SM grows like e^(‖q+k‖²/(2√d))
        costs=(
            "a random error, relative to the kernel value it estimates, that grows like e^(‖q+k‖²/(2√d)) and shrinks "
            "like 1/√m; no causal mask without a prefix sum"
        ),
        choose_when="very long inputs where rough attention is enough (proteins, long documents)",
    ),
    "nystrom": VariantText(
        title="Nyströmformer",
        paper="Xiong et al., 2021",
        knobs={
            "landmarks": KnobText(
                label="Landmarks m",
                help="Segment means standing in for all queries and keys.",
            ),
        },
        formula=(
            r"\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt d}\right) \approx F\,A^{+}B,\quad F = \mathrm{sm}(Q\tilde "
            r"K^\top),\; A = \mathrm{sm}(\tilde Q\tilde K^\top),\; B = \mathrm{sm}(\tilde Q K^\top)"
        ),
        time="O(T·m·D + m³)",
        memory="O(T·m)",
        # Xiong et al. (2021), Section 3: F, A, B are softmaxes; with an exact inverse of A the rows of F·A⁻¹·B sum
        # to 1 (A·1 = 1), the iterative A⁺ only nearly; A⁺ has negative entries, so weights can be negative
        keeps_exact="exact when m = T (with an exact pseudo-inverse); otherwise the structure seen from m landmarks",
        costs=(
            "weights can be negative, unlike a softmax's; rows sum to 1 with an exact inverse, and nearly with the "
            "iterative one; no causal mask"
        ),
        choose_when="long encoder inputs with smooth attention",
    ),
    "longformer": VariantText(
        title="Longformer",
        paper="Beltagy et al., 2020",
        knobs={
            "window": KnobText(
                label="Window w",
                help="Each token sees itself and (w − 1)/2 window positions on each side.",
            ),
            "globals": KnobText(
                label="Global tokens (from the start)",
                help=(
                    "The first g tokens see every token and every token sees them. With the real model the first is "
                    "[CLS]; with GloVe it is your first word."
                ),
            ),
            "dilation": KnobText(
                label="Dilation d",
                help="The window's positions are d apart: t ± d, t ± 2d, … (1: the plain sliding window).",
            ),
        },
        formula=(
            r"\text{token } t \text{ sees } s \iff \big(|t-s| \le d\,\tfrac{w-1}{2} \;\land\; d \mid t-s\big) \;\lor\; "
            r"t \in G \;\lor\; s \in G"
        ),
        time="O(T·(w + g)·D)",
        memory="O(T·(w + g))",
        keeps_exact="exact softmax on its pattern: (dilated) window plus global tokens",
        costs="every weight outside the window (unless global)",
        choose_when="long documents where most links are local (with a few global tokens for the task)",
    ),
    "bigbird": VariantText(
        title="BigBird",
        paper="Zaheer et al., 2020",
        knobs={
            "random": KnobText(
                label="Random blocks per block",
                help="Blocks seen at random, fixed by a seed.",
            ),
            "block": KnobText(
                label="Block size b",
                help="Tokens per block; the pattern is decided block by block.",
            ),
        },
        formula=r"\text{blocks: window (3)} \;\cup\; \text{global (first block)} \;\cup\; r \text{ random blocks}",
        time="O(T·(3 + 1 + r)·b·D)",
        memory="O(T·(3 + 1 + r)·b)",
        keeps_exact="exact softmax on window, global and random blocks",
        costs="every block pair not chosen; the random part changes with the seed",
        choose_when="long inputs where some far links matter (question answering over long text)",
    ),
    "reformer": VariantText(
        title="Reformer (LSH attention)",
        paper="Kitaev et al., 2020",
        knobs={
            "buckets": KnobText(
                label="Buckets",
                help=(
                    "Angular LSH: a random rotation R sends x to bucket argmax [xR; −xR], so vectors pointing the "
                    "same way tend to share a bucket."
                ),
            ),
            "rounds": KnobText(
                label="Rounds of hashing",
                help="Each round hashes with a new R; a pair counts if it met in any round.",
            ),
        },
        formula=(
            r"\begin{gathered}k_s = \frac{q_s}{\lVert q_s\rVert},\quad h(x) = \arg\max\,[xR;\,-xR],\quad c = \lceil "
            r"2T/n_{\text{buckets}} \rceil \\ t \text{ sees } s \ne t \iff \exists r\!:\; h_r(q_t) = h_r(q_s) "
            r"\,\land\, \mathrm{chunk}_r(s) \in \{\mathrm{chunk}_r(t),\, \mathrm{chunk}_r(t) - 1\}\end{gathered}"
        ),
        time="O(R·T·(n_buckets + c)·D) plus a sort: hashing, then chunks of c sorted tokens",
        memory="O(R·T·c)",
        keeps_exact="exact softmax on the pairs its buckets and chunks allow",
        costs="pairs hashed apart in every round, even when their weight is large",
        choose_when="very long inputs where each query needs only its nearest keys",
    ),
    "sparse": VariantText(
        title="Sparse Transformer",
        paper="Child et al., 2019",
        knobs={
            "stride": KnobText(
                label="Stride l",
                help="About √T in the paper.",
            ),
            "pattern": KnobText(
                label="Pattern",
                help=(
                    "Both directions here. strided: every token less than l away and every l-th token, on either "
                    "side. fixed: the token's own block of l and the last token of every block."
                ),
            ),
        },
        formula=(
            r"\text{strided: } |t-s| < l \;\lor\; (t-s) \bmod l = 0,\qquad \text{fixed: } \lfloor s/l\rfloor = \lfloor "
            r"t/l\rfloor \;\lor\; s \bmod l = l-1"
        ),
        time="O(T·√T·D) with l = √T",
        memory="O(T·√T)",
        keeps_exact="exact softmax on its two-part pattern",
        costs="every pair off the pattern",
        choose_when="long sequences with a period (images, audio, music)",
    ),
    "mqa": VariantText(
        title="Multi-Query / Grouped-Query Attention",
        paper="Shazeer, 2019; Ainslie et al., 2023",
        knobs={
            "groups": KnobText(
                label="K/V groups G",
                help="1: one K/V head for all query heads (multi-query). 12: ordinary multi-head.",
            ),
        },
        formula=(
            r"O_h = \mathrm{softmax}\!\left(\frac{Q_h K_{g(h)}^\top}{\sqrt d}\right)V_{g(h)},\quad g(h) = \lfloor hG/H "
            r"\rfloor"
        ),
        time="O(T²·D), as exact",
        memory="KV cache 2·G·S·Dh per layer instead of 2·H·S·Dh",
        keeps_exact="the softmax is exact; the keys and values are shared by each group",
        costs="each head's own K and V (the model must be trained or uptrained this way)",
        choose_when="decoding with long contexts and large batches: the KV cache is the bottleneck",
    ),
}


@dataclass(frozen=True)
class LabelledKnob:
    """A knob of a variant's record with its text, for a widget."""

    knob: Knob
    label: str
    help: str

    @property
    def name(self) -> str:
        return self.knob.name

    @property
    def values(self) -> tuple:
        return self.knob.values

    @property
    def default(self) -> object:
        return self.knob.default


def spec(name: str) -> VariantSpec:
    """The variant's record (its knobs' values, its kind)."""
    return REGISTRY[name]


def knobs(name: str) -> list[LabelledKnob]:
    """The variant's knobs, in its record's order, each with its label and help."""
    text = INFO[name].knobs
    return [LabelledKnob(k, text[k.name].label, text[k.name].help) for k in REGISTRY[name].knobs]


def titles_of_kind(kind: str) -> str:
    """The titles of the variants of one kind ("pattern", "approx", "exact"), in the course's order."""
    return ", ".join(INFO[name].title for name, s in REGISTRY.items() if s.kind == kind)

"""A fresh reader's findings on the pages (a lecturer reading the course against the papers): each sentence the page
shows is true for the text on the screen, and each claim about a method says what its paper says."""

from tests.app.elements import arr, chart, ok
from tests.app.test_pages import _reveal_all, plain

SIM = "lessons/similarity.py"


def said(at) -> str:
    """Everything the page says in text, markdown escapes removed."""
    return "\n".join(plain(e) for e in [*at.markdown, *at.caption, *at.success, *at.info, *at.warning])


# --- page 2: a short sentence leaves the word most of its own weight ------------------------------------------------
def test_similarity_own_share_is_not_called_small_when_it_is_most(app):
    at = ok(_reveal_all(app(SIM, sentence="the cat sat")))
    text = said(at)
    # "sat" keeps 59% of its row (by size): the old caption said "only 59%" and "leans toward the sentence"
    assert "“sat” itself gives 59% of the weight, more than the other 2 words together" in text
    assert "itself gives only" not in text


def test_similarity_own_share_of_a_long_sentence_is_small(app):
    at = ok(_reveal_all(app(SIM)))
    assert "“bank” itself gives only 34% of the weight; the rest comes from the other 5 words" in said(at)


# --- page 4: MiniLM's words of several pieces would not receive 1 from an even split ---------------------------------
SOFT = "lessons/softmax.py"
PIECES = "the riverbank flooded after tokenization of the embankment"  # river ##bank, token ##ization


def test_softmax_even_split_of_minilm_words_counts_their_pieces(app):
    at = ok(_reveal_all(app(SOFT, sentence=PIECES)))
    text = said(at)
    # 12 pieces, 10 words: a word of 2 pieces would receive 10·2/12 = 1.67, a word of one 0.83 (the old page: 1)
    assert "even split would give every word exactly 1" not in text
    assert "“riverbank” 1.67, “tokenization” 1.67, and 0.83 to a word of one piece" in text
    spec = chart(at, "soft_received")
    assert not any(a.get("text") == "even split" for a in spec["layout"].get("annotations", []))


def test_softmax_even_split_is_one_for_words_of_one_piece(app):
    at = ok(_reveal_all(app(SOFT)))
    assert "an even split would give every word exactly 1 (each is one piece for MiniLM)" in said(at)
    spec = chart(at, "soft_received")
    assert any(a.get("text") == "even split" for a in spec["layout"].get("annotations", []))


# --- the glossary: what a paper says, no more -------------------------------------------------------------------------
def test_glossary_says_what_scaling_masks_layers_and_t_squared_do(app):
    at = ok(app("lessons/glossary.py"))
    entries = {plain(m).split(" — ")[0].strip("*"): plain(m) for m in at.markdown if " — " in m.value}
    scaling = entries["Scaling by √d"]
    assert "softmax does not saturate" not in scaling  # the old claim: it can still saturate on large scores
    assert "variance is d" in scaling and "Vaswani et al., 2017" in scaling
    assert "Scores set to −∞ before softmax" in entries["Mask"]  # weights zeroed after softmax would not sum to 1
    assert "small feed-forward" not in entries["Layer"]  # MiniLM's feed-forward block holds twice attention's weights
    t2 = entries["Complexity O(T²)"]
    assert "four times the work of the scores" in t2 and "costs only twice as much" in t2


# --- page 6: the fast-memory sizes are one kind of figure for both GPUs -----------------------------------------------
def test_flash_fast_memory_help_compares_like_with_like(app):
    at = ok(_reveal_all(app("lessons/efficient.py", sentence="the cat sat on the mat")))
    slider = next(s for s in at.select_slider if s.key == "l6_sram")
    # the old help set the A100's combined L1/shared 192 KB beside the H100's shared-memory maximum of 228 KB
    assert "192 KB of L1 cache and shared memory" in slider.help and "H100 has 256 KB, up to 228 KB" in slider.help
    assert "up to 164 KB" in slider.help


# --- pages 6 and 6c: Performer's error grows like e^(‖q+k‖²/(2√d)) relative to the kernel value (its Lemma 2) ---------
def test_performer_cost_names_the_error_relative_to_the_kernel():
    from attnviz.efficient import REGISTRY

    costs = REGISTRY["performer"].text.costs
    # the absolute error also carries the kernel value e^(q·k/√d): only the relative error grows like this
    assert "relative to the kernel value it estimates, that grows like e^(‖q+k‖²/(2√d))" in costs


# --- page 6 Longformer: its released encoder–decoder reads 16,384 tokens, not only 4,096 ------------------------------
def test_longformer_names_the_released_lengths(app):
    at = ok(_reveal_all(app("lessons/efficient.py", sentence="the cat sat on the mat", l6_variant="longformer")))
    text = said(at)
    assert "trained on inputs of up to 4,096 tokens" not in text  # LED (Beltagy et al. 2020, section 6) reads 16K
    assert "encoders read up to 4,096 tokens, its encoder–decoder (LED) up to 16,384" in text


# --- page 2: in a paragraph a repeated word's copies together can outweigh the word itself ---------------------------
PARAGRAPH = (
    "The river flooded the old town after three days of heavy rain. Farmers moved their cattle to higher ground, and "
    "the mayor opened the school as a shelter for families who had lost their homes. When the water fell, the bank by "
    "the bridge was covered in mud, and the children found fish trapped in the streets."
)


def test_similarity_says_when_a_repeated_word_outweighs_the_word_itself(app):
    at = ok(_reveal_all(app(SIM, sentence=PARAGRAPH)))
    text = said(at)
    assert "Which single word of your sentence (one place in it) will weigh most in the new “bank”?" in text
    # "bank" is the largest single cell of its row, but the 9 copies of "the" add up to far more (the old page
    # called "the word itself" the word that weighs most, and said nothing of the copies)
    assert "the 9 copies of “the” together give 162.72, more than the 36.39 of “bank”" in text
    assert "a word that repeats adds its vector once per copy" in text


# --- page 1: the hatched products are the largest in size, a negative one among them ---------------------------------
def test_dot_product_chart_says_the_hatched_bars_are_largest_in_size(app):
    at = ok(_reveal_all(app("lessons/embeddings.py")))
    at.text_input(key="emb_word_b").set_value("debt").run()
    spec = chart(at, "emb_products")
    title = spec["layout"]["title"]["text"]
    assert "the 5 largest in size, + or −" in title  # cat·debt: −1.52 is hatched, so "the 5 largest" was untrue
    bars = spec["data"][0]
    values = [float(v) for v in arr(bars["y"])]
    top = sorted(range(len(values)), key=lambda i: -abs(values[i]))[:5]
    assert min(values[i] for i in top) < 0  # a negative product is among the five


# --- page 5: the sentence on repeated words reads as English ----------------------------------------------------------
def test_multihead_repeated_words_note_reads(app):
    at = ok(_reveal_all(app("lessons/multihead.py", sentence="the cat saw the dog")))
    text = said(at)
    assert "there two copies" not in text
    assert "Either way, in a real transformer two copies of a word get different rows." in text


def test_glove_is_named_by_its_tokens_and_corpus(app):
    at = ok(app("lessons/embeddings.py"))
    intro = plain(at.markdown[0]) if "GloVe" in at.markdown[0].value else said(at)
    # glove.6B counts 6 billion tokens, punctuation included (Pennington et al. 2014), not 6 billion words
    assert "6-billion-word" not in intro
    assert "glove.6B, trained on 6 billion tokens of Wikipedia and Gigaword news text" in intro


# --- long maps: equal values (a word's copies) share a colour ---------------------------------------------------------
def test_highlighter_gives_equal_values_one_colour():
    import numpy as np

    from app_support.parts.paragraph_view import highlighted

    labels = ("the", "cat", "the·2", "the·3", "the·4", "the·5", "the·6", "dog")
    values = np.array([5.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 2.0])  # six copies of "the" tie for the largest
    text, top = highlighted(labels, values, 1, 1)
    assert top == 5.0
    # the old ranking by position coloured five copies red and the sixth orange
    assert text.count(":red-background[") == 6 and ":orange-background[" in text  # "dog" (rank 6) is orange
    assert text.count(" 5.0\u00a0]") == 6


def test_kernel_note_names_the_page_as_every_page_does():
    from app_support.efficient.efficient_flash import kernel_note

    note = kernel_note("cuda", True)
    assert "page 6c's timings" in note and "lesson 6c" not in note  # STYLE.md: "page 6c", never "lesson 6c"


def test_start_page_says_page_5c_answers_on_its_own_sentences(app):
    at = ok(app("lessons/start.py"))
    # page 5c does not use the sidebar's text: its questions are measured on the sentences it brings
    assert "on page 5c, on the sentences that page brings" in said(at)

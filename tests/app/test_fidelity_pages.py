"""Issue 25, pages 1–5c: each sentence the page shows is true for the text on the screen (one test per finding)."""

from tests.app.elements import chart, ok, run
from tests.app.test_pages import _reveal_all, plain

SIM = "lessons/similarity.py"
PROJ = "lessons/projections.py"
FISHERMAN = "the old fisherman rested on the muddy bank of the quiet river"


def said(at) -> str:
    """Everything the page says in text, markdown escapes removed."""
    return "\n".join(plain(e) for e in [*at.markdown, *at.caption, *at.success, *at.info, *at.warning])


# --- 1. the diagonal's share counts a tie with a repeated word's copy as a tie, not a loss --------------------------
def test_similarity_diagonal_share_counts_a_tie_with_the_copy(app):
    at = ok(app(SIM, sentence=FISHERMAN))
    run(at.radio(key="sim_predict_diag").set_value("the word with itself (the diagonal)"))
    text = said(at)
    assert "the largest cell in 100% of the rows" in text  # argmax gave 83%: "the·2" and "the·3" lost to "the"
    assert "the copies of “the” score as much with each other as with themselves" in text
    assert "no other word beats it" in text


def test_similarity_row_of_a_copy_goes_to_the_word_itself(app):
    at = ok(app(SIM, sentence=FISHERMAN))
    run(at.selectbox(key="sim_focus").set_value("the·2"))
    run(at.radio(key="sim_predict_mix").set_value("the word itself"))
    text = said(at)
    assert "Right." in text and "goes to “the·2”" in text and "tied with “the”, “the·3”" in text


def test_projections_identity_counts_ties_in_both_matrices(app):
    at = ok(app(PROJ, sentence=FISHERMAN))
    question = next(m.value for m in at.markdown if "has the largest score in" in m.value)
    assert "in 100% of your sentence's rows" in question  # I·Iᵀ: argmax said 83%
    run(at.radio(key="proj_predict_self").set_value("most rows (80% or more)"))
    text = said(at)
    assert "Right." in text and "wins 100% of the 12 rows" in text


# --- 6. the meaning meter says the shift and where the word ends ----------------------------------------------------
def test_meaning_meter_says_where_the_word_ends(app):
    at = ok(_reveal_all(app(SIM)))
    verdict = next(c.value for c in at.caption if c.value.startswith("After mixing, “bank”"))
    # the default sentence: "bank" gains more toward "river" but still ends closer to "money" (measured 0.723, 0.679)
    assert "gained more toward “river”" in verdict
    assert "It ends closer to “money” (0.723) than to “river” (0.679)." in verdict


# --- 11. the length of the mix does not follow from the sum of the weights ------------------------------------------
def test_mix_length_is_not_said_to_follow_from_the_sum(app):
    at = ok(_reveal_all(app(SIM)))
    caption = next(c.value for c in at.caption if c.value.startswith("The weights add up to"))
    assert ", not 1, so" not in caption and "not on the sum alone" in caption


# --- 9. Clark et al. suggest the [SEP] no-op; the row beside it is measured ----------------------------------------
def test_projections_real_head_says_clark_suggest_and_measures_the_row(app):
    import re

    from app_support.data import loaders
    from attnviz.pretrained import forward

    at = ok(_reveal_all(app(PROJ)))
    run(at.radio(key="proj_kind").set_value("real"))
    ok(_reveal_all(at))
    caption = next(c.value for c in at.caption if "Clark et al." in c.value)
    assert "suggest that it works as a no-op" in caption and "a hypothesis, not a finding" in caption
    assert "found heavy attention" not in caption
    found = re.search(r"This row puts (\d+)% on \[CLS\] and (\d+)% on \[SEP\]", caption)
    assert found, caption
    row = forward(loaders.model(), "I walked by the river bank").head(0, 0).weights[6]  # layer 1, head 1; "bank"
    assert (int(found[1]), int(found[2])) == (round(100 * float(row[0])), round(100 * float(row[-1])))


# --- 5. the "please" claim is judged on the real model by default, with what attention received is not -----------
SOFT = "lessons/softmax.py"
PLEASE = "Please, GPT, can you tell me what is the most likely pet in a household?"


def test_please_claim_is_judged_on_minilm_by_default_with_the_caveat(app):
    at = ok(_reveal_all(app(SOFT, sentence=PLEASE)))
    claim = plain(next(i for i in at.info if "“please”" in i.value))
    assert "Measured on all-MiniLM-L6-v2" in claim and "Measured here" not in claim
    assert "It holds for every one of them." in claim or "It does not hold for" in claim
    assert "Jain & Wallace (2019)" in claim and "Wiegreffe & Pinter (2019)" in claim
    assert "is not the same as its importance to the answer" in claim
    run(at.radio(key="soft_recv_on").set_value("here"))
    claim = plain(next(i for i in at.info if "“please”" in i.value))
    assert "not from a language model, so they cannot test it" in claim and "It holds" not in claim


# --- 13. softmax weights: between 0 and 1, masked ones exactly 0 ----------------------------------------------------
def test_softmax_intro_does_not_say_every_weight_is_positive(app):
    at = ok(app(SOFT))
    intro = next(m.value for m in at.markdown if "turns each row into weights" in m.value)
    assert "Every weight is positive" not in intro
    assert "Every weight lies between 0 and 1 (a pair that a mask forbids gets exactly 0" in intro


# --- 12. positions: learned vectors added in encoders, rotary queries and keys in every layer elsewhere -----------
def test_toy_heads_position_note_covers_rotary_models(app):
    at = ok(_reveal_all(app("lessons/multihead.py", sentence="the cat sat on the mat")))  # "the" twice
    note = next(c.value for c in at.caption if c.value.startswith("A repeated word gets the same row"))
    assert "Transformers add a vector for each position" not in note  # false for RoPE models
    assert "add a learned vector for each position" in note and "BERT and MiniLM" in note
    assert "rotate each query and key" in note and "inside every layer" in note and "RoFormer" in note


# --- 14. the large map's title says when it is not the raw softmax(Q·Kᵀ/√32) -----------------------------------------
def test_real_head_title_says_when_the_map_is_pooled_or_rescaled(app):
    at = ok(_reveal_all(app("lessons/real_heads.py", sentence="embeddings are unbelievably useful")))
    title = chart(at, "real_large")["layout"]["title"]["text"]
    assert title == "Layer 1 · head 1: softmax(Q·Kᵀ/√32) by word"  # "unbelievably" is 5 pieces, merged
    run(at.toggle(key="real_special").set_value(False))
    title = chart(at, "real_large")["layout"]["title"]["text"]
    assert title == "Layer 1 · head 1: softmax(Q·Kᵀ/√32) by word, without [CLS]/[SEP], rows rescaled"
    run(at.toggle(key="real_words").set_value(False))
    title = chart(at, "real_large")["layout"]["title"]["text"]
    assert title == "Layer 1 · head 1: softmax(Q·Kᵀ/√32), without [CLS]/[SEP], rows rescaled"
    run(at.toggle(key="real_special").set_value(True))
    assert chart(at, "real_large")["layout"]["title"]["text"] == "Layer 1 · head 1: softmax(Q·Kᵀ/√32)"  # the raw map


# --- 8. a head picked on one minimal pair is tested on pairs held out of the ranking ------------------------------
EXAMPLES = "lessons/real_examples.py"


def test_examples_rank_heads_on_several_pairs_and_test_on_held_out_ones(app):
    at = ok(_reveal_all(app(EXAMPLES)))
    said = next(c.value for c in at.caption if "of a possible 2, in layer 4 · head 2" in c.value)
    assert not said.startswith("One head moves clearly more than the rest")  # one pair said it of the model
    assert said.startswith("On this pair one head moves clearly more than the rest")
    fig = chart(at, "real_coref_heldout")
    assert list(fig["data"][0]["y"])[:2] == ["ranking: cat / mat", "ranking: trophy / suitcase"]
    assert fig["data"][0]["x"][0] == "layer 4 · head 2"
    verdict = next(c.value for c in at.caption if c.value.startswith("Ranked by their mean score on the 6 ranking"))
    assert "layer 4 · head 2 comes first (0.14 of a possible 2)" in verdict
    assert "it scores 0.05, -0.01, 0.01, -0.02, 0.31, -0.08, ranking 2, 69, 11, 69, 1, 72 of 72" in verdict
    assert "among the top 5 on 2 of them: a head picked on some pairs need not be the one that moves on others" in (
        verdict
    )
    assert "ranks 1 of 72; without its best held-out pair (paul / george, 0.31) it would be -0.01." in verdict


# --- 10. the score's zero: each noun keeps its weight from A to B ----------------------------------------------------
def test_examples_say_what_a_zero_score_means(app):
    at = ok(app(EXAMPLES))
    intro = next(m.value for m in at.markdown if "how far the weight of the pronoun moves" in m.value)
    assert "weights the two nouns alike" not in intro
    assert "0: each noun keeps the weight it had in A when the sentence becomes B" in intro

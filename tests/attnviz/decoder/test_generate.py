"""`attnviz.decoder.generate`: the next word, and generation with the KV cache equal to recomputing without it."""

import pytest
import torch

from attnviz.decoder import MAX_NEW_TOKENS, TOP_K, generate, model_cache_size, next_tokens
from attnviz.errors import AttnvizInputError

PROMPT = "The capital of France is"


def test_top_next_tokens(model):
    from attnviz.decoder import forward

    top = next_tokens(model, forward(model, PROMPT).next_logits, k=3)
    assert top.ids[0] == 7042 and top.labels[0] == " Paris"
    assert top.probabilities[0] == pytest.approx(0.77, abs=0.01)
    assert list(top.probabilities) == sorted(top.probabilities, reverse=True)


def test_generation_with_the_cache_equals_recomputing_without_it(model):
    cached = generate(model, PROMPT, 5)
    fresh = generate(model, PROMPT, 5, use_cache=False)
    assert cached.ids == fresh.ids
    assert cached.ids[0] == 7042  # " Paris"
    t = len(cached.prompt.tokens)
    for step_c, step_f in zip(cached.steps, fresh.steps, strict=True):
        assert step_c.position == step_f.position == t + step_c.index
        assert step_c.attention.shape == (30, 9, step_c.position + 1)  # one new row, over every token so far
        torch.testing.assert_close(step_c.attention, step_f.attention, atol=1e-5, rtol=0)
        assert step_c.probability == pytest.approx(step_f.probability, abs=1e-5)
        assert step_c.top.ids == step_f.top.ids
        torch.testing.assert_close(step_c.attention.sum(-1), torch.ones(30, 9), atol=1e-5, rtol=0)


def test_greedy_generation_is_that_of_transformers(model, reference):
    ours = generate(model, PROMPT, 5, keep_weights=False)
    ids = torch.tensor([ours.prompt.tokens.ids])
    with torch.inference_mode():
        ref = reference.generate(ids, max_new_tokens=5, do_sample=False, eos_token_id=None, pad_token_id=2)
    assert list(ours.ids) == ref[0, ids.shape[1] :].tolist()


def test_the_cache_grows_by_one_tokens_keys_and_values_per_step(model):
    gen = generate(model, PROMPT, 4)
    per_token = model_cache_size(model).per_token
    assert per_token == 2 * 30 * 3 * 64 * 4 == 46_080
    for step in gen.steps:
        assert step.cache_tokens == step.position + 1
        assert step.cache_bytes == step.cache_tokens * per_token
    assert all(step.cache_bytes == 0 for step in generate(model, PROMPT, 2, use_cache=False).steps)


def test_sampling_is_reproducible_with_its_seed(model):
    a = generate(model, "Once upon a time", 4, temperature=1.0, seed=7, keep_weights=False)
    b = generate(model, "Once upon a time", 4, temperature=1.0, seed=7, keep_weights=False)
    assert a.ids == b.ids
    others = {generate(model, "Once upon a time", 4, temperature=1.5, seed=s, keep_weights=False).ids for s in range(3)}
    assert len(others) > 1  # the seed matters
    assert len(a.steps[0].top.ids) == TOP_K


def test_the_generated_text_is_the_decoded_ids(model):
    gen = generate(model, PROMPT, 3, keep_weights=False)
    assert gen.text(model).startswith(" Paris")
    assert gen.steps[0].attention is None and gen.prompt.weights is None


@pytest.mark.parametrize("n_new", [0, MAX_NEW_TOKENS + 1, 2.0])
def test_a_bad_number_of_tokens_is_refused(model, n_new):
    with pytest.raises(AttnvizInputError):
        generate(model, PROMPT, n_new)


@pytest.mark.parametrize("temperature", [-0.5, 11, "hot", True])
def test_a_bad_temperature_is_refused(model, temperature):
    with pytest.raises(AttnvizInputError, match="temperature"):
        generate(model, PROMPT, 1, temperature=temperature)

"""The bundled decoder, loaded once for every test of `attnviz.decoder`; the transformers reference (test-only, read
from the same GGUF file, about 45 s to load here) only for the tests that ask for it."""

import pytest

from attnviz.decoder import FILE_NAME, load_model


@pytest.fixture(scope="session")
def model():
    return load_model("cpu")


def _offline(mp: pytest.MonkeyPatch) -> None:
    # the reference reads the very same local file; nothing may be downloaded
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def reference(model):
    """transformers' LlamaForCausalLM on the same file, eager attention (so it returns every attention map)."""
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp)
        from transformers import AutoModelForCausalLM

        ref = AutoModelForCausalLM.from_pretrained(
            str(model.path.parent), gguf_file=FILE_NAME, attn_implementation="eager", local_files_only=True
        )
    return ref.eval()


@pytest.fixture(scope="session")
def reference_tokenizer(model):
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(model.path.parent), gguf_file=FILE_NAME, local_files_only=True)

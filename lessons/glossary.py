"""The glossary: the words the course uses, each with the lesson that shows it on the learner's text."""

import streamlit as st

from app_support.kit import course, page_nav

# (term, what it means, the lesson that shows it: its url_path)
TERMS = (
    ("Token", "The unit a model reads: a word, or a piece of one (MiniLM reads “riverbank” as “river” and "
     "“##bank”). Lessons 1–5 use whole words; the real model uses its own pieces.", "real-heads"),
    ("Embedding (word vector)", "The list of numbers that stands for a token. GloVe gives each word 50.",
     "embeddings"),
    ("Dot product", "Multiply two vectors number by number and add the products: large when they point the same "
     "way and are long.", "embeddings"),
    ("Cosine similarity", "The dot product of two vectors divided by both lengths: how nearly they point the same "
     "way, from −1 to 1, whatever their lengths.", "embeddings"),
    ("Similarity matrix", "Every token's vector against every other's, one dot product (or cosine) per cell: "
     "S = I·Iᵀ.", "similarity"),
    ("Query, key, value (Q, K, V)", "Three projections of each token's vector, Q = I·M_Q, K = I·M_K, V = I·M_V: a "
     "token's query is compared with every key to decide how much of each value it takes.", "projections"),
    ("Score", "A query's dot product with a key, before softmax: Q·Kᵀ, usually divided by √d.", "softmax"),
    ("Softmax", "Turns a row of scores into weights that are positive and add up to 1: exp(score) over the sum of "
     "the row's exps.", "softmax"),
    # Vaswani et al. 2017, section 3.2.1 (footnote 4): for q, k with independent entries of mean 0 and variance 1,
    # q·k has variance d_k; large dot products push softmax "into regions where it has extremely small gradients"
    ("Scaling by √d", "Dividing the scores by the square root of the key width d. For query and key entries of mean "
     "0 and variance 1 a score's variance is d; divided by √d it is 1 at every width, so a wider head does not push "
     "softmax toward one-hot (Vaswani et al., 2017). Large scores can still saturate it.", "softmax"),
    ("Temperature", "A divisor on the scores before softmax: above 1 the weights spread out, below 1 they sharpen.",
     "softmax"),
    ("Attention weights", "The softmax of the scores: row i says how much token i takes from each token's value.",
     "softmax"),
    ("Mask", "Scores set to −∞ before softmax, so that those weights come out exactly 0 and the rest of the row "
     "still sums to 1: the causal mask hides later tokens, the padding mask hides filler tokens.", "softmax"),
    ("Causal attention", "Each token may look only at itself and earlier tokens, as in a model that writes text "
     "one token at a time.", "softmax"),
    ("Head", "One set of M_Q, M_K, M_V and its own attention map; a layer runs several heads side by side and joins "
     "their outputs.", "multihead"),
    # all-MiniLM-L6-v2's config: hidden 384, intermediate 1536: the feed-forward block's 2·384·1536 weights are twice
    # attention's 4·384² (M_Q, M_K, M_V, W_O), so it is not "small"
    ("Layer", "One round of attention (all its heads) followed by a feed-forward network that works on each token "
     "alone, each with a residual connection around it; MiniLM has 6.", "real-heads"),
    ("[CLS], [SEP]", "Tokens the model adds around the text: [CLS] at the start, [SEP] at the end. In BERT-style "
     "models many heads put much of their weight on them (Clark et al., 2019); page 5b counts them in MiniLM.",
     "real-heads"),
    ("Encoder, decoder", "An encoder (such as MiniLM, BERT) reads the whole text at once, every token seeing every "
     "other; a decoder (GPT, Llama) uses causal attention and predicts the next token.", "real-heads"),
    # multiply-adds per layer of width D (Kaplan et al. 2020, table 1, forward pass): Q, K, V, W_O 4·T·D², a 4·D-wide
    # feed-forward block 8·T·D², scores and their mix of values 2·T²·D: the T² part leads only from T = 6·D (2,304
    # tokens for MiniLM's D = 384, whose inputs stop at 256 pieces)
    ("Complexity O(T²)", "Exact attention compares every token with every token: T² scores for T tokens, so twice "
     "the text costs four times the work of the scores. The rest of a layer (the projections, the feed-forward "
     "network) works token by token and costs only twice as much, so on short texts it is most of the work.",
     "efficient-scaling"),
    ("Efficient attention", "Methods that avoid the T² cost or its memory: some compute exactly the same result "
     "(FlashAttention), others approximate it (Linformer, Performer) or skip pairs (Longformer, BigBird).",
     "efficient"),
    ("KV cache", "While a decoder writes, it keeps every earlier token's keys and values, so each new token "
     "computes only its own.", "efficient"),
)  # fmt: skip

st.title("Glossary")
st.caption("The words the course uses, in the order the course meets them. Each links to the lesson that shows it.")
params = page_nav.carried_params()
lessons = {lesson.url_path: lesson for lesson in course.LESSONS}
for term, meaning, where in TERMS:
    st.markdown(f"**{term}** — {meaning}")
    lesson = lessons[where]
    st.page_link(lesson.file, label=f"See it in {lesson.title}", query_params=params)

"""attnviz: the compute core of the attention course. Never imports streamlit.

Shape letters used in comments on tensor lines throughout the package:

    B  batch
    H  heads
    T  query length (tokens in the sentence)
    S  key length (tokens attended to; S == T for self-attention)
    D  width of a vector (embedding or head dimension)
    V  vocabulary size
    K  a number of results (top-k, projection rank, components)
    L  layers of a transformer (L+1 hidden states: the embeddings, then one per layer)
    G  groups of tokens (WordPiece pieces merged back into words)
"""

from attnviz.errors import AttnvizInputError

__all__ = ["AttnvizInputError"]

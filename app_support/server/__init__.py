"""The launcher and the server around Streamlit: `serve` (`python -m app_support.server.serve`: starts Streamlit,
forks replicas, loads the word vectors, then torch, the models and the modules later lessons import), `server_patches`
(its patches of Streamlit's server, version-checked with `compat.streamlit_compat`) and `server_guard` (plain ASGI:
security headers, sessions per client). The top layer: it may import every other package (the warm-up imports modules
of `data`, `kit`, `efficient` and `parts`; `server_patches` reads `classroom` and `kit` on the first response); no
other package imports it.
"""

"""The launcher and the server around Streamlit: `serve` (`python -m app_support.server.serve`: starts Streamlit,
forks replicas, warms every lesson's imports), `server_patches` (its patches of Streamlit's server, version-checked
with `compat.streamlit_compat`) and `server_guard` (plain ASGI: security headers, sessions per client). The top layer:
it may import every other package (the warm-up loads the lessons' modules); none imports it.
"""

"""Streamlit-side helpers: cached loaders, the shared sentence, small widgets. Pages import from here."""

"""Streamlit's private API and the few things that lean on it: `streamlit_compat` (every private attribute, function
and field the app uses, behind small named functions, with the release it was written for and the list of what to
re-check when Streamlit moves), `apptest` (a page run headless for the handout, given back as plain values, held to
the same release), `theme_switch` (each session's light or dark theme) and `interrupt` (has the learner clicked
while a long measurement runs?). The bottom layer of the Streamlit side: it may import attnviz and Streamlit only, no
other app_support package.
"""

"""The Streamlit side of attnviz, in packages by concern, each allowed to import only those below it: `compat`, `data`,
`kit`, then `classroom` and `handout`, then `efficient` and `parts`, then `server` (docs/ARCHITECTURE.md;
tests/app/test_structure.py holds the order). Pages (lessons/) and app.py import from the module that owns a name."""

"""The handout: a page of the course as one self-contained HTML file a student keeps (`handout` draws the page
and collects what it shows; `handout_html` writes the file). It may import attnviz, `compat`, `data` and `kit`; not
`classroom`, which is beside it.
"""

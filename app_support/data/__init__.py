"""Heavy objects and kept results: `loaders` (the word vectors and the model, loaded once per process), `cached`
(results kept between reruns, bounded), `lazy` (names imported on first use, so the first page pays for no torch) and
`store` (a bounded store for results a page computes itself). It may import attnviz and `compat`.
"""

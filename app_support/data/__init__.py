"""Heavy objects and kept results: `loaders` (the word vectors, the device, the MiniLM encoder, lesson 7's decoder
and lesson 3's training sets, loaded once per process), `cached` (results kept between reruns, bounded),
`decoder_cached` (lesson 7's decoder results, kept between reruns and shared by every session, bounded), `lazy`
(names imported on first use, so the first page pays for no torch) and `store` (a bounded store for results a page
computes itself). It may import attnviz and `compat`.
"""

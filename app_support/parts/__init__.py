"""Page parts that belong to particular lessons rather than the whole course: paragraph mode's readable long map
(`paragraph_view`, pages 2-5 and 5b), page 4's notes on the attention received (`received_notes`), lesson 3's training
panel (`training_panel`), page 5b's view of every head (`real_grid`) and head census (`census_view`), page 5c's
minimal pair and verb → subject parts (`real_pairs`), the probes pages 5b and 5c share (`real_probes`), lesson 7's
timed generation with and without the KV cache (`decoder_timing`), its check of the article's claim
(`decoder_claim`) and lesson 6's variants swapped into all its layers (`decoder_swap`). It may import attnviz,
`compat`, `data`, `kit`, `classroom` and `handout`; not `efficient`, which is beside it.
"""

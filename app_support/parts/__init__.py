"""Page parts that belong to particular lessons rather than the whole course: paragraph mode's readable long map
(`paragraph_view`, pages 2-5), lesson 3's training panel (`training_panel`), page 5b's head census (`census_view`)
and the probes pages 5b and 5c share (`real_probes`). It may import attnviz, `compat`, `data`, `kit`, `classroom` and
`handout`; not `efficient`.
"""

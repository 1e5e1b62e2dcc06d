"""Lesson 6's page parts (pages 6, 6b, 6c): the variant chooser and its knobs (`efficient`), the knobs with their
labels and the titles of a kind (`efficient_text`, from the text each variant's record carries) and page 6b's
sentences (`efficient_swap_text`), the parts every variant has and each variant's own parts by name (`EXTRAS` in
`efficient_sections`), the parts only some have (`efficient_flash`, `efficient_approx`, `efficient_mqa`,
`efficient_patterns`) and 6c's closing comparison (`efficient_closing`). It may import attnviz, `compat`, `data`,
`kit`, `classroom` and `handout`; not `parts`.
"""

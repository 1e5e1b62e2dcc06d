"""Lesson 6's page parts (pages 6, 6b, 6c): the variant chooser and its knobs (`efficient`), what the pages say about
each variant (`efficient_text`, `efficient_swap_text`), the parts every variant has (`efficient_sections`) and the
parts only some have (`efficient_flash`, `efficient_approx`, `efficient_mqa`, `efficient_patterns`). It may import
attnviz, `compat`, `data`, `kit`, `classroom` and `handout`; not `parts`.
"""

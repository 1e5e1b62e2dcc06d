"""Lesson 6's page parts (pages 6, 6b, 6c): the variant chooser and its knobs, the `Reading` page 6 makes once per
run and the cached results that take it (`efficient`), the knobs with their labels and the titles of a kind
(`efficient_text`, from the text each variant's record carries) and page 6b's sentences (`efficient_swap_text`), the
parts every variant has and `part_of`, which finds a variant's own parts (`efficient_sections`), one module for each
variant that has its own, named by its record's `page_part` (`efficient_flash`, `efficient_linformer`,
`efficient_performer`, `efficient_nystrom`, `efficient_longformer`, `efficient_bigbird`, `efficient_reformer`,
`efficient_sparse`, `efficient_mqa`), what several of them share (`efficient_patterns`), 6c's measurements (the
scaling lab, the decoding loop), one at a time per server process, and its multiselect bound to the URL
(`efficient_lab`), and 6c's closing comparison (`efficient_closing`). It may import attnviz, `compat`, `data`, `kit`,
`classroom` and `handout`; not `parts`, which is beside it.
"""

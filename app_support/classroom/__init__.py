"""The live class: the store under it (`class_db`, `class_rules`, `class_store`, `class_limits`), a browser
session's part in it (`class_session`, `class_pending`, `class_teacher`), following the teacher (`class_follow`), the
class's questions and the "predict first" question every lesson asks (`class_questions`, `predict`), and what the
sidebar and the main page show of it (`classroom`, `class_main`, `class_banner`). It may import attnviz, `compat`,
`data` and `kit`; not `handout`, which is beside it.
"""

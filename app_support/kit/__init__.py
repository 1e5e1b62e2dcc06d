"""The page kit every lesson draws with: the shared sentence box (`sentence`), the view settings and the page's own CSS
and scripts (`view`, `screens`), sections and presenter mode's steps (`steps`), charts and their downloads (`charts`,
`downloads`), tables (`tables`), the link to this view (`links`, which also names the live class's URL parameters),
small widgets bound to the URL and friendly messages (`widgets`), the course's list of lessons (`course`) and the
ways between pages (`page_nav`). It may import attnviz, `compat` and `data`; never the classroom or a lesson's parts.
"""

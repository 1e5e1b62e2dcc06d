"""attnviz: the course's entry point. Page setup, navigation, the sentence box every lesson shares, and the
classroom view settings (presenter mode, high contrast, numbers in cells, SVG from the camera, the link to this
view)."""

import streamlit as st

from app_support.classroom import class_main, classroom
from app_support.compat import streamlit_compat
from app_support.handout import handout
from app_support.kit import course, links, page_nav, screens, sentence, steps, view

# Nothing here imports torch, gensim or the word vectors before the page's first elements are on their way: the
# navigation and the sidebar reach the browser while the server loads them (server.serve starts that at launch,
# and has the browser load plotly's code meanwhile: server_patches.load_chart_code_early), which is most of a fresh
# server's first page.
present = str(st.query_params.get(view.PRESENT, "")).lower() in {"true", "1", "yes", "on"}
st.set_page_config(
    page_title="attnviz — learn attention",
    page_icon="🔦",  # an emoji: a :material/…: icon here is fetched from a Google server, so offline it fails
    layout="wide",
    initial_sidebar_state="collapsed" if present else "auto",  # presenter mode: no sidebar until asked for
)

LESSONS = [
    st.Page(lesson.file, title=lesson.title, url_path=lesson.url_path, default=lesson.default)
    for lesson in course.LESSONS
]
START, GLOSSARY = (st.Page(p.file, title=p.title, url_path=p.url_path) for p in (course.START, course.GLOSSARY))
# one list, no section: Streamlit draws a section's links as <li> outside any <ul>; lesson 1 stays the root address
page = st.navigation([START, *LESSONS, GLOSSARY], expanded=True)  # every page listed (Streamlit folds after 10)
classroom.begin()  # the live class from the address, before any widget (it may take this page to the teacher's)

st.sidebar.markdown("### :material/highlight: attnviz")  # the icon font ships with Streamlit: no fetch
st.sidebar.caption("Attention, computed live on your own words.")
sentence.sidebar_box()
with st.sidebar.expander("View and classroom", expanded=True, icon=":material/co_present:"):
    view.view_settings(st)
    classroom.sidebar(st)  # the live class: start, join, follow
    handout.offer(page)  # the handout of this page, as one HTML file

view.page_style()
screens.page_style()  # phones and projectors: each chart's toolbar, tiny numbers in cells, code in presenter type
with st.container(horizontal=True, gap="small"):
    links.share_link(page.url_path)  # "" for the first lesson, the root address
    page_nav.reset_button(page)
screens.sentence_hint(page.url_path)  # shown while the sidebar, which holds the sentence box, is folded
class_main.main_page()  # the class's messages, a student's name and switches, the projector's join banner

from app_support.data import loaders  # noqa: E402  (gensim: what is above is on its way to the browser while it loads)

computing_on = st.sidebar.empty()  # filled in after the lesson, from what the lesson computed with


@st.fragment
def lesson() -> None:
    """The lesson itself. A control on it reruns this part alone (as a fragment), not the navigation and the sidebar
    around it: with a class on one server, each rerun's work is what the server can serve."""
    links.refresh_link()  # every run of this fragment rewrites the link, so Streamlit keeps the link's place for it
    text = sentence.current()  # the box's text for this run (a button in a lesson may have just set it)
    steps.begin_page(page.url_path, text)
    streamlit_compat.allow_page_rerun(page)  # a rerun of this fragment runs the same page again
    page.run()
    steps.end_page(page.url_path, text)  # it ran to its end: presenter mode can say "step x of y"
    page_nav.next_lesson(page.url_path)  # at the end (presenter mode stops the page at its first hidden step)


try:
    lesson()
finally:  # the launcher's warm-up loads what other pages need once a first page is drawn (or has stopped early)
    loaders.page_served.set()
# The first lesson computes with NumPy and never imports torch, so that a fresh server draws it about 1.4 s sooner;
# every other lesson has imported torch by now; the start page and the glossary compute nothing
if page.url_path in {p.url_path for p in LESSONS}:
    torch_used = page.url_path != LESSONS[0].url_path
    computing_on.caption(f"Computing on: **{loaders.computing_on(with_torch=torch_used)}**")

"""The start page: what the course is, the path through it, a suggested time for each lesson, where things are."""

import streamlit as st

from app_support.kit import course, page_nav

st.title("Attention, computed on your own words")
st.markdown(
    "This course explains the **attention** mechanism at the heart of large language models, one idea at a time. "
    "Every picture is computed live on the text in the box in the sidebar: type your own sentence or paste a "
    "paragraph, and every lesson redraws on it. The numbers are real: GloVe word vectors (50 numbers a word) and a "
    "pretrained transformer encoder, all-MiniLM-L6-v2 (6 layers of 12 heads), computed on this server."
)

st.subheader("The path")
total = sum(lesson.minutes for lesson in course.LESSONS)
st.caption(
    f"The times are our suggestion for planning a class ({total // 60} h {total % 60} min in all), not a measurement: "
    "a lesson takes as long as its discussion does."
)
params = page_nav.carried_params()
for lesson in course.LESSONS:
    st.markdown(f"**{lesson.title}** · about {lesson.minutes} min  \n{lesson.teaches}")
    st.page_link(lesson.file, label=f"Open {lesson.title}", icon=":material/arrow_forward:", query_params=params)

st.subheader("Where things are")
st.markdown(
    "- **Your text** is in the sidebar (on a phone, open it with the **>** at the top left). Every lesson uses it.\n"
    "- **Predict first**: most sections ask a question before they show the answer; the answer is checked "
    "against what was just measured on your text (on page 5c, on the sentences that page brings).\n"
    "- **Copy link to this view** (top of every page) gives a link that reopens the same page, text and settings; "
    "**Reset this page** puts the page's own settings back to their defaults.\n"
    "- **Teaching?** The sidebar's *View and classroom* has presenter mode (large type, one step at a time: "
    "N for the next step, A to reveal an answer), a live class with a join code, a dark theme and a handout of "
    "any page."
)
st.page_link(course.GLOSSARY.file, label="The glossary: query, key, head, softmax and the other words the course uses",
             icon=":material/menu_book:", query_params=params)  # fmt: skip
st.page_link(course.LESSONS[0].file, label=f"Begin: {course.LESSONS[0].title}", icon=":material/arrow_forward:",
             query_params=params)  # fmt: skip

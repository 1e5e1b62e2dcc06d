"""The handout file: its markdown and formulas, that it fetches nothing, that learner text stays text, and a whole
page made through the worker process with a hostile sentence."""

from __future__ import annotations

import re

from app_support.handout import handout, handout_html

PAYLOAD = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [PWNED](javascript:alert(1)) **PWNED** "
    "$PWNED^2$ :red[PWNED] </script><!-- river bank"
)


def test_markdown_renders_the_lessons_subset_and_formulas():
    out = handout_html.markdown(
        "**Predict first.** Which *word*? `code` and $M_Q \\in \\mathbb{R}^{d}$, then\n\n$$S = I I^T$$\n\n- a\n- b"
    )
    assert "<strong>Predict first.</strong>" in out
    assert "<em>word</em>" in out and "<code>code</code>" in out
    assert '<span class="tex">M_Q \\in \\mathbb{R}^{d}</span>' in out
    assert '<div class="tex-display">S = I I^T</div>' in out
    assert "<ul>" in out and "<li>a</li>" in out
    assert handout_html.markdown_inline("A :blue[coloured] word :material/info:") == "A coloured word "


def test_markdown_keeps_learner_text_as_text():
    out = handout_html.markdown(PAYLOAD + " ![x](http://example.invalid/x.png) [ok](https://example.org)")
    assert "<script" not in out and "<img" not in out and "<!--" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert 'href="javascript' not in out
    assert '<a href="https://example.org">ok</a>' in out  # an ordinary link stays a link
    # what a page escaped (sentence.md_escape) stays literal: no emphasis, no formula
    from app_support.kit.sentence import md_escape

    escaped = handout_html.markdown(md_escape("**PWNED** $PWNED^2$ <b>PWNED</b>"))
    assert "<strong>" not in escaped and 'class="tex"' not in escaped and "<b>" not in escaped
    assert "**PWNED** $PWNED^2$ &lt;b&gt;PWNED&lt;/b&gt;" in escaped


def test_a_dollar_that_is_escaped_is_no_formula():
    assert 'class="tex"' not in handout_html.markdown("costs \\$5 and \\$6")
    assert handout_html.tex("a < b & c", False) == '<span class="tex">a &lt; b &amp; c</span>'


def test_figure_data_cannot_end_its_script_element():
    spec = {"data": [{"type": "bar", "x": ["</script><script>alert(1)</script>", "<!--"], "y": [1, 2]}]}
    out = handout_html.figure(spec, {"toImageButtonOptions": {"filename": "attnviz_x"}}, 3)
    assert out.count("</script>") == 1 and "<script>alert" not in out and "<!--" not in out
    assert 'id="figure-3"' in out


def test_the_file_fetches_nothing():
    doc = handout_html.document("<b>title</b>", "<div>about</div>", "<p>body</p>")
    assert doc.startswith("<!DOCTYPE html>")
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in doc
    assert "default-src 'none'" in doc  # the file's own policy: it could not fetch even if it tried
    outside = re.sub(r"<script>.*?</script>", "", doc, flags=re.S)  # the libraries' code aside
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", outside)
    assert not re.search(r"url\((?!data:)", handout_html.katex_css())
    assert handout_html.katex_css().count("font-family:KaTeX_") >= 15  # the fonts KaTeX uses, all embedded
    assert doc.count("plotly.js v") == 1  # plotly.js once


def test_katex_is_a_classic_script():
    js = handout_html.katex_js()
    assert js.rstrip().endswith(";window.katex=Ta;})();") or "window.katex=" in js[-80:]
    assert not re.search(r"export\s*\{", js)


def test_the_handout_leaves_out_presenter_mode_and_the_class():
    params = {"sentence": "a b", "present": "true", "class": "K7QF", "teacher": "secret", "l4_scale": "true"}
    assert handout.handout_params(params) == {"sentence": "a b", "l4_scale": "true"}


def test_a_page_handout_with_a_hostile_sentence():
    """The whole way, through the worker process: the page's text, revealed answers and figures, and the hostile
    sentence shown as text everywhere (the header, the page's own messages, the figures' data)."""
    text = handout.handout(
        "lessons/similarity.py", {"sentence": PAYLOAD}, title="2 · The similarity matrix", base="http://h/similarity"
    )
    assert "could not be made" not in text
    body = text[text.index("<body>") :]
    scripts = re.findall(r"<script[^>]*>", body)
    # the page's own scripts only: the drawing script, the SVG buttons' script, and the figures' data (JSON)
    plain = [s for s in scripts if s == "<script>"]
    data = [s for s in scripts if s.startswith('<script type="application/json" class="figure-spec" data-for="')]
    assert len(plain) == 2 and len(plain) + len(data) == len(scripts)
    outside = re.sub(r"<script[^>]*>.*?</script>", "", body, flags=re.S)
    assert "<img" not in outside and "<!--" not in outside and 'href="javascript' not in outside
    assert "<strong>PWNED" not in outside and 'class="tex">PWNED' not in outside
    assert "“&lt;script&gt;alert(1)&lt;/script&gt;" in outside  # the sentence in the header, as typed
    assert "<h1>2 · The similarity matrix</h1>" in outside
    assert "<strong>Predict first.</strong>" in outside  # the questions, answered: what follows them is there
    assert text.count('class="figure-spec"') >= 4
    assert '<div class="tex-display">' in outside  # the page's st.latex
    assert 'href="http://h/similarity?sentence=' in outside


def test_a_page_whose_address_is_not_its_file_name():
    """Page 6c lives at /efficient-scaling, its script is efficient_scaling.py: the handout is of that page, with the
    setting its link carries."""
    params = {"sentence": "the cat sat on the mat", "l6c_max": "1024"}
    heading, body = handout.render_page("lessons/efficient_scaling.py", params)
    assert heading.startswith("6c"), heading
    assert f"<h1>{heading}</h1>" in body
    assert 'class="figure-spec"' in body
    assert "Longest sequence: <b>1024</b>" in body  # the link's setting, not the default 2048

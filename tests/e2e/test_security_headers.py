"""The Content-Security-Policy in a real Chromium: the course works under it with no violation reported, on a page
with plotly charts and KaTeX formulas, in presenter mode (the app's own inline script), through the handout download
and a figure's camera; and a script put into the page from outside is refused."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import settle

pytestmark = pytest.mark.e2e

WATCH = """window.attnvizViolations = [];
document.addEventListener('securitypolicyviolation', e => window.attnvizViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}:${e.lineNumber}`));"""


def test_the_course_runs_under_its_policy(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(120_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        response = page.goto(f"{server}/similarity")
        assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
        settle(page)
        assert page.locator(".js-plotly-plot .main-svg").count() >= 1 and page.locator(".katex").count() >= 1
        with page.expect_download(timeout=300_000) as handout:
            page.get_by_role("button", name="Download a handout of this page").first.click()
        assert handout.value.suggested_filename.endswith(".html")
        chart = page.locator(".js-plotly-plot").first
        chart.hover()
        with page.expect_download() as png:
            chart.locator('.modebar-btn[data-title^="Download plot"]').click()
        assert png.value.suggested_filename.endswith(".png")
        assert page.evaluate("window.attnvizViolations") == []

        page.goto(f"{server}/similarity?present=true")  # presenter mode runs the app's own inline script
        settle(page)
        page.wait_for_function("() => typeof window.attnvizFitFormulas === 'function'", timeout=30_000)
        assert page.evaluate("window.attnvizViolations") == []
        assert console == []

        # what the policy is for: an inline script that is not the app's own does not run
        page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.injected = true'; document.body.appendChild(s); }""")
        page.wait_for_timeout(300)
        assert page.evaluate("window.injected === undefined")
        assert any("script-src" in v for v in page.evaluate("window.attnvizViolations"))
    finally:
        context.close()

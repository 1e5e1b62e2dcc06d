"""The app in a real browser: pages load cleanly, the sentence drives the pictures, the URL keeps it."""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from app_support.efficient.efficient_sections import part_of
from attnviz.efficient import REGISTRY
from tests.e2e.conftest import PAGES, SHOTS

pytestmark = pytest.mark.e2e

RIVER = ["i", "walked", "by", "the", "river", "bank"]
MONEY = ["i", "deposited", "money", "at", "the", "bank"]


IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
# Idle, no skeletons, every chart drawn, and nothing added or removed for QUIET_MS. Streamlit loads the code of
# plotly charts, radios and buttons lazily and shows a skeleton meanwhile: on a busy machine the script has long
# finished ("notRunning") while the page still holds skeletons, and an empty list of charts counts as all drawn.
QUIET_MS = 500
SETTLED = """(quiet) => {
    const idle = !!document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]')
        && !document.querySelector('[data-testid=stSkeleton]');
    const charts = [...document.querySelectorAll('[data-testid=stPlotlyChart]')];
    const drawn = charts.every(c => c.querySelector('.js-plotly-plot .main-svg'));
    const blocks = document.querySelectorAll('[data-testid=stElementContainer], .element-container').length;
    const signature = `${idle}:${charts.length}:${blocks}:${drawn}`;
    const now = performance.now();
    if (window.__settleSignature !== signature) {
        window.__settleSignature = signature;
        window.__settleSince = now;
        return false;
    }
    return idle && drawn && now - window.__settleSince >= quiet;
}"""


def settle(page) -> None:
    """Wait until the app has run its script, every lazy element has loaded, plotly has drawn every chart and the
    page has stopped changing."""
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=90_000, polling=100)


def reveal_all(page) -> None:
    """Answer every "predict first" question by skipping it."""
    quiet = 0
    for _ in range(20):
        skip = page.get_by_role("button", name="Skip — just show me")
        if skip.count() == 0:
            # on a busy machine a page can look finished before its last part is drawn: look twice, a second apart
            quiet += 1
            if quiet == 2:
                return
            page.wait_for_timeout(1_000)
            settle(page)
            continue
        quiet = 0
        skip.first.click()
        page.wait_for_timeout(300)
        settle(page)


def shoot(page, name: str) -> None:
    """A screenshot as a 1280×800 screen shows it, and one of the whole page."""
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, body')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 100, 12_000)})
    settle(page)
    page.screenshot(path=str(SHOTS / f"{name}-full.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def errors_on(page) -> list[str]:
    boxes = page.locator("[data-testid=stException], [data-testid=stAlertContentError]")
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


ROWS_JS = """() => [...(document.querySelector('.js-plotly-plot')?.querySelectorAll('g.ytick') ?? [])]
    .map(t => [t.getBoundingClientRect().top, t.textContent]).sort((a, b) => a[0] - b[0]).map(p => p[1])"""


def heatmap_rows(page, expected: list[str]) -> list[str]:
    """The row labels of the page's first heatmap, top to bottom on screen (plotly's DOM order varies), once
    they equal ``expected`` (or after 20 s)."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"() => JSON.stringify(({ROWS_JS})()) === {json.dumps(json.dumps(expected))}", timeout=20_000
        )
    return page.evaluate(ROWS_JS)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_without_error(server, page, name):
    page.goto(f"{server}/{PAGES[name]}")
    settle(page)
    assert page.locator("h1").first.inner_text()[0].isdigit()
    assert page.get_by_text("Page not found").count() == 0
    reveal_all(page)
    # at least three charts drawn (the scaling lab draws one until something is measured); on a busy machine the
    # rerun after the last "skip" may still be drawing
    expect(page.locator(".js-plotly-plot").nth(0 if name == "efficient-scaling" else 2)).to_be_attached(timeout=30_000)
    settle(page)
    assert errors_on(page) == []
    shoot(page, f"lesson-{name}")


def test_plotlys_code_is_requested_before_the_app_connects(server, page):
    """`server_patches.load_chart_code_early`: on any page (here a deep link), the browser asks for plotly's chunk
    once, before it even opens the connection on which the first chart will arrive, and Streamlit uses that load."""
    events: list[tuple[str, str]] = []
    page.on("request", lambda r: events.append(("chunk", r.url)) if "/PlotlyChart." in r.url else None)
    page.on("websocket", lambda ws: events.append(("connect", ws.url)))
    page.goto(f"{server}/{PAGES['similarity']}")
    settle(page)
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    kinds = [kind for kind, _ in events]
    assert kinds.count("chunk") == 1, events
    assert kinds.index("chunk") < kinds.index("connect"), events
    assert errors_on(page) == []


def test_typing_a_sentence_updates_heatmap_and_url(server, page):
    page.goto(f"{server}/similarity")
    settle(page)
    assert heatmap_rows(page, RIVER) == RIVER
    box = page.get_by_label("Your sentence (page 5c has its own)", exact=True)
    box.fill("I deposited money at the bank")
    box.press("Control+Enter")  # a text area: Enter is a new line
    page.wait_for_function("() => decodeURIComponent(location.search.replace(/\\+/g, ' ')).includes('deposited')")
    settle(page)
    assert heatmap_rows(page, MONEY) == MONEY
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["sentence"] == ["I deposited money at the bank"]
    # a reload loses nothing, and the other lesson sees the same sentence
    page.reload()
    settle(page)
    expect(page.get_by_label("Your sentence (page 5c has its own)", exact=True)).to_have_value(
        "I deposited money at the bank", timeout=30_000
    )
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="1 · Words as vectors").click()
    settle(page)
    assert "deposited" in urllib.parse.unquote_plus(page.url)
    assert heatmap_rows(page, MONEY) == MONEY
    shoot(page, "sentence-typed")


def test_link_with_hostile_sentence_executes_nothing(server, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hostile = "<img src=x onerror=alert(1)> <script>alert(2)</script> bank"
    page.goto(f"{server}/similarity?sentence={urllib.parse.quote(hostile)}")
    settle(page)
    reveal_all(page)
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0
    expect(page.get_by_label("Your sentence (page 5c has its own)", exact=True)).to_have_value(hostile, timeout=30_000)
    assert errors_on(page) == []
    shoot(page, "hostile-link")


def test_training_in_the_browser_shows_progress_then_results(server, page):
    page.goto(f"{server}/projections?sentence=my+neighbour+owns+an+enormous+dog")
    settle(page)
    page.get_by_text("Trained here", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Train").click()
    page.wait_for_selector("[data-testid=stProgress]", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stProgress]')?.innerText.includes('Step')", timeout=60_000
    )
    page.screenshot(path=str(SHOTS / "lesson-projections-training.png"))
    expect(page.get_by_text("Held-out: trained")).to_be_visible(timeout=120_000)
    settle(page)
    assert page.locator("[data-testid=stProgress]").count() == 0
    reveal_all(page)
    assert errors_on(page) == []
    shoot(page, "lesson-projections-trained")


def test_real_model_in_the_browser(server, page):
    page.goto(f"{server}/projections")
    settle(page)
    page.get_by_text("From a real transformer (MiniLM)", exact=True).click()
    settle(page)
    reveal_all(page)
    expect(page.get_by_text("all-MiniLM-L6-v2", exact=False)).to_be_visible()
    assert errors_on(page) == []
    shoot(page, "lesson-projections-real")


def test_causal_switch_in_the_browser(server, page):
    page.goto(f"{server}/softmax")
    settle(page)
    reveal_all(page)
    page.get_by_text("Causal mask", exact=True).click()
    settle(page)
    expect(page.get_by_text("cells above the diagonal are exactly 0", exact=False)).to_be_visible()
    assert errors_on(page) == []
    shoot(page, "lesson-softmax-causal")


def plot_data(page, key: str) -> list[dict]:
    """The traces plotly drew for the chart with Streamlit key ``key`` (names, axes and labels only)."""
    return page.evaluate(
        f"() => (document.querySelector('.st-key-{key} .js-plotly-plot')?.data ?? [])"
        ".map(t => ({name: t.name ?? null, y: Array.from(t.y ?? []).map(String), type: t.type}))"
    )


def plot_title(page, key: str) -> str:
    """The chart's title as text (Streamlit's theme wraps it in <b>)."""
    title = page.evaluate(f"() => document.querySelector('.st-key-{key} .js-plotly-plot')?.layout?.title?.text ?? ''")
    return re.sub(r"<[^>]+>", "", title)


def wait_chart(page, key: str, condition: str = "d.length > 0") -> None:
    """Wait until the chart with Streamlit key ``key`` has drawn traces ``d`` that meet ``condition``."""
    try:
        page.wait_for_function(
            f"() => {{ const d = document.querySelector('.st-key-{key} .js-plotly-plot')?.data; "
            f"return !!d && ({condition}) }}",
            timeout=30_000,
        )
    except PlaywrightTimeout:
        page.screenshot(path=str(SHOTS / f"timeout-{key}.png"), full_page=True)  # what the learner would see
        raise


def skip(page, key: str) -> None:
    """Skip the "predict first" question ``key`` once it is on the page (robust to a page still drawing)."""
    page.locator(f".st-key-{key}_skip button").click(timeout=60_000)
    settle(page)


def pick(page, key: str, option: str) -> None:
    """Choose ``option`` in the selectbox with Streamlit key ``key`` (a rerun may close the list: try again)."""
    for _ in range(5):
        page.locator(f".st-key-{key} button[aria-label=Open]").click()
        choice = page.locator("[role=option]").filter(has=page.get_by_text(option, exact=True)).first
        try:
            choice.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            settle(page)
    settle(page)


def test_multihead_slider_changes_the_heads(server, page):
    page.goto(f"{server}/multihead?sentence={urllib.parse.quote('the cat sat on the mat because it was tired')}")
    settle(page)
    skip(page, "mh_predict")
    wait_chart(page, "mh_grid")
    assert len(plot_data(page, "mh_grid")) == 4
    slider = page.get_by_role("slider", name="Heads H")
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('mh_heads=5')")
    settle(page)
    wait_chart(page, "mh_grid", "d.length === 5")
    assert plot_data(page, "mh_grid")[0]["y"][:3] == ["the", "cat", "sat"]
    assert errors_on(page) == []
    shoot(page, "multihead-five-heads")
    # a link with too many heads explains itself and shows the default
    page.goto(f"{server}/multihead?mh_heads=12")
    settle(page)
    expect(page.get_by_text("this layer has 1 to 8")).to_be_visible()
    assert errors_on(page) == []


def test_real_heads_enlarge_and_special_tokens(server, page):
    page.goto(f"{server}/real-heads?sentence={urllib.parse.quote('the cat sat on the mat because it was tired')}")
    settle(page)
    skip(page, "real_predict")
    wait_chart(page, "real_grid")
    assert plot_data(page, "real_grid")[0]["y"][0] == "[CLS] (layer 1)"
    pick(page, "real_layer", "6")
    pick(page, "real_head", "12")
    page.wait_for_function("() => location.search.includes('real_layer=6') && location.search.includes('real_head=12')")
    # the address changes as the choice is made, the chart once the rerun it asked for has run (later when busy)
    page.wait_for_function(
        "() => (document.querySelector('.st-key-real_large .js-plotly-plot')?.layout?.title?.text ?? '')"
        ".replace(/<[^>]+>/g, '').startsWith('Layer 6 · head 12')",
        timeout=30_000,
    )
    assert plot_title(page, "real_large").startswith("Layer 6 · head 12")
    assert plot_data(page, "real_large")[0]["y"][0] == "[CLS]"
    page.locator(".st-key-real_special label").click()
    settle(page)
    wait_chart(page, "real_large", "d[0].y[0] === 'the'")
    expect(page.get_by_text("[CLS] and [SEP] are left out")).to_be_visible()
    pick(page, "real_focus", "it")
    assert errors_on(page) == []
    shoot(page, "real-heads-layer6-head12")


def test_real_examples_words_can_be_edited(server, page):
    page.goto(f"{server}/real-examples")
    settle(page)
    skip(page, "real_coref_predict")
    skip(page, "real_drift_predict")
    wait_chart(page, "real_coref_top")
    wait_chart(page, "real_drift_chart")
    assert [t["name"] for t in plot_data(page, "real_drift_chart")] == ["A vs B", "A vs C"]
    box = page.get_by_label("It means, in A", exact=True)
    box.fill("dog")
    box.press("Enter")
    settle(page)
    expect(page.get_by_text("'dog' is not a word of the sentence")).to_be_visible()
    assert page.locator(".st-key-real_coref_top").count() == 0
    assert plot_data(page, "real_drift_chart")  # the other example is untouched
    shoot(page, "real-examples-missing-word")
    box.fill("cat")
    box.press("Enter")
    settle(page)
    wait_chart(page, "real_coref_top")  # the question stays answered
    assert errors_on(page) == []


# --------------------------------------------------------------------------------------------------------------
# Lesson 6: efficient attention
# --------------------------------------------------------------------------------------------------------------

EFFICIENT = tuple(REGISTRY)  # the one list of variants


@pytest.mark.parametrize("name", EFFICIENT)
def test_efficient_section(server, page, name):
    cat = urllib.parse.quote("the cat sat on the mat because it was tired")
    page.goto(f"{server}/efficient?l6_variant={name}&sentence={cat}")
    settle(page)
    skip(page, f"l6_predict_{name}")
    wait_chart(page, "l6_exact")
    wait_chart(page, "l6_approx")
    assert plot_data(page, "l6_exact")[0]["y"][:3] == ["[CLS]", "the", "cat"]
    if REGISTRY[name].swept is not None:  # a knob whose error the page sweeps
        wait_chart(page, "l6_sweep")
    if REGISTRY[name].pattern is not None:  # what the pattern drops, row by row
        wait_chart(page, "l6_dropped")
    for key in part_of(name).charts:  # its own parts' charts (the module its record names)
        wait_chart(page, key)
    assert errors_on(page) == []
    shoot(page, f"efficient-{name}")


def test_efficient_flash_steps(server, page):
    page.goto(f"{server}/efficient?l6_variant=flash&l6_tile=4")
    settle(page)
    skip(page, "l6_predict_flash")
    wait_chart(page, "l6_flash_tiles")
    expect(page.get_by_text("Tile 1 of 4", exact=False)).to_be_visible()  # 8 tokens: 2 × 2 tiles, the first first
    expect(page.get_by_text("This is the rows' first tile", exact=False)).to_be_visible()
    assert "l6_step" not in page.url  # the default stays out of the link
    slider = page.locator(".st-key-l6_step").get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('l6_step=2')")
    settle(page)
    expect(page.get_by_text("their output is final", exact=False)).to_be_visible()
    slider.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('l6_step=3')")
    settle(page)
    expect(page.get_by_text("Tile 3 of 4", exact=False)).to_be_visible()
    expect(page.get_by_text("their output still changes", exact=False)).to_be_visible()
    assert errors_on(page) == []
    shoot(page, "efficient-flash-step3")


def test_efficient_toy_source_and_bad_link(server, page):
    page.goto(f"{server}/efficient?l6_variant=nonsense&l6_source=toy")
    settle(page)
    expect(page.get_by_text("which this lesson does not have", exact=False)).to_be_visible()
    skip(page, "l6_predict_flash")
    wait_chart(page, "l6_exact")
    assert plot_data(page, "l6_exact")[0]["y"][:2] == ["i", "walked"]
    assert errors_on(page) == []
    shoot(page, "efficient-toy-bad-link")


def test_efficient_swap(server, page):
    page.goto(f"{server}/efficient-swap?l6b_variant=longformer&l6b_window=3")
    settle(page)
    skip(page, "l6b_predict")
    wait_chart(page, "l6b_cosines")
    wait_chart(page, "l6b_sim_variant")
    assert errors_on(page) == []
    shoot(page, "efficient-swap-longformer")


def test_efficient_scaling_lab_measures(server, page):
    page.goto(f"{server}/efficient-scaling?l6c_max=512")
    settle(page)
    skip(page, "l6c_predict")
    page.locator(".st-key-l6c_run button").click()
    expect(page.get_by_text("Measured 10 case(s).", exact=False)).to_be_visible(timeout=300_000)
    settle(page)
    wait_chart(page, "l6c_median_s", "d.length >= 4")
    assert errors_on(page) == []
    shoot(page, "efficient-scaling")

"""Lesson 6c in a real browser: Cancel stops the measurement at once, and the closing table reads whole."""

from __future__ import annotations

import os
import re
import time
import urllib.parse

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from attnviz.efficient import REGISTRY
from tests.e2e.test_browser import errors_on, settle, shoot, skip

pytestmark = pytest.mark.e2e

# variants the other browser tests do not measure (the server keeps every measurement), 256 to 1,024 tokens: from the
# registry, each variant's own case that does not compute every score, less those in 6c's default choice (which
# test_browser's scaling test measures)
MEASURED_ELSEWHERE = ("longformer", "performer")
CASES = tuple(
    name
    for name, spec in REGISTRY.items()
    if name in spec.cases and not spec.cases[name].exact and name not in MEASURED_ELSEWHERE
)
URL = "efficient-scaling?l6c_max=1024&" + "&".join(f"l6c_cases={c}" for c in CASES)
MEASURE = re.compile(r"Measure (\d+) new case")


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: str) -> str | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((line.split()[1] for line in f if line.startswith("PPid:")), None)
    except OSError:
        return None


def _state(pid: str) -> str | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((line.split()[1] for line in f if line.startswith("State:")), None)
    except OSError:
        return None


def server_pid(url: str) -> str:
    """The pid of the server the `server` fixture started (found by its port, without psutil)."""
    port = str(urllib.parse.urlsplit(url).port)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        words = _cmdline(pid).split()
        if "app_support.server.serve" in words and port in words:
            return pid
    raise AssertionError(f"no server on port {port} in /proc")


def measuring_children(server: str) -> list[str]:
    """Live processes measuring a case (`python -m attnviz.scaling`) whose parent is the server."""
    return [
        pid
        for pid in filter(str.isdigit, os.listdir("/proc"))
        if _parent(pid) == server and "attnviz.scaling" in _cmdline(pid) and _state(pid) not in (None, "Z")
    ]


def new_cases(page) -> int:
    label = page.locator(".st-key-l6c_run button").inner_text()
    found = MEASURE.search(label)
    assert found, label
    return int(found.group(1))


def test_cancel_stops_the_child_at_once_and_keeps_what_was_measured(server, page):
    parent = server_pid(server)
    page.goto(f"{server}/{URL}")
    settle(page)
    skip(page, "l6c_predict")
    todo = new_cases(page)
    assert todo >= 3, "these cases were measured before on this server: nothing left to cancel"
    page.locator(".st-key-l6c_run button").click()
    # let one case finish, then catch the next one running
    expect(page.get_by_text(f"(case 2 of {todo})", exact=False)).to_be_visible(timeout=180_000)
    deadline = time.monotonic() + 30
    while not (running := measuring_children(parent)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running, "no measuring child process while the progress bar runs"
    page.locator(".st-key-l6c_cancel button").click()
    deadline = time.monotonic() + 5  # the page polls every 0.2 s: the child must go at once, not after the run

    def gone() -> bool:  # an exiting process loses its command line a moment before it turns zombie or vanishes
        return not measuring_children(parent) and all(_state(pid) in (None, "Z") for pid in running)

    while not gone() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert measuring_children(parent) == [], "Cancel left a measuring child running"
    assert all(_state(pid) in (None, "Z") for pid in running), [(pid, _state(pid)) for pid in running]
    # the page redraws with what was measured: the note, the table, and the rest still to measure
    note = page.get_by_text("Measurement stopped after", exact=False)
    expect(note).to_be_visible(timeout=30_000)
    settle(page)
    done = int(re.search(r"after (\d+) of", note.inner_text()).group(1))
    assert 1 <= done < todo
    assert new_cases(page) == todo - done
    expect(page.locator(".st-key-l6c_median_s")).to_be_visible()  # the curves of what was measured
    expect(page.locator("[data-testid=stDataFrame]")).to_have_count(1)  # and its table
    assert errors_on(page) == []
    shoot(page, "efficient-scaling-cancelled")
    # the lock was released: a new measurement starts (and is cancelled again, leaving the server idle)
    page.locator(".st-key-l6c_run button").click()
    expect(page.get_by_text(f"(case 1 of {todo - done})", exact=False)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Another measurement is running", exact=False)).to_have_count(0)
    page.locator(".st-key-l6c_cancel button").click()
    expect(page.get_by_text("Measurement stopped after", exact=False)).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 5
    while measuring_children(parent) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert measuring_children(parent) == []


@pytest.mark.parametrize("present", [False, True])
def test_closing_table_reads_whole(server, page, present):
    """The course's summary slide: every column of "Which to choose" is on screen at 1280×800, names unclipped."""
    page.goto(f"{server}/efficient-scaling" + ("?present=true" if present else ""))
    settle(page)
    if present:  # presenter mode reveals one step at a time: show them all
        page.get_by_role("button", name="Show all steps").click()
        settle(page)
    skip_buttons = page.get_by_role("button", name="Skip — just show me")
    if skip_buttons.count():
        skip_buttons.first.click()
        settle(page)
    table = page.locator("[data-testid=stTable]").filter(has_text="choose it for")
    for attempt in range(3):  # a busy machine caught the table between two reruns (detached): settle and look again
        expect(table).to_have_count(1)
        expect(table).to_be_visible()
        try:
            table.scroll_into_view_if_needed(timeout=10_000)
            break
        except PlaywrightError:
            if attempt == 2:
                raise
            settle(page)
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
    headers = table.locator("th")
    names = [headers.nth(i).inner_text().strip() for i in range(headers.count())]
    for column in ("variant", "keeps exact", "gives up", "time", "extra memory", "choose it for"):
        assert column in names, names
    for i in range(headers.count()):  # every header cell inside the table's box and the window
        cell = headers.nth(i).bounding_box()
        assert (
            cell is not None and cell["x"] >= box["x"] - 1 and cell["x"] + cell["width"] <= box["x"] + box["width"] + 1
        )
        assert cell["x"] + cell["width"] <= 1280
    # the row names are whole: no cell clips its text
    clipped = table.evaluate(
        "t => [...t.querySelectorAll('th, td')].filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText)"
    )
    assert clipped == []
    assert table.get_by_text("Multi-Query / Grouped-Query Attention", exact=True).count() == 1
    shoot(page, "efficient-scaling-choose" + ("-present" if present else ""))

"""The live class as a teacher met it on a projector and students' phones (issue 23, items 3, 4, 5, 10 and 11), in
real Chromium on two replicas of `python -m server.serve --replicas 2` (what `make class` starts) sharing one
class store:

* a student who opens the students' link on a phone (390×844) lands on the teacher's page and text, following,
  with the class, their name box and *Follow the teacher* on the page itself (item 4);
* a lesson link of the sidebar keeps ``?class=`` and a reload keeps the class, on the phone and on the projector
  (1920×1080, presenter mode) (item 3); the class ending is said on the phone's page (item 4);
* the same student reopening the page on the other replica has their name and ticked answer back (item 10);
* the teacher link opened in a fresh browser (1280×800) lands on the class's page and text (item 5);
* Reveal reaches a student's screen on the other replica in about a second (item 11): measured from the teacher's
  click to the verdict appearing, both by the browser's clock; the figures go to
  artifacts/screenshots/reveal-latency.txt.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SHOTS
from tests.e2e.test_browser import settle
from tests.e2e.test_live_class import replicas  # noqa: F401  (the fixture: two replicas, one store)

pytestmark = pytest.mark.e2e

TEXT = "the cat sat on the mat"
OPTION = "the word with itself (the diagonal)"  # the first question of the similarity lesson
VERDICT = re.compile(r"^(Right\.|Not this time|You did not answer in time)")
ROUNDS = 5  # reveals measured


def _context(browser, width: int, height: int, **extra):
    context = browser.new_context(viewport={"width": width, "height": height}, **extra)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _start_presenting(teacher, url: str) -> str:
    """The teacher opens ``url``, starts a class, turns on presenter mode and shows the first class question."""
    teacher.goto(url)
    settle(teacher)
    teacher.get_by_role("button", name="Start a class").click()
    expect(teacher.get_by_text(re.compile(r"^Class [A-Z0-9]{4} · you are teaching$"))).to_be_visible()
    code = re.search(r"[?&]class=([A-Z0-9]+)", teacher.url).group(1)
    teacher.get_by_text("Presenter mode", exact=True).click()
    settle(teacher)
    for _ in range(6):
        if teacher.get_by_role("button", name="Reveal the answer").count():
            break
        teacher.get_by_role("button", name=re.compile("Next step")).first.click()
        settle(teacher)
    expect(teacher.get_by_role("button", name="Reveal the answer").first).to_be_visible()
    return code


def test_the_class_reaches_phones_reloads_and_replicas(browser, replicas):  # noqa: F811
    _, port, _ = replicas
    dialogs: list[str] = []
    teacher_ctx, teacher = _context(browser, 1920, 1080)
    phone_ctx, phone = _context(browser, 390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    contexts = [teacher_ctx, phone_ctx]
    for pg in (teacher, phone):
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        code = _start_presenting(teacher, f"http://127.0.0.1:{port}/similarity?sentence={TEXT.replace(' ', '+')}")
        teacher.wait_for_timeout(2_500)  # the teacher's view is shared every 1 s

        # item 4: the students' link (the first lesson's address) on a phone, on the other replica
        phone.goto(f"http://127.0.0.1:{port + 1}/?class={code}")
        expect(phone.get_by_role("heading", name="2 · The similarity matrix")).to_be_visible(timeout=60_000)
        settle(phone)
        assert _query(phone).get("sentence") == [TEXT] and _query(phone).get("class") == [code]
        bar = phone.locator(".st-key-cls_student_bar")
        expect(bar.get_by_text(f"Class {code} · joined")).to_be_in_viewport()
        name_box = phone.get_by_role("textbox", name="Your name (optional)")
        expect(name_box).to_be_in_viewport()  # at the top of the page: the sidebar is folded on a phone
        expect(phone.locator(".st-key-cls_follow input")).to_be_checked()
        phone.screenshot(path=str(SHOTS / "class-phone-joined.png"))
        name_box.fill("Ana")
        name_box.press("Enter")
        settle(phone)
        phone.get_by_text(OPTION, exact=True).first.click()
        expect(phone.get_by_text(re.compile("^Your answer is in")).first).to_be_visible()

        # item 3: a lesson link of the sidebar, then a reload: still in the class
        # following off: else the page goes back to the teacher's
        phone.locator(".st-key-cls_follow").get_by_text("Follow the teacher").click()
        settle(phone)
        phone.locator('[data-testid="stExpandSidebarButton"]').click()
        phone.locator('[data-testid="stSidebarNav"] a', has_text="4 · Softmax and scaling").click()
        expect(phone.get_by_role("heading", name="4 · Softmax and scaling")).to_be_visible()
        settle(phone)
        expect(phone).to_have_url(re.compile(rf"[?&]class={code}"))
        phone.reload()
        settle(phone)
        expect(phone.get_by_text(f"Class {code} · joined")).to_be_visible()
        teacher.reload()  # the projector: still teaching, its banner up, the class in the address
        settle(teacher)
        expect(teacher.locator(".st-key-cls_banner").get_by_text(f"Join the class: {code}")).to_be_visible()
        banner = teacher.locator(".st-key-cls_banner")
        qr = banner.get_by_role("img", name=f"QR code: The students' link to class {code}")
        expect(qr).to_be_visible()  # drawn, not only named: the browser decoded the picture
        assert qr.evaluate("img => img.complete && img.naturalWidth") > 0
        assert _query(teacher).get("class") == [code] and _query(teacher).get("present") == ["true"]
        teacher.screenshot(path=str(SHOTS / "class-projector-reloaded.png"))

        # item 10: the same phone opens the class on the other replica (port, not port + 1): name and answer back
        phone.goto(f"http://127.0.0.1:{port}/similarity?class={code}")
        settle(phone)
        expect(phone.get_by_role("textbox", name="Your name (optional)")).to_have_value("Ana")
        expect(phone.get_by_role("radio", name=OPTION).first).to_be_checked()
        expect(phone.get_by_text(re.compile("^Your answer is in")).first).to_be_visible()
        phone.screenshot(path=str(SHOTS / "class-phone-other-replica.png"), full_page=False)

        # item 5: the teacher link in a fresh browser opens the class's page and text
        token = next(c["value"] for c in teacher_ctx.cookies() if c["name"] == f"attnviz_teacher_{code}")
        laptop_ctx, laptop = _context(browser, 1280, 800)
        contexts.append(laptop_ctx)
        laptop.goto(f"http://127.0.0.1:{port + 1}/?class={code}&teacher={token}")
        expect(laptop.get_by_role("heading", name="2 · The similarity matrix")).to_be_visible(timeout=60_000)
        settle(laptop)
        expect(laptop.get_by_text(f"Class {code} · you are teaching")).to_be_visible()
        assert _query(laptop).get("sentence") == [TEXT] and "teacher" not in _query(laptop)
        laptop.screenshot(path=str(SHOTS / "class-teacher-link.png"))

        # item 4: the class ending is said on the phone's page, not only in its folded sidebar
        laptop.get_by_role("button", name="End the class").click()
        ended = phone.locator(".stMainBlockContainer").get_by_text(f"Class {code} has ended.")
        expect(ended).to_be_visible(timeout=15_000)
        phone.screenshot(path=str(SHOTS / "class-phone-ended.png"))
        assert not dialogs, dialogs
    finally:
        for ctx in contexts:
            ctx.close()


_WATCH_JS = """(pattern) => {
  const re = new RegExp(pattern);
  const seen = () => [...document.querySelectorAll('[data-testid="stAlert"]')].some((a) => re.test(a.innerText));
  window.__verdictAt = seen() ? -1 : 0;
  new MutationObserver((_, obs) => {
    if (!window.__verdictAt && seen()) { window.__verdictAt = Date.now(); obs.disconnect(); }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_a_reveal_reaches_a_student_in_about_a_second(browser, replicas):  # noqa: F811
    _, port, _ = replicas
    latencies: list[float] = []
    for _ in range(ROUNDS):
        teacher_ctx, teacher = _context(browser, 1920, 1080)
        student_ctx, student = _context(browser, 1280, 800)
        try:
            code = _start_presenting(teacher, f"http://127.0.0.1:{port}/similarity")
            student.goto(f"http://127.0.0.1:{port + 1}/similarity?class={code}")
            settle(student)
            expect(student.get_by_text(re.compile(r"^Choose an answer")).first).to_be_visible()
            student.wait_for_timeout(1_000)  # the reveal comes at any point of the student's polling cycle
            student.evaluate(_WATCH_JS, VERDICT.pattern)
            teacher.evaluate("document.addEventListener('click', () => { window.__revealAt = Date.now(); }, true)")
            teacher.get_by_role("button", name="Reveal the answer").first.click()
            # polled from here: Playwright's wait_for_function evaluates a string, which the page's CSP refuses; the
            # time itself is the browser's, taken by the page's observer when the verdict appears
            deadline = time.monotonic() + 30
            while student.evaluate("window.__verdictAt") == 0:
                assert time.monotonic() < deadline, "no verdict on the student's page within 30 s"
                student.wait_for_timeout(100)
            shown_at = student.evaluate("window.__verdictAt")
            clicked_at = teacher.evaluate("window.__revealAt")
            assert shown_at > 0, "the verdict was on the page before the reveal"
            latencies.append((shown_at - clicked_at) / 1000)
        finally:
            teacher_ctx.close()
            student_ctx.close()
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    summary = (
        f"reveal → student's verdict, {len(latencies)} reveals: median {statistics.median(latencies):.2f} s, "
        f"max {max(latencies):.2f} s ({', '.join(f'{x:.2f}' for x in latencies)}); CPU: {model}"
    )
    (SHOTS / "reveal-latency.txt").write_text(summary + "\n")
    print(summary)
    # asked every second (was 2 s: median 1.89 s, max 2.52 s on this busy machine); on a loaded CI machine the page's
    # own rerun after the poll adds up to a second, so the slowest of five is held to 2.5 s and the median to 1.5 s
    assert statistics.median(latencies) < 1.5 and max(latencies) < 2.5, summary

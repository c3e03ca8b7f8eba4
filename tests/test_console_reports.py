"""The console's Reports tab in a real browser (Debian's Chromium, Playwright) against a real
`assistant serve`: after four real conversations (one rated up, one rated down, one handed to
a person who answers in the console, one the assistant is unsure of) the figures, the charts
and the knowledge gaps say so; the tabs work by keyboard; a gap's "Write the answer" saves the
missing answer in one step; a phone screen shows it all without scrolling sideways; a lesson
learned from the conversations is forgotten with one click and not learned again, whether
`assistant kb learn` or the tab's "Learn from the conversations now" runs next.
With SAVE_SCREENSHOTS=1 the desktop screenshot refreshes docs/screenshots/console-reports.png.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from browser_support import AGENT, PASSWORD, ROOT, Chat, Server, chromium

pytestmark = pytest.mark.browser
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("SAVE_SCREENSHOTS") else \
    Path(tempfile.gettempdir()) / "assistant-screenshots"
GNOMES = "do you sell garden gnomes on mars?"
TRACKING = "How can I track my delivery?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get("BROWSER_TEST_URL"):
        pytest.skip("counts every conversation of the server: needs the test's own, not BROWSER_TEST_URL")
    with Server.running(tmp_path_factory.mktemp("reports") / "data") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with chromium(["--no-sandbox", "--disable-gpu"]) as b:
        yield b


class Agent:
    """An agent's console in a browser context of its own."""

    def __init__(self, browser: Any, url: str, **context: Any) -> None:
        self.context = browser.new_context(**{"viewport": {"width": 1400, "height": 900}, **context})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url + "/console")
        self.page.fill("#agent-name", AGENT)
        self.page.fill("#agent-password", PASSWORD)
        self.page.click("#signin-form button[type=submit]")
        self.page.locator("#app").wait_for()

    def reports(self) -> Any:
        """Open the Reports tab with a click and wait for its figures."""
        self.page.click("#tab-reports")
        self.page.locator("#panel-reports[aria-busy=false] .figure").first.wait_for()
        return self.page

    def close(self) -> None:
        assert self.errors == [], self.errors
        self.context.close()


@pytest.fixture(scope="module")
def history(server: Any, browser: Any) -> SimpleNamespace:
    """Four conversations through /ws/chat; the customer who asks for a person gets one."""
    from playwright.sync_api import expect

    chats = [Chat(server.url) for _ in range(4)]
    helped, unhelped, wants_person, out_of_scope = chats
    try:
        answer = helped.ask("How do I cancel my order?")
        assert answer["type"] == "answer" and answer["grounded"] is True
        helped.rate(answer, "up")
        answer = unhelped.ask(TRACKING)
        assert answer["type"] == "answer" and answer["grounded"] is True
        unhelped.rate(answer, "down")
        moved = wants_person.ask("I want to talk to a human")
        assert (moved["type"], moved["reason"]) == ("status", "customer_request")
        unsure = out_of_scope.ask(GNOMES)
        if unsure.get("options"):  # asked first: "is your question about placing an order?"
            unsure = out_of_scope.ask("no")
        assert unsure["type"] == "answer" and unsure["grounded"] is False and not unsure["options"]

        agent = Agent(browser, server.url)
        page = agent.page
        expect(page.locator("#tab-inbox")).to_have_text("Inbox (1 waiting)")  # seen from any tab
        page.locator(f".conv-item[data-conversation-id='{wants_person.conversation_id}']").click()
        page.click("#take-over")
        expect(page.locator("#reply")).to_be_enabled()
        expect(page.locator("#tab-inbox")).to_have_text("Inbox")
        page.fill("#reply", "Hello, Dana here. How can I help?")
        page.click("#send-reply")
        reply = wants_person.wait("agent_message")
        assert "Dana here" in reply["text"]
        wants_person.rate(reply, "up")  # a customer rates a person's reply like the assistant's
        agent.close()
        return SimpleNamespace(unsure_conversation=out_of_scope.conversation_id)
    finally:
        for chat in chats:
            chat.close()


def card(page: Any, key: str) -> Any:
    return page.locator(f".figure[data-figure={key}] .value")


def test_the_reports_tab_shows_what_happened(history: SimpleNamespace, browser: Any, server: Any) -> None:
    from playwright.sync_api import expect

    agent = Agent(browser, server.url)
    page = agent.page
    # Keyboard: the arrow moves the focus to the tab, Enter opens it; the focus is visible.
    page.focus("#tab-inbox")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-reports"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert page.locator("#panel-reports").is_hidden()  # moving the focus does not switch
    page.keyboard.press("Enter")
    expect(page.locator("#tab-reports")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-inbox")).to_have_attribute("tabindex", "-1")
    expect(page.locator("#panel-inbox")).to_be_hidden()
    expect(page.locator("#panel-reports")).to_be_visible()

    expect(card(page, "conversations")).to_have_text("4")
    expect(card(page, "csat_assistant")).to_have_text("50%")  # one up, one down
    expect(card(page, "handoff_rate")).to_have_text("25%")
    expect(card(page, "unsure_rate")).to_have_text("33%")  # one of the three answers
    expect(card(page, "first_agent_reply")).to_have_text(re.compile(r"^\d+(\.\d)? (s|min)$"))
    expect(card(page, "csat_agent")).to_have_text("100%")  # Dana's reply, rated up
    # Every conversation is minutes old: none has finished, so no resolution rate yet (not 0%).
    expect(card(page, "resolution_rate")).to_contain_text("—")

    charts = page.locator("figure.chart")
    expect(charts).to_have_count(4)
    assert charts.locator("svg > title").all_text_contents() == [
        "Conversations per day", "Assistant resolution rate per day", "Handoffs per day, by reason",
        "CSAT per day"]
    conversations = charts.nth(0)
    assert conversations.locator("svg").get_attribute("role") == "img"
    assert conversations.locator("svg rect").count() >= 1  # today's bar (and yesterday's, at midnight)
    # What a screen reader gets instead of the bars: the days with data, in a table.
    cells = conversations.locator("table tbody td").all_text_contents()
    assert sum(int(c) for c in cells) == 4
    resolution = charts.nth(1)
    expect(resolution.locator(".chart-empty")).to_have_count(1)  # nothing finished yet: no data
    handoffs = charts.nth(2)
    expect(handoffs.locator(".legend")).to_contain_text("customer_request")
    expect(handoffs.locator(".legend")).to_contain_text("Customer asked for a person")
    csat = charts.nth(3)
    assert csat.locator("table tbody td").first.text_content() == "50%"

    gnomes = page.locator("#report-gaps .gap", has_text=GNOMES)
    expect(gnomes).to_have_count(1)
    expect(gnomes.locator(".gap-why")).to_have_text("unsure 1")
    expect(gnomes.locator(".gap-examples li")).to_have_count(1)
    tracking = page.locator("#report-gaps .gap", has_text=TRACKING)
    expect(tracking.locator(".gap-why")).to_have_text("rated down 1")

    # One inbox, then a shorter period: each asks the server again, with the filter.
    assert page.locator("#reports-inbox option").all_inner_texts() == ["All my inboxes", "default"]
    with page.expect_response(lambda r: "/api/reports?" in r.url and "inbox=default" in r.url) as answer:
        page.select_option("#reports-inbox", "default")
    assert answer.value.ok
    with page.expect_response(lambda r: "/api/reports?" in r.url and "days=7" in r.url) as answer:
        page.select_option("#reports-days", "7")
    shown = answer.value.json()["range"]
    assert (shown["days"], shown["inbox"]) == (7, "default")
    expect(page.locator("#panel-reports")).to_have_attribute("aria-busy", "false")
    expect(card(page, "conversations")).to_have_text("4")
    expect(page.locator("#reports-status")).to_contain_text("inbox default")

    # All of it in the docs' screenshot: as tall as the panel.
    height = page.evaluate("document.querySelector('.top').offsetHeight"
                           " + document.querySelector('#panel-reports').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(2400, height)})
    page.evaluate("document.activeElement.blur()")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-reports.png"))

    # And back to the inbox by keyboard: Space selects too.
    page.focus("#tab-reports")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Space")
    expect(page.locator("#panel-inbox")).to_be_visible()
    expect(page.locator("#panel-reports")).to_be_hidden()
    agent.close()


def test_the_reports_fit_a_phone_screen(history: SimpleNamespace, browser: Any, server: Any) -> None:
    agent = Agent(browser, server.url, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = agent.reports()
    page.locator("#report-gaps .gap").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no scrolling sideways
    def boxes(selector: str) -> list[dict[str, float]]:
        return page.locator(selector).evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())")

    assert max(b["right"] for b in boxes(".figure, figure.chart, .gap")) <= 375
    widths = [b["width"] for b in boxes("figure.chart svg")]
    assert len(widths) == 4 and all(300 < w <= 375 for w in widths), widths  # scaled down by their viewBox
    assert len({b["left"] for b in boxes(".figure")}) == 2  # the cards wrap, two abreast
    agent.close()


def test_a_gap_is_answered_in_one_step(history: SimpleNamespace, browser: Any, server: Any) -> None:
    from playwright.sync_api import expect

    agent = Agent(browser, server.url)
    page = agent.reports()
    gap = page.locator("#report-gaps .gap", has_text=GNOMES)
    gap.get_by_role("button", name="Write the answer").click()
    dialog = page.locator("#save-dialog")
    expect(dialog).to_be_visible()
    assert page.locator("#save-request").input_value() == GNOMES
    assert page.locator("#save-resolution").input_value() == ""
    assert page.evaluate("document.activeElement.id") == "save-resolution"  # what is left to write
    page.fill("#save-resolution", "We deliver on Earth only: no garden gnomes for Mars, sorry.")
    page.click("#save-record")
    expect(dialog).to_be_hidden(timeout=60_000)  # embedding the new record takes a moment
    expect(gap.locator(".gap-saved")).to_have_text(f"Answer saved as console-{history.unsure_conversation}.")
    agent.close()
    # The assistant has learnt it: the next customer who asks gets the answer.
    with Chat(server.url) as chat:
        answer = chat.ask(GNOMES)
    assert answer["grounded"] is True and "Earth only" in answer["text"], json.dumps(answer)


def test_a_wrong_lesson_is_forgotten_from_the_reports_tab(history: SimpleNamespace, browser: Any,
                                                          server: Any) -> None:
    """`assistant kb learn` beside the running service learns the rated-up answer's question; the
    Reports tab lists it; "Forget" takes it out, and the next `kb learn` leaves it out."""
    from playwright.sync_api import expect

    learned = json.loads(server.kb("learn", "--json"))
    assert [(r["request"], r["intent"], r["signal"]) for r in learned["records"]] == [
        ("How do I cancel my order?", "cancel_order", "rated")]
    agent = Agent(browser, server.url)
    page = agent.reports()
    lesson = page.locator("#report-lessons .lesson", has_text="How do I cancel my order?")
    expect(lesson).to_contain_text("answer rated up")
    expect(lesson).to_contain_text("inbox default")
    expect(page.locator("#lessons-status")).to_have_text("1 lesson, newest first.")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#lessons-title").locator("..").screenshot(path=str(SHOTS / "console-lessons.png"))
    lesson.get_by_role("button", name="Forget “How do I cancel my order?”").click()
    expect(lesson).to_have_count(0)
    expect(page.locator("#lessons-status")).to_contain_text("will not be learned again")
    page.get_by_role("button", name="Learn from the conversations now").click()  # `kb learn`, in the service
    status = page.locator("#lessons-status")
    expect(status).to_have_text("0 new lessons from 1 confirmed message (1 left out).")
    expect(page.locator("#report-lessons .lesson")).to_have_count(0)
    agent.close()
    again = json.loads(server.kb("learn", "--json"))
    assert (again["confirmed"], again["learned"], again["left_out"]) == (1, 0, 1)

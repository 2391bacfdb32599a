"""The chat widget (connectors/static/widget.js) in a real browser: Debian's Chromium.

The live server (tests/connectors/conftest.py) answers with the demo store, the real embedding
model and a fake generator. Each test gets a fresh browser context (own localStorage), and
fails on any console error or uncaught page error it did not expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_THE_BAND
from tests.connectors.browser import CHROMIUM, artifact, launched_browser
from tests.connectors.conftest import faq_entry

if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WIDGET_JS = ROOT / "connectors" / "static" / "widget.js"
RED = "rgb(204, 0, 0)"  # the text colour of the demo page's hostile theme (/?hostile)
FAQ_ID = "return-window"  # the demo store's returns FAQ entry
PHONE = {"is_mobile": True, "has_touch": True, "device_scale_factor": 3}  # a phone's browser


# ---------------------------------------------------------------------------- fixtures
_, QUESTION, ANSWER = faq_entry(FAQ_ID)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_browser()


@dataclass
class Tab:
    """A page in its own browser context, with the console errors it produced."""

    page: Any
    url: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """A console error this test provokes on purpose (e.g. the browser logging a 413)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a.search(p) for a in self.allowed)]


def open_tab(browser: Any, url: str, **context: Any) -> Tab:
    """A page in a fresh context: desktop size unless ``viewport`` (and e.g. PHONE) say so."""
    viewport = context.pop("viewport", {"width": 1280, "height": 800})
    ctx = browser.new_context(viewport=viewport, **context)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    tab = Tab(page, url)
    page.on("console", lambda m: m.type == "error" and tab.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    return tab


@pytest.fixture
def tab(browser, live_server) -> Iterator[Tab]:
    tab = open_tab(browser, live_server.url)
    yield tab
    problems = tab.unexpected()
    tab.page.context.close()
    assert not problems, "the page logged errors:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------- helpers
def load_demo(tab: Tab, *, hostile: bool = True) -> Any:
    """The demo page; with ``hostile`` its careless-theme stylesheet is switched on."""
    page = tab.page
    page.goto(tab.url + ("/?hostile" if hostile else "/"))
    page.locator(".sb-launcher").wait_for()
    return page


def settled(page: Any) -> None:
    """Wait until the widget is not sending or loading anything."""
    page.wait_for_selector("shopbot-widget[data-busy='false']", state="attached")


def ask(page: Any, text: str) -> None:
    box = page.locator(".sb-input")
    box.fill(text)
    box.press("Enter")


def answers(page: Any) -> Any:
    """The bot's replies (not the greeting, not the typing indicator)."""
    return page.locator(".sb-msg--bot[data-action]")


def session_token(page: Any) -> str:
    return page.evaluate(
        """() => Object.entries(localStorage)
            .filter(([key]) => key.startsWith('shopbot.session:'))
            .map(([, value]) => value)[0] || null"""
    )


def shadow_style(page: Any, selector: str, prop: str) -> str:
    return page.evaluate(
        """([selector, prop]) => {
            const node = document.querySelector('shopbot-widget').shadowRoot
                .querySelector(selector);
            return getComputedStyle(node).getPropertyValue(prop);
        }""",
        [selector, prop],
    )


def shadow_focus(page: Any) -> str:
    """The class of the focused element inside the widget ('' when focus is elsewhere)."""
    return page.evaluate(
        """() => {
            const host = document.querySelector('shopbot-widget');
            if (document.activeElement !== host) return '';
            const inner = host.shadowRoot.activeElement;
            return inner ? inner.className : '';
        }"""
    )


def record(page: Any) -> None:
    """Note, in order, what the widget adds to its log and each connection notice shown."""
    page.evaluate(
        """() => {
            const root = document.querySelector('shopbot-widget').shadowRoot;
            const log = root.querySelector('.sb-log');
            const notice = root.querySelector('.sb-conn');
            window.__seen = [];
            new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach(
                (n) => n.nodeType === 1 && window.__seen.push('log ' + n.className)
            ))).observe(log, {childList: true});
            new MutationObserver(() => notice.hidden || window.__seen.push(
                'notice ' + notice.textContent
            )).observe(notice, {attributes: true, childList: true, subtree: true});
        }"""
    )


def recorded(page: Any) -> list[str]:
    return page.evaluate("window.__seen")


def sse_events(body: str) -> list[tuple[str, Any]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def expect_faq_answer(page: Any, index: int = 0) -> Any:
    reply = answers(page).nth(index)
    reply.wait_for()
    assert reply.get_attribute("data-action") == "answer_faq"
    assert reply.locator(".sb-text").inner_text() == ANSWER
    source = reply.locator(".sb-source")
    assert source.is_visible()
    assert source.inner_text().startswith("Source:")
    assert QUESTION in source.inner_text()
    return reply


# ---------------------------------------------------------------------------- tests
def test_faq_answer_streams_with_its_source(tab: Tab) -> None:
    page = load_demo(tab)
    launcher = page.get_by_role("button", name="Open chat")
    assert launcher.get_attribute("aria-expanded") == "false"
    dialog = page.locator(".sb-panel")
    assert dialog.is_hidden()

    # keyboard only: focus the launcher, Enter opens the dialog and focuses the input
    launcher.focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("dialog", name="Chat with us").is_visible()
    assert page.locator(".sb-launcher").get_attribute("aria-expanded") == "true"
    assert "sb-input" in shadow_focus(page)
    log = page.get_by_role("log")
    assert log.get_attribute("aria-live") == "polite"
    assert page.locator(".sb-greeting").is_visible()

    # Shift+Enter is a new line, Enter sends
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    assert page.locator(".sb-input").input_value() == "first line\n"
    page.locator(".sb-input").fill("")
    page.keyboard.type(QUESTION)
    record(page)
    with page.expect_response("**/api/chat/stream") as streamed:
        page.keyboard.press("Enter")
    assert page.locator(".sb-input").input_value() == ""
    reply = expect_faq_answer(page)
    settled(page)

    # the answer really came as a stream: delta events, which the widget consumed
    response = streamed.value
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text())
    names = [name for name, _ in events]
    assert names[0] == "session" and names[-2:] == ["reply", "done"]
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert deltas, "no delta events were streamed"
    assert "".join(deltas).strip() == ANSWER
    assert reply.get_attribute("data-deltas") == str(len(deltas))
    # a typing indicator came first, then the streamed answer replaced it
    seen = [entry for entry in recorded(page) if "sb-msg--bot" in entry]
    assert "sb-typing-msg" in seen[0] and "sb-typing-msg" not in seen[1], seen
    assert page.locator(".sb-typing-msg").count() == 0
    assert page.locator(".sb-msg--user .sb-text").inner_text() == QUESTION

    page.screenshot(path=str(artifact("widget.png")))

    # Escape closes the dialog and gives the focus back to the launcher
    page.locator(".sb-input").focus()
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    assert page.locator(".sb-launcher").get_attribute("aria-expanded") == "false"
    assert "sb-launcher" in shadow_focus(page)


def test_reload_shows_the_conversation(tab: Tab) -> None:
    page = load_demo(tab)
    page.locator(".sb-launcher").click()
    ask(page, QUESTION)
    expect_faq_answer(page)
    settled(page)
    token = session_token(page)
    assert token

    page.reload()
    page.locator(".sb-msg--user").wait_for()
    settled(page)
    # the panel stays open across the reload, with the same conversation, once
    assert page.locator(".sb-panel").is_visible()
    assert page.locator(".sb-launcher").get_attribute("aria-expanded") == "true"
    assert page.locator(".sb-greeting").count() == 1
    assert page.locator(".sb-msg--user").count() == 1
    assert page.locator(".sb-msg--user .sb-text").inner_text() == QUESTION
    assert answers(page).count() == 1
    expect_faq_answer(page)
    assert session_token(page) == token
    at_bottom = page.evaluate(
        """() => {
            const log = document.querySelector('shopbot-widget').shadowRoot
                .querySelector('.sb-log');
            return log.scrollHeight - log.scrollTop - log.clientHeight < 2;
        }"""
    )
    assert at_bottom, "the log should show the latest message after a reload"

    # a token the server does not know (expired) is dropped: a fresh start, no error
    page.evaluate(
        """() => Object.keys(localStorage)
            .filter((key) => key.startsWith('shopbot.session:'))
            .forEach((key) => localStorage.setItem(key, 'w_expired'))"""
    )
    page.reload()
    page.locator(".sb-greeting").wait_for()
    settled(page)
    assert page.locator(".sb-msg--user").count() == 0
    assert session_token(page) is None
    tab.allow(r"status of 404")  # the browser logs the history request's 404


def test_handoff_shows_a_notice_and_the_agents_messages(tab: Tab, live_server) -> None:
    page = load_demo(tab)
    page.locator(".sb-launcher").click()
    ask(page, "I want to talk to a human")
    notice = page.locator(".sb-handoff")
    notice.wait_for()
    assert notice.get_attribute("role") == "status"
    assert "team" in notice.inner_text()
    assert shadow_style(page, ".sb-handoff", "background-color") != shadow_style(
        page, ".sb-greeting .sb-bubble", "background-color"
    )
    settled(page)
    assert answers(page).count() == 0  # the handoff is a notice, not an answer bubble

    token = session_token(page)
    agent_text = "Hi, <b>Sam</b> here from Kestrel Ridge. How can I help?"
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        sent = client.post(
            f"/api/sessions/{token}/agent",
            json={"text": agent_text},
            headers={"Authorization": "Bearer agent-secret"},
        )
    assert sent.status_code == 200, sent.text

    agent = page.locator(".sb-msg--agent")
    agent.wait_for(timeout=12_000)  # the widget polls every few seconds
    assert agent.locator(".sb-text").inner_text() == agent_text  # shown as text, not HTML
    assert page.locator(".sb-msg--agent b").count() == 0
    assert "agent" in agent.inner_text().lower()

    # while the human has the conversation the bot stays silent
    ask(page, "Thanks, my order number is 1234")
    page.locator(".sb-msg--user").nth(1).wait_for()
    settled(page)
    assert answers(page).count() == 0
    assert page.locator(".sb-error").count() == 0
    assert page.locator(".sb-typing-msg").count() == 0

    # a new conversation: the old one (and its polling) is left behind
    page.get_by_role("button", name="Start a new conversation").click()
    assert page.locator(".sb-msg").count() == 1  # the greeting
    assert page.locator(".sb-greeting").is_visible()
    assert session_token(page) is None
    assert page.locator(".sb-status").inner_text() == "Answers in seconds"


def test_host_page_css_does_not_leak_in(tab: Tab) -> None:
    page = load_demo(tab)
    # the hostile rules are active on the page itself...
    assert page.locator(".warning").evaluate("n => getComputedStyle(n).color") == RED
    # ...including [role=dialog] { display: block !important }, yet the panel stays closed
    assert page.locator(".sb-panel").is_hidden()

    page.locator(".sb-launcher").click()
    ask(page, QUESTION)
    expect_faq_answer(page)
    settled(page)
    for selector in (".sb-msg--bot[data-action] .sb-bubble", ".sb-greeting .sb-text", ".sb-title"):
        assert shadow_style(page, selector, "color") != RED, selector
        assert "times" not in shadow_style(page, selector, "font-family").lower(), selector
        assert shadow_style(page, selector, "letter-spacing") == "normal", selector
        # inherited properties the widget never sets: reset at its host by `all: initial`
        assert shadow_style(page, selector, "text-indent") == "0px", selector
        assert shadow_style(page, selector, "font-variant-caps") == "normal", selector
    assert shadow_style(page, ".sb-msg--bot[data-action] .sb-bubble", "color") == "rgb(31, 41, 55)"
    send_background = shadow_style(page, ".sb-send", "background-color")
    assert send_background == "rgb(47, 111, 79)"  # the accent, not the page's yellow buttons
    assert shadow_style(page, ".sb-send", "border-top-style") == "none"
    assert shadow_style(page, ".sb-input", "font-size") == "15px"
    assert shadow_style(page, ".sb-cites, .sb-source", "color") != RED


def test_options_and_the_javascript_api(tab: Tab) -> None:
    page = tab.page
    widget_js = WIDGET_JS.read_bytes()
    question = "Can I exchange for a different size?"
    html = f"""<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
        <title>Options</title></head><body><p>An embedding shop.</p>
        <script src="https://cdn.shop.test/widget.js" data-server="{tab.url}"
            data-position="left" data-open="true" data-question="{question}"
            data-title="Kestrel 客服" data-language="zh" data-color="#1d4ed8"
            data-z-index="1234" defer></script></body></html>"""
    # the widget comes from a "CDN" while the API is the live server (data-server)
    page.route(
        "https://cdn.shop.test/widget.js",
        lambda route: route.fulfill(body=widget_js, content_type="application/javascript"),
    )
    page.route(
        f"{tab.url}/embed-options.html",
        lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
    )
    page.goto(f"{tab.url}/embed-options.html")

    panel = page.get_by_role("dialog", name="Kestrel 客服")
    panel.wait_for()  # open on load
    assert page.locator(".sb-title").inner_text() == "Kestrel 客服"
    box = panel.bounding_box()
    assert box["x"] < 100 and box["x"] + box["width"] < 640, box  # on the left
    launcher_box = page.locator(".sb-launcher").bounding_box()
    assert launcher_box["x"] < 100, launcher_box
    assert page.locator(".sb-input").input_value() == question
    assert page.locator(".sb-input").get_attribute("placeholder") == "请输入您的问题…"
    assert page.locator(".sb-launcher").get_attribute("aria-label") == "关闭聊天"
    assert page.locator(".sb-greeting .sb-text").inner_text().startswith("您好")
    assert shadow_style(page, ".sb-header", "background-color") == "rgb(29, 78, 216)"
    assert page.evaluate("getComputedStyle(document.querySelector('shopbot-widget')).zIndex") == (
        "1234"
    )

    # window.ShopbotWidget: close(), open(), ask()
    page.evaluate("window.ShopbotWidget.close()")
    assert panel.is_hidden()
    assert page.locator(".sb-launcher").get_attribute("aria-label") == "打开聊天"
    page.evaluate("window.ShopbotWidget.open()")
    assert panel.is_visible()
    page.evaluate("(q) => window.ShopbotWidget.ask(q)", question)
    reply = answers(page).first
    reply.wait_for()
    assert reply.get_attribute("data-action") == "answer_faq"
    assert reply.locator(".sb-source").inner_text().startswith("来源：")
    settled(page)


def test_mobile_panel_covers_the_screen(browser, live_server) -> None:
    tab = open_tab(browser, live_server.url, viewport={"width": 375, "height": 667})
    try:
        page = load_demo(tab)
        page.locator(".sb-launcher").click()
        panel = page.locator(".sb-panel")
        panel.wait_for()
        panel.evaluate("node => Promise.all(node.getAnimations().map((a) => a.finished))")
        box = panel.bounding_box()
        assert [round(box[k]) for k in ("x", "y", "width", "height")] == [0, 0, 375, 667], box
        assert page.locator(".sb-input").is_visible()
        page.locator(".sb-close").click()
        assert panel.is_hidden()
        assert page.locator(".sb-launcher").is_visible()

        # data-fullscreen-mobile="false": the floating panel, even on a small screen
        html = f"""<!doctype html><html><head><meta charset="utf-8">
            <link rel="icon" href="data:,"><title>Floating</title></head><body>
            <script src="{tab.url}/widget.js" data-fullscreen-mobile="false" data-open="true"
                defer></script></body></html>"""
        page.route(
            f"{tab.url}/embed-floating.html",
            lambda route: route.fulfill(body=html, content_type="text/html"),
        )
        page.goto(f"{tab.url}/embed-floating.html")
        panel.wait_for()
        panel.evaluate("node => Promise.all(node.getAnimations().map((a) => a.finished))")
        box = panel.bounding_box()
        assert box["width"] < 375 and box["height"] < 667 and box["y"] > 0, box
        assert page.locator(".sb-launcher").is_visible()
        assert not tab.unexpected(), tab.problems
    finally:
        tab.page.context.close()


def overflow_x(page: Any) -> int:
    """How far the document is wider than the screen (0: no sideways scrolling).

    Against the visual viewport: on a phone a too-wide page widens ``innerWidth`` with it.
    """
    return page.evaluate(
        """() => Math.max(document.documentElement.scrollWidth, window.innerWidth)
            - Math.round(visualViewport.width)"""
    )


def inside(box: dict[str, float], width: int, height: int) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


@pytest.mark.parametrize("hostile", [False, True], ids=["plain", "hostile"])
@pytest.mark.parametrize("width", [320, 360, 390])
def test_the_demo_page_works_on_a_phone(browser, live_server, width: int, hostile: bool) -> None:
    height = 844
    tab = open_tab(browser, live_server.url, viewport={"width": width, "height": height}, **PHONE)
    try:
        page = load_demo(tab, hostile=hostile)
        assert overflow_x(page) <= 0, f"the page scrolls sideways by {overflow_x(page)}px"
        # the header's text is all there: nothing clipped or pushed past the edge
        header = page.locator("header.site").bounding_box()
        for item in [page.locator(".brand span"), *page.locator("nav a").all()]:
            box = item.bounding_box()
            assert inside(box, width, header["y"] + header["height"]), (item, box, header)
            assert item.evaluate("n => n.scrollWidth <= n.clientWidth + 1"), item
        assert page.locator(".brand span").inner_text() == live_server.config.store.name
        if not hostile:
            page.screenshot(path=str(artifact(f"demo-phone-{width}.png")))

        launcher = page.locator(".sb-launcher")
        box = launcher.bounding_box()
        assert inside(box, width, height), box
        assert box["width"] >= 44 and box["height"] >= 44  # a finger-sized target
        launcher.tap()  # fails if anything of the page covers it
        panel = page.get_by_role("dialog", name="Chat with us")
        panel.wait_for()
        panel.evaluate("node => Promise.all(node.getAnimations().map((a) => a.finished))")
        box = panel.bounding_box()
        assert [round(box[k]) for k in ("x", "y", "width", "height")] == [0, 0, width, height]
        box_input = page.locator(".sb-input").bounding_box()
        assert inside(box_input, width, height) and box_input["width"] >= width - 100
        # 16px or more, or iOS zooms the page when the input gets the focus
        assert shadow_style(page, ".sb-input", "font-size") == "16px"
        assert inside(page.locator(".sb-send").bounding_box(), width, height)
        assert inside(page.locator(".sb-close").bounding_box(), width, height)

        page.locator(".sb-input").tap()
        page.locator(".sb-input").fill(QUESTION)
        page.locator(".sb-send").tap()
        expect_faq_answer(page)
        settled(page)
        assert overflow_x(page) <= 0
        bubble = answers(page).first.bounding_box()
        assert inside(bubble, width, height), bubble
        if not hostile:
            page.screenshot(path=str(artifact(f"widget-phone-{width}.png")))

        page.locator(".sb-close").tap()
        assert panel.is_hidden()
        launcher.tap()  # and it opens again, with the conversation
        panel.wait_for()
        assert answers(page).count() == 1
        assert not tab.unexpected(), tab.problems
    finally:
        tab.page.context.close()


def test_the_launcher_stays_on_a_phone_screen_of_a_page_too_wide_for_it(browser, live_server):
    """A careless page wider than the phone widens the area fixed elements are laid out in:
    the launcher and the panel still sit on the visible screen."""
    width, height = 390, 844
    tab = open_tab(browser, live_server.url, viewport={"width": width, "height": height}, **PHONE)
    try:
        page = tab.page
        html = f"""<!doctype html><html><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,"><title>Too wide</title></head><body>
            <div style="width:520px;height:3000px;background:#eee">a 520 px wide table</div>
            <script src="{tab.url}/widget.js" defer></script></body></html>"""
        page.route(
            f"{tab.url}/embed-wide.html",
            lambda route: route.fulfill(body=html, content_type="text/html"),
        )
        page.goto(f"{tab.url}/embed-wide.html")
        launcher = page.locator(".sb-launcher")
        launcher.wait_for()
        assert overflow_x(page) > 0  # the page really is too wide
        page.wait_for_function(
            """() => {
                const b = document.querySelector('shopbot-widget').shadowRoot
                    .querySelector('.sb-launcher').getBoundingClientRect();
                const v = visualViewport;
                return b.right <= v.offsetLeft + v.width && b.bottom <= v.offsetTop + v.height;
            }"""
        )
        assert inside(launcher.bounding_box(), width, height), launcher.bounding_box()
        launcher.tap()
        panel = page.locator(".sb-panel")
        panel.wait_for()
        panel.evaluate("node => Promise.all(node.getAnimations().map((a) => a.finished))")
        box = panel.bounding_box()
        assert [round(box[k]) for k in ("x", "y", "width", "height")] == [0, 0, width, height]
        page.screenshot(path=str(artifact("widget-phone-wide-page.png")))
        page.locator(".sb-close").tap()
        assert panel.is_hidden()
        assert not tab.unexpected(), tab.problems
    finally:
        tab.page.context.close()


def test_the_conversation_follows_long_answers(browser, live_server) -> None:
    """A long answer arriving in one piece still scrolls the conversation to its end."""
    tab = open_tab(browser, live_server.url, viewport={"width": 375, "height": 520})
    try:
        page = load_demo(tab)
        page.locator(".sb-launcher").click()
        for n in range(3):
            ask(page, QUESTION)
            answers(page).nth(n).wait_for()
            settled(page)
            gap = page.locator(".sb-log").evaluate(
                "log => log.scrollHeight - log.scrollTop - log.clientHeight"
            )
            assert gap < 2, f"answer {n + 1}: {gap}px of the conversation below the view"
        overflow = page.locator(".sb-log").evaluate("log => log.scrollHeight - log.clientHeight")
        assert overflow > 200  # the conversation is longer than the panel
        assert not tab.unexpected(), tab.problems
    finally:
        tab.page.context.close()


def test_a_clarifying_question_offers_its_topics_as_buttons(tab: Tab) -> None:
    page = load_demo(tab)
    page.locator(".sb-launcher").click()
    ask(page, IN_THE_BAND)
    question = answers(page).first
    question.wait_for()
    assert question.get_attribute("data-action") == "clarify"
    buttons = question.locator(".sb-option")
    assert buttons.count() == 2
    topics = buttons.all_inner_texts()
    assert all(topic in question.locator(".sb-text").inner_text() for topic in topics)
    n = next(i for i, topic in enumerate(topics) if "›" not in topic)  # the FAQ entry
    page.screenshot(path=str(artifact("widget-clarify.png")))
    settled(page)
    page.reload()  # the question and its buttons come back with the conversation (open)
    question = answers(page).first
    question.wait_for()
    buttons = question.locator(".sb-option")
    assert buttons.all_inner_texts() == topics
    buttons.nth(n).click()
    answer = answers(page).nth(1)
    answer.wait_for()
    settled(page)
    assert answer.get_attribute("data-action") == "answer_faq"
    assert topics[n] in answer.locator(".sb-source").inner_text()
    assert page.locator(".sb-msg--user").last.inner_text().endswith(topics[n])
    assert page.locator(".sb-option").count() == 0  # one answer per question
    page.reload()  # and it is still answered after a reload
    answers(page).nth(1).wait_for()
    settled(page)
    assert page.locator(".sb-option").count() == 0
    assert not tab.unexpected(), tab.problems


def test_a_recommendation_shows_its_picks_as_cards_between_its_texts(tab: Tab) -> None:
    page = load_demo(tab)
    page.locator(".sb-launcher").click()
    ask(page, "do you have a waterproof jacket under $150?")
    reply = answers(page).first
    reply.wait_for()
    settled(page)
    assert reply.get_attribute("data-action") == "recommend"
    cards = reply.locator(".sb-card")
    assert cards.count() >= 1
    prices = [
        float(p.strip("$").replace(",", "")) for p in cards.locator(".sb-price").all_inner_texts()
    ]
    assert prices and all(price <= 150 for price in prices)
    # the bubble leads to the cards (no numbered list: the cards are the list) ...
    lead = reply.locator(".sb-bubble .sb-text").inner_text()
    assert lead.rstrip().endswith(":") and not re.search(r"^\d+\.\s", lead, re.M)
    # ... and what follows the list (how to refine it) comes after them
    after = reply.locator(".sb-after")
    assert "cheaper" in after.inner_text()
    order = reply.evaluate("""node => [...node.children].map(c => c.className.split(' ')[0])""")
    assert order.index("sb-products") < order.index("sb-after")
    page.screenshot(path=str(artifact("widget-recommend.png")))
    page.reload()  # the same from the history
    again = answers(page).first
    again.wait_for()
    assert again.locator(".sb-card").count() == cards.count()
    assert again.locator(".sb-after").inner_text() == after.inner_text()


def test_a_rejected_message_shows_the_servers_reason(tab: Tab, live_server) -> None:
    page = load_demo(tab)
    page.locator(".sb-launcher").click()
    too_long = "Where is my order? " * 110  # 2090 characters: over the 2000 limit
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        expected = client.post("/api/chat/stream", json={"text": too_long})
    assert expected.status_code == 413
    message = expected.json()["error"]["message"]

    tab.allow(r"status of 413")  # Chromium logs every 4xx fetch on the console
    ask(page, too_long)
    error = page.locator(".sb-error")
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    assert error.inner_text() == message
    settled(page)
    assert page.locator(".sb-msg--user.sb-failed").count() == 1
    assert page.locator(".sb-input").input_value() == too_long  # given back to shorten
    assert answers(page).count() == 0

    # nothing is broken: the next message is answered
    ask(page, QUESTION)
    expect_faq_answer(page)
    settled(page)


def test_recovers_from_a_dropped_connection(tab: Tab) -> None:
    page = load_demo(tab)
    attempts: list[str] = []

    def drop_first(route: Any) -> None:
        attempts.append(route.request.post_data or "")
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/chat/stream", drop_first)
    tab.allow(r"net::ERR_CONNECTION_RESET")
    page.locator(".sb-launcher").click()
    record(page)
    ask(page, QUESTION)
    expect_faq_answer(page)
    settled(page)
    assert "notice Connection lost, retrying…" in recorded(page)
    notice = page.locator(".sb-conn")
    assert notice.get_attribute("role") == "status"
    assert notice.is_hidden()
    assert len(attempts) == 2
    assert page.locator(".sb-msg--user").count() == 1
    assert page.locator(".sb-error").count() == 0


def cut_first_stream(page: Any) -> list[dict]:
    """Route the chat stream so that the first attempt's connection dies after the server
    has answered and stored the reply; later attempts go through. Returns their bodies."""
    attempts: list[dict] = []

    def cut_short(route: Any) -> None:
        attempts.append(json.loads(route.request.post_data or "{}"))
        if len(attempts) > 1:
            route.continue_()
            return
        upstream = route.fetch()
        head = upstream.text().split("\n\n")[0] + "\n\nevent: delta\n"
        route.fulfill(status=200, content_type="text/event-stream", body=head)

    page.route("**/api/chat/stream", cut_short)
    return attempts


def test_a_stream_cut_after_the_answer_is_not_sent_twice(tab: Tab, live_server) -> None:
    page = load_demo(tab)
    attempts = cut_first_stream(page)
    page.locator(".sb-launcher").click()
    record(page)
    ask(page, QUESTION)
    expect_faq_answer(page)  # from the stored history
    settled(page)
    assert "notice Connection lost, retrying…" in recorded(page)
    assert len(attempts) == 1, "the message was sent again although the server had it"

    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        stored = client.get(f"/api/sessions/{session_token(page)}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert page.locator(".sb-msg--user").count() == 1
    assert answers(page).count() == 1


def test_a_retry_the_server_already_answered_is_not_answered_twice(tab: Tab, live_server) -> None:
    """The stream dies after the server stored the answer and the history check fails too:
    the widget sends the message again with the same message_id, and the server gives the
    stored answer instead of a second one."""
    page = load_demo(tab)
    attempts = cut_first_stream(page)
    page.route("**/api/sessions/*", lambda route: route.abort("connectionreset"))
    tab.allow(r"net::ERR_CONNECTION_RESET")
    page.locator(".sb-launcher").click()
    ask(page, QUESTION)
    expect_faq_answer(page)
    settled(page)
    assert len(attempts) == 2
    assert attempts[0]["message_id"] == attempts[1]["message_id"]
    assert attempts[0]["message_id"].startswith("m_")
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        stored = client.get(f"/api/sessions/{session_token(page)}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert page.locator(".sb-msg--user").count() == 1
    assert answers(page).count() == 1

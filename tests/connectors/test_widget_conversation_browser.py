"""Conversations in the chat widget, in Debian's Chromium: picking a clarifying question's
option, and a handoff when nobody can take the conversation.

The servers answer with the demo store, the real embedding model and a fake generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.generators.fake import FakeGenerator
from tests.connectors.browser import CHROMIUM, artifact, launched_browser
from tests.connectors.conftest import faq_entry, make_bot, make_server_config, serving

if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.slow

MEN = "Cirrus 800 Down Hoody (Men's)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_browser()


@pytest.fixture(scope="module")
def unattended_server(demo_kb, tmp_path_factory) -> Iterator[tuple[str, Any]]:
    """The demo store served with no agent API (``server.admin_token`` unset)."""
    config = make_server_config(
        tmp_path_factory.mktemp("unattended"),
        admin_token=None,
        rate_limit={"per_session": 0, "per_ip": 0},
    )
    assert config.bot.handoff.target == "none"
    bot = make_bot(demo_kb, config, FakeGenerator())
    with serving(config, bot) as url:
        yield url, bot
    bot.sessions.close()


def open_widget(browser: Any, url: str) -> tuple[Any, list[str]]:
    """The demo page with the widget open, and the list its console errors go to."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url + "/")
    page.locator(".sb-launcher").click()
    return page, problems


def ask(page: Any, text: str) -> None:
    box = page.locator(".sb-input")
    box.fill(text)
    box.press("Enter")


def settled(page: Any) -> None:
    page.wait_for_selector("shopbot-widget[data-busy='false']", state="attached")


def answers(page: Any) -> Any:
    return page.locator(".sb-msg--bot[data-action]")


def test_clicking_a_products_option_shows_that_product(browser, live_server) -> None:
    page, problems = open_widget(browser, live_server.url)
    calls = len(live_server.generator.history)
    ask(page, "the cirrus")
    question = answers(page).first
    question.wait_for()
    assert question.get_attribute("data-action") == "clarify"
    question.locator(".sb-option", has_text=MEN).click()
    answer = answers(page).nth(1)
    answer.wait_for()
    settled(page)
    text = answer.locator(".sb-text").inner_text()
    assert text.splitlines()[0] == MEN and "Women's" not in text  # not the question again
    assert "Price: 289.00 USD" in text
    assert answer.locator(".sb-card-title").all_inner_texts() == [MEN]
    assert len(live_server.generator.history) == calls  # the catalogue's facts, no model
    page.screenshot(path=str(artifact("widget-option-product.png")))
    page.context.close()
    assert not problems, problems


def test_a_handoff_with_nobody_there_says_so_and_the_bot_keeps_answering(
    browser, unattended_server
) -> None:
    url, _ = unattended_server
    page, problems = open_widget(browser, url)
    ask(page, "I want to talk to a human")
    reply = answers(page).first
    reply.wait_for()
    settled(page)
    text = reply.locator(".sb-text").inner_text()
    assert "no one from our team" in text and "help@kestrelridge.example" in text
    assert page.locator(".sb-handoff").count() == 0  # no "a member of our team will reply"
    assert page.locator(".sb-status").inner_text() == "Answers in seconds"  # nobody "joined"
    page.screenshot(path=str(artifact("widget-handoff-unattended.png")))

    _, question, answer = faq_entry("delivery-times")
    ask(page, question)
    answers(page).nth(1).wait_for()
    settled(page)
    assert answers(page).nth(1).get_attribute("data-action") == "answer_faq"
    assert answers(page).nth(1).locator(".sb-text").inner_text() == answer

    page.reload()  # the conversation comes back the same way
    answers(page).nth(1).wait_for()
    settled(page)
    assert page.locator(".sb-handoff").count() == 0
    assert page.locator(".sb-status").inner_text() == "Answers in seconds"
    assert "help@kestrelridge.example" in answers(page).first.inner_text()
    page.context.close()
    assert not problems, problems

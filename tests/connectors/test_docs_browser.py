"""The API documentation page (/docs) in Chromium with every request that would
leave 127.0.0.1 blocked: it must render from the server's own files."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.connectors.browser import artifact, chromium_page

pytestmark = pytest.mark.slow


def offline(page: Any) -> tuple[list[str], list[str]]:
    """Block every request to another host; return (requests made, requests blocked)."""
    made: list[str] = []
    blocked: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        made.append(url)
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", route)
    return made, blocked


def test_swagger_ui_renders_offline(live_server) -> None:
    with chromium_page(viewport={"width": 1280, "height": 900}) as (page, errors):
        made, blocked = offline(page)
        page.goto(f"{live_server.url}/docs")
        chat = page.locator(".opblock-summary-path[data-path='/api/chat']")
        chat.wait_for(timeout=15_000)
        assert chat.is_visible()
        assert page.locator(".opblock-post").count() >= 4  # sessions, chat, stream, agents
        assert page.locator(".info .title").inner_text().startswith("shopbot")
        # an operation opens and shows its description
        chat.click()
        page.get_by_text('{"text": "...", "session_id": "<token>"}').first.wait_for()
        page.screenshot(path=str(artifact("docs.png")))
        assert not blocked, f"/docs reached outside 127.0.0.1: {blocked}"
        assert any("/docs-assets/swagger-ui-bundle.js" in url for url in made), made
        assert not errors, errors


def test_docs_html_names_no_other_host(live_server) -> None:
    with live_server.client() as client:
        html = client.get("/docs").text
        assert "://" not in html, html
        # ReDoc's bundle loads its logo from a CDN whatever it is told: not served
        redoc = client.get("/redoc")
        assert redoc.status_code == 404 and redoc.json()["error"]["code"] == "not_found"
        asset = client.get("/docs-assets/swagger-ui-bundle.js")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(
            ("application/javascript", "text/javascript")
        )
        assert "SwaggerUIBundle" in asset.text[:2000]
        missing = client.get("/docs-assets/nothing.js")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"

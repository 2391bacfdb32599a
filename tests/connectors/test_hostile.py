"""Hostile and careless requests against the real server: always a clear 4xx (or, when the
server itself fails, a generic 500 that keeps the connection and the CORS headers), no
route that skips the session check or the limits, no conversation of another channel."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import httpx
import pytest

from bot.generators.fake import FakeGenerator
from bot.types import IncomingMessage
from tests.connectors.conftest import faq_entry, make_bot, make_server_config, serving
from tests.connectors.test_server import ADMIN, assert_error

SURROGATE = b'"\\ud83d"'  # JSON's escape of half an emoji: valid JSON, not valid Unicode


def raw(text: bytes, key: str) -> bytes:
    """A JSON object whose ``key`` holds ``text``, a JSON literal written by hand."""
    return b'{"%s": %s}' % (key.encode(), text)


def assert_clear(response: httpx.Response, status: int, code: str, *words: str) -> None:
    message = assert_error(response, status, code)
    for word in words:
        assert word in message, message
    assert "sys.set_int_max_str_digits" not in message and "codec" not in message


# ---------------------------------------------------------------------------- hostile input
@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream", "/channels/web"])
def test_a_lone_surrogate_in_the_text_is_a_422_that_says_so(live_server, path):
    with live_server.client() as client:
        response = client.post(path, content=raw(SURROGATE, "text"))
        assert_clear(response, 422, "bad_unicode", "body.text", "surrogate", "UTF-8")
        # the same half emoji among words, and in the other fields
        body = b'{"text": "hi \\ud83d there"}'
        assert_clear(client.post(path, content=body), 422, "bad_unicode", "body.text")
        body = b'{"text": "hi", "user_id": "\\udc00"}'
        assert_clear(client.post(path, content=body), 422, "bad_unicode", "body.user_id")
        body = b'{"text": "hi", "meta": {"page": "\\ud800x"}}'
        assert_clear(client.post(path, content=body), 422, "bad_unicode", "body.meta.page")
        # a whole emoji written as its surrogate pair is fine
        fine = client.post(path, content=b'{"text": "hi \\ud83d\\ude00 do you ship to Canada?"}')
        assert fine.status_code == 200, fine.text


def test_surrogates_on_the_session_and_agent_routes(live_server):
    with live_server.client() as client:
        assert_clear(
            client.post("/api/sessions", content=raw(SURROGATE, "user_id")),
            422,
            "bad_unicode",
            "body.user_id",
        )
        token = client.post("/api/chat", json={"text": "转人工"}).json()["session_id"]
        agent = client.post(
            f"/api/sessions/{token}/agent", content=raw(SURROGATE, "text"), headers=ADMIN
        )
        assert_clear(agent, 422, "bad_unicode", "body.text")
        # the session's history is untouched and still readable
        history = client.get(f"/api/sessions/{token}")
        assert history.status_code == 200
        assert [m["role"] for m in history.json()["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize("path", ["/api/chat", "/api/sessions", "/channels/web"])
def test_deep_nesting_and_huge_numbers_are_a_400(live_server, path):
    deep = b'{"text": "hi", "meta": {"x": ' + b"[" * 2000 + b"]" * 2000 + b"}}"
    with live_server.client() as client:
        assert_clear(client.post(path, content=deep), 400, "too_deep", "32 levels")
        assert_clear(client.post(path, content=b"[" * 2000), 400, "too_deep")  # unclosed too
        big = b'{"text": "hi", "meta": {"n": ' + b"9" * 5000 + b"}}"
        assert_clear(client.post(path, content=big), 400, "bad_number", "5000 digits", "string")
        for literal in (b"NaN", b"Infinity", b"1e999"):
            huge = b'{"text": "hi", "meta": {"n": ' + literal + b"}}"
            assert_clear(client.post(path, content=huge), 400, "bad_number")


def test_agent_text_deep_and_huge(live_server):
    with live_server.client() as client:
        token = client.post("/api/sessions").json()["session_id"]
        agent = f"/api/sessions/{token}/agent"
        deep = b'{"text": ' + b"[" * 2000 + b"]" * 2000 + b"}"
        assert_clear(client.post(agent, content=deep, headers=ADMIN), 400, "too_deep")
        big = b'{"text": ' + b"1" * 5000 + b"}"
        assert_clear(client.post(agent, content=big, headers=ADMIN), 400, "bad_number")


def test_405_names_the_allowed_methods(live_server):
    with live_server.client() as client:
        response = client.get("/api/chat")
        message = assert_error(response, 405, "method_not_allowed")
        assert response.headers["allow"] == "POST"
        assert "POST" in message
        assert client.delete("/api/sessions/abc").headers["allow"] == "GET"


def test_the_spec_declares_the_bodies_and_the_errors(live_server):
    with live_server.client() as client:
        spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/chat", "/api/chat/stream", "/api/sessions/{session_id}/agent"):
        operation = paths[path]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "text" in schema["required"], path
        assert {"404", "422", "500"} <= set(operation["responses"]), path
    chat = paths["/api/chat"]["post"]
    properties = chat["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert set(properties) == {"text", "session_id", "user_id", "message_id", "meta"}
    assert properties["text"]["maxLength"] == 2000
    assert {"400", "413", "429"} <= set(chat["responses"])
    assert "Retry-After" in chat["responses"]["429"]["headers"]
    assert "text/event-stream" in paths["/api/chat/stream"]["post"]["responses"]["200"]["content"]
    assert "404" in paths["/api/sessions/{session_id}"]["get"]["responses"]


def test_the_documented_body_is_the_accepted_body():
    """The OpenAPI model and WebConnector.message take the same fields."""
    from connectors.web import ChatRequest, WebConnector

    web = WebConnector()
    full = {"text": "hi", "session_id": "w_x", "user_id": "u", "message_id": "m-1", "meta": {}}
    assert set(ChatRequest.model_fields) == set(full)
    ChatRequest.model_validate(full)
    assert web.message(full).text == "hi"


# ---------------------------------------------------------------------------- server failures
def exchange(url: str, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Send the requests one after another on ONE keep-alive connection, as a browser does;
    a response the server did not send (it closed the connection) ends the list."""
    parsed = urlparse(url)
    answers = []
    with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        for request in requests:
            try:
                sock.sendall(request)
                status_line = stream.readline()
            except OSError:
                break
            if not status_line:
                break
            headers = {}
            while (line := stream.readline().strip()) != b"":
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers.get("content-length", 0)))
            answers.append((int(status_line.split()[1]), headers, body))
            if headers.get("connection", "").lower() == "close":
                break
    return answers


def http_request(method: str, path: str, body: bytes = b"", origin: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: application/json\r\n"
    if origin:
        head += f"Origin: {origin}\r\n"
    return head.encode() + b"\r\n" + body


@pytest.fixture
def broken_server(demo_kb, tmp_path):
    config = make_server_config(tmp_path, allowed_origins=["https://shop.example"])
    bot = make_bot(demo_kb, config, FakeGenerator())

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire at /secret/path")

    bot.policy.decide = broken  # an unexpected bug inside the bot
    with serving(config, bot) as url:
        yield url
    bot.sessions.close()


def test_after_a_500_the_connection_stays_usable_with_cors(broken_server, caplog):
    origin = "https://shop.example"
    chat = http_request("POST", "/api/chat", b'{"text": "do you ship to Canada?"}', origin)
    health = http_request("GET", "/healthz", origin=origin)
    with caplog.at_level("ERROR"):
        answers = exchange(broken_server, [chat, health, chat, health])
    statuses = [status for status, _, _ in answers]
    closed = answers[0][1].get("connection") == "close"
    # either the server says it closes the connection, or it keeps serving on it
    assert statuses == ([500] if closed else [500, 200, 500, 200])
    _, headers, body = answers[0]
    assert headers["access-control-allow-origin"] == origin
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "internal" and "secret" not in body.decode()
    assert "Traceback" not in body.decode()
    # the trace is in the server's log
    assert any("disk on fire" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_every_error_carries_the_cors_headers(demo_kb, tmp_path):
    origin = "https://shop.example"
    config = make_server_config(
        tmp_path, allowed_origins=[origin], rate_limit={"per_session": 1, "per_ip": 0}
    )
    bot = make_bot(demo_kb, config, FakeGenerator())
    headers = {"origin": origin}
    _, question, _ = faq_entry()
    with serving(config, bot) as url, httpx.Client(base_url=url, headers=headers) as client:
        token = client.post("/api/sessions").json()["session_id"]
        body = {"text": question, "session_id": token}
        responses = [
            client.post("/api/chat", json=body),  # 200
            client.post("/api/chat", json=body),  # 429
            client.post("/api/chat", content=b"{"),  # 400
            client.post("/api/chat", content=json.dumps({"text": "x" * 20_000})),  # 413
            client.post("/api/chat", json={"text": "hi", "session_id": "w_nope"}),  # 404
            client.get("/api/chat"),  # 405
            client.post("/api/sessions/x/release"),  # 401
        ]
    assert [r.status_code for r in responses] == [200, 429, 400, 413, 404, 405, 401]
    for response in responses:
        assert response.headers["access-control-allow-origin"] == origin, response.status_code
    bot.sessions.close()


# ---------------------------------------------------------------------------- access
def test_channels_web_refuses_a_session_id_the_server_never_gave(live_server):
    with live_server.client() as client:
        chosen = client.post(
            "/channels/web", json={"text": "hello", "session_id": "chosen-by-attacker"}
        )
        assert_error(chosen, 404, "unknown_session")
        assert_error(client.get("/api/sessions/chosen-by-attacker"), 404, "unknown_session")
        # without session_id it starts a conversation as /api/chat does, and continues it
        _, question, answer = faq_entry()
        first = client.post("/channels/web", json={"text": question})
        assert first.status_code == 200 and first.json()["reply"]["text"] == answer
        token = first.json()["session_id"]
        assert token.startswith("w_")
        again = client.post("/channels/web", json={"text": "thanks", "session_id": token})
        assert again.status_code == 200 and again.json()["session_id"] == token
        roles = [m["role"] for m in client.get(f"/api/sessions/{token}").json()["messages"]]
    assert roles == ["user", "assistant"] * 2


def test_channels_web_counts_against_the_same_limits(demo_kb, tmp_path):
    config = make_server_config(tmp_path, rate_limit={"per_session": 5, "per_ip": 0})
    bot = make_bot(demo_kb, config, FakeGenerator())
    _, question, _ = faq_entry()
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        token = client.post("/api/sessions").json()["session_id"]
        body = {"text": question, "session_id": token}
        statuses = [
            client.post("/channels/web" if n % 2 else "/api/chat", json=body).status_code
            for n in range(8)
        ]
    assert statuses == [200] * 5 + [429] * 3
    bot.sessions.close()


def test_conversations_of_other_channels_are_not_served_over_http(live_server):
    bot = live_server.bot
    _, question, _ = faq_entry()
    bot.reply(IncomingMessage(question, session_id="cli", channel="cli"))
    bot.reply(IncomingMessage(question, session_id="past-7", channel="replay"))
    with live_server.client() as client:
        for session in ("cli", "past-7"):
            assert_error(client.get(f"/api/sessions/{session}"), 404, "unknown_session")
            for path in ("/api/chat", "/channels/web"):
                body = {"text": "what did I say?", "session_id": session}
                assert_error(client.post(path, json=body), 404, "unknown_session")
            with client.stream(
                "POST", "/api/chat/stream", json={"text": "hi", "session_id": session}
            ) as response:
                assert response.status_code == 404
            for route in ("agent", "release"):
                response = client.post(
                    f"/api/sessions/{session}/{route}", json={"text": "hi"}, headers=ADMIN
                )
                assert_error(response, 404, "unknown_session")
    # and nothing was added to them
    assert len(bot.sessions.get("cli").turns) == 2

"""The HTTP API over real HTTP: a uvicorn server on 127.0.0.1 and httpx as the client."""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.generators.fake import FakeGenerator
from tests.connectors.conftest import faq_entry, make_bot, make_server_config, serving

ADMIN = {"authorization": "Bearer agent-secret"}


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
    return events


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert "Traceback" not in response.text and len(message) > 10
    return message


# ---------------------------------------------------------------------------- happy paths
def test_health_and_openapi(live_server):
    with live_server.client() as client:
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["chunks"] > 100
        assert "web" in health["channels"]
        spec = client.get("/openapi.json").json()
        assert {"/api/chat", "/api/chat/stream", "/api/sessions/{session_id}"} <= set(spec["paths"])
        assert client.get("/docs").status_code == 200


def test_faq_question_gets_its_canonical_answer_and_a_session(live_server):
    entry, question, answer = faq_entry()
    with live_server.client() as client:
        body = client.post("/api/chat", json={"text": question}).json()
        reply = body["reply"]
        assert reply["action"] == "answer_faq"
        assert reply["text"] == answer
        assert reply["citations"][0]["doc_id"].endswith(entry)
        assert reply["handoff"] is False and reply["latency_ms"] > 0
        token = body["session_id"]
        history = client.get(f"/api/sessions/{token}").json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
    assert history["messages"][1]["text"] == answer
    assert history["state"] == "bot"


def test_a_message_sent_again_with_its_id_is_answered_once(live_server):
    _, question, answer = faq_entry()
    with live_server.client() as client:
        first = client.post("/api/chat", json={"text": question, "message_id": "m_1"}).json()
        token = first["session_id"]
        again = {"text": question, "session_id": token, "message_id": "m_1"}
        second = client.post("/api/chat", json=again).json()
        with client.stream("POST", "/api/chat/stream", json=again) as response:
            events = sse_events(response)
        fresh = client.post("/api/chat", json={**again, "message_id": "m_2"}).json()
        messages = client.get(f"/api/sessions/{token}").json()["messages"]
    assert second["reply"]["text"] == first["reply"]["text"] == answer
    assert second["reply"]["citations"] == first["reply"]["citations"]
    assert second["reply"]["action"] == "answer_faq"
    streamed = dict(events)
    assert streamed["reply"]["text"] == answer and streamed["delta"]["text"] == answer
    assert fresh["reply"]["text"] == answer  # another message with the same words
    # the retries added nothing; the new message was answered
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2


def test_started_session_keeps_the_conversation(live_server):
    with live_server.client() as client:
        started = client.post("/api/sessions", json={})
        assert started.status_code == 201
        token = started.json()["session_id"]
        assert started.json()["messages"] == []
        assert client.get(f"/api/sessions/{token}").json()["messages"] == []
        for text in ("do you ship to Canada?", "and how long does it take?"):
            reply = client.post("/api/chat", json={"text": text, "session_id": token})
            assert reply.status_code == 200 and reply.json()["session_id"] == token
        messages = client.get(f"/api/sessions/{token}").json()["messages"]
    assert [m["text"] for m in messages if m["role"] == "user"] == [
        "do you ship to Canada?",
        "and how long does it take?",
    ]


def test_stream_sends_session_deltas_reply_done(live_server):
    _, question, answer = faq_entry()
    with (
        live_server.client() as client,
        client.stream("POST", "/api/chat/stream", json={"text": question}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "session" and names[-2:] == ["reply", "done"]
    assert "delta" in names
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    final = events[-2][1]
    assert streamed.strip() == final["text"] == answer
    assert final["session_id"] == events[0][1]["session_id"]


def test_generated_answer_streams_in_several_pieces(live_server):
    # a question only a policy page answers goes to the generator (a fake one here)
    live_server.generator.enqueue(
        "PO boxes are accepted for US Postal Service standard shipping only [1]. "
        "If you choose express shipping, please give a street address [1]."
    )
    with (
        live_server.client() as client,
        client.stream(
            "POST",
            "/api/chat/stream",
            json={"text": "do you ship to PO boxes"},
        ) as response,
    ):
        events = sse_events(response)
    final = dict(events)["reply"]
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert final["action"] == "generate"
    assert len(deltas) == 2  # one checked sentence at a time
    assert "".join(deltas) == final["text"]
    assert final["citations"] and final["citations"][0]["kind"] == "policy"


# ---------------------------------------------------------------------------- bad input
def test_bad_requests_get_clear_4xx(live_server):
    with live_server.client() as client:
        post = client.post
        assert_error(post("/api/chat", content=b'{"text": '), 400, "bad_json")
        assert_error(post("/api/chat", json=["text"]), 422, "bad_body")
        assert_error(post("/api/chat", content=b""), 422, "bad_body")
        assert_error(post("/api/chat", json={"question": "hi"}), 422, "unknown_field")
        assert_error(post("/api/chat", json={"session_id": "x"}), 422, "missing_text")
        assert_error(post("/api/chat", json={"text": "   "}), 422, "empty_message")
        assert_error(post("/api/chat", json={"text": 42}), 422, "missing_text")
        message = assert_error(
            post("/api/chat", json={"text": "a" * 2001}), 413, "message_too_long"
        )
        assert "2000" in message
        assert_error(post("/api/chat", data={"text": "hi"}), 415, "unsupported_media_type")
        assert_error(post("/api/chat", content=b"\xff\xfe{}"), 400, "bad_encoding")
        assert_error(
            post("/api/chat", json={"text": "hi", "session_id": "w_never-issued"}),
            404,
            "unknown_session",
        )
        assert_error(client.get("/api/sessions/w_never-issued"), 404, "unknown_session")
        assert_error(client.get("/api/nothing"), 404, "not_found")
        assert_error(client.get("/api/chat"), 405, "method_not_allowed")
        assert_error(post("/api/chat/stream", json={"text": "a" * 5000}), 413, "message_too_long")
        for bad in ("", "has space", "x" * 65, 7):
            assert_error(
                post("/api/chat", json={"text": "hi", "message_id": bad}), 422, "bad_message_id"
            )


def test_body_limit_applies_with_and_without_content_length(live_server):
    big = json.dumps({"text": "x" * 20_000}).encode()
    with live_server.client() as client:
        assert_error(client.post("/api/chat", content=big), 413, "body_too_large")

        def chunks():
            for start in range(0, len(big), 4096):
                yield big[start : start + 4096]

        assert_error(client.post("/api/chat", content=chunks()), 413, "body_too_large")
        assert client.get("/healthz").status_code == 200  # the server is fine afterwards


def test_unknown_channel_lists_the_enabled_ones(live_server):
    with live_server.client() as client:
        message = assert_error(client.post("/channels/slack", json={}), 404, "unknown_channel")
    assert "web" in message


# ---------------------------------------------------------------------------- handoff
def test_handoff_then_silence_then_agent_then_release(live_server):
    with live_server.client() as client:
        token = client.post("/api/sessions").json()["session_id"]

        def say(text):
            return client.post("/api/chat", json={"text": text, "session_id": token}).json()

        handoff = say("I want to talk to a human please")["reply"]
        assert handoff["handoff"] is True and handoff["text"]
        silent = say("hello? anyone there?")["reply"]
        assert silent["silent"] is True and silent["text"] == ""
        state = client.get(f"/api/sessions/{token}").json()
        assert state["handoff"] is True

        agent = f"/api/sessions/{token}/agent"
        assert_error(client.post(agent, json={"text": "hi"}), 401, "unauthorized")
        assert_error(
            client.post(agent, json={"text": "hi"}, headers={"authorization": "Bearer nope"}),
            401,
            "unauthorized",
        )
        done = client.post(agent, json={"text": "Hi, Sam here. How can I help?"}, headers=ADMIN)
        assert done.status_code == 200
        roles = [m["role"] for m in done.json()["messages"]]
        assert roles == ["user", "assistant", "user", "agent"]

        released = client.post(f"/api/sessions/{token}/release", headers=ADMIN).json()
        assert released["state"] == "bot"
        _, question, answer = faq_entry()
        assert say(question)["reply"]["text"] == answer


def test_chinese_handoff_request(live_server):
    with live_server.client() as client:
        reply = client.post("/api/chat", json={"text": "转人工"}).json()["reply"]
    assert reply["handoff"] is True and reply["language"] == "zh"
    assert "人工" in reply["text"]


def test_agent_endpoints_are_off_without_a_token(demo_kb, tmp_path):
    config = make_server_config(tmp_path)
    config.server.admin_token = None
    bot = make_bot(demo_kb, config, FakeGenerator())
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        token = client.post("/api/sessions").json()["session_id"]
        message = assert_error(
            client.post(f"/api/sessions/{token}/release", headers=ADMIN), 403, "agent_api_off"
        )
    assert "admin_token" in message
    bot.sessions.close()


# ---------------------------------------------------------------------------- limits, CORS
def test_rate_limits_per_session_and_per_ip(demo_kb, tmp_path):
    config = make_server_config(tmp_path, rate_limit={"per_session": 2, "per_ip": 4})
    bot = make_bot(demo_kb, config, FakeGenerator())
    _, question, _ = faq_entry()
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        token = client.post("/api/sessions").json()["session_id"]
        body = {"text": question, "session_id": token}
        assert client.post("/api/chat", json=body).status_code == 200
        assert client.post("/api/chat", json=body).status_code == 200
        limited = client.post("/api/chat", json=body)
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        # another conversation from the same address has its own session budget...
        assert client.post("/api/chat", json={"text": question}).status_code == 200
        # ...until the address's budget (4 counted messages) is spent
        assert_error(client.post("/api/chat", json={"text": question}), 429, "rate_limited")
    bot.sessions.close()


def test_cors_allows_configured_origins_only(demo_kb, tmp_path):
    config = make_server_config(tmp_path, allowed_origins=["https://shop.example"])
    bot = make_bot(demo_kb, config, FakeGenerator())
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        ok = client.options("/api/chat", headers={"origin": "https://shop.example", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        bad = client.options("/api/chat", headers={"origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in bad.headers
        answered = client.post(
            "/api/chat", json={"text": "hello"}, headers={"origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in answered.headers
    bot.sessions.close()


# ---------------------------------------------------------------------------- durability
def test_conversation_survives_a_server_restart(demo_kb, tmp_path):
    config = make_server_config(tmp_path)
    _, question, answer = faq_entry()
    bot = make_bot(demo_kb, config, FakeGenerator())
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        token = client.post("/api/chat", json={"text": question}).json()["session_id"]
    bot.sessions.close()

    bot = make_bot(demo_kb, config, FakeGenerator())  # a new process would do the same
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        history = client.get(f"/api/sessions/{token}").json()
        assert history["messages"][1]["text"] == answer
        again = client.post("/api/chat", json={"text": "thanks!", "session_id": token})
        assert again.status_code == 200
    bot.sessions.close()


def test_parallel_messages_in_one_session_are_answered_in_turn(live_server):
    questions = [faq_entry()[1], "do you ship to Canada?", "转人工", "where is my order?"] * 2
    with live_server.client() as client:
        token = client.post("/api/sessions").json()["session_id"]

        def ask(text):
            return client.post("/api/chat", json={"text": text, "session_id": token})

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(ask, questions))
        assert all(r.status_code == 200 for r in responses)
        messages = client.get(f"/api/sessions/{token}").json()["messages"]
    users = [m for m in messages if m["role"] == "user"]
    assert len(users) == len(questions)
    # nothing interleaved: every assistant turn directly follows a user turn
    for before, turn in itertools.pairwise(messages):
        if turn["role"] == "assistant":
            assert before["role"] == "user"


def test_a_failure_mid_stream_is_an_event_not_a_trace(demo_kb, tmp_path):
    config = make_server_config(tmp_path)
    generator = FakeGenerator()
    bot = make_bot(demo_kb, config, generator)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire at /secret/path")

    bot.policy.decide = broken  # an unexpected bug inside the bot
    with (
        serving(config, bot) as url,
        httpx.Client(base_url=url) as client,
        client.stream(
            "POST", "/api/chat/stream", json={"text": "do you ship to Canada?"}
        ) as response,
    ):
        events = sse_events(response)
        plain = client.post("/api/chat", json={"text": "do you ship to Canada?"})
    assert [name for name, _ in events] == ["session", "error", "done"]
    assert "secret" not in json.dumps(events)
    assert plain.status_code == 500
    assert "secret" not in plain.text and "Traceback" not in plain.text
    bot.sessions.close()


@pytest.mark.parametrize("path", ["/", "/widget.js"])
def test_demo_page_and_widget_are_served(live_server, path):
    with live_server.client() as client:
        response = client.get(path)
    assert response.status_code == 200
    if path == "/":
        assert "Kestrel Ridge" in response.text and "/widget.js" in response.text
    else:
        assert response.headers["content-type"].startswith("application/javascript")


class SlowGenerator(FakeGenerator):
    """Streams its words 50 ms apart, like a model on a busy CPU."""

    def _pieces(self, *args, **kwargs):
        for piece in super()._pieces(*args, **kwargs):
            time.sleep(0.05)
            yield piece


def test_a_client_that_leaves_mid_stream_frees_its_conversation(demo_kb, tmp_path):
    config = make_server_config(tmp_path, concurrency=1)
    generator = SlowGenerator()
    sentence = "PO boxes are accepted for US Postal Service standard shipping only [1]. "
    generator.enqueue(sentence * 6, sentence * 6)
    bot = make_bot(demo_kb, config, generator)
    with serving(config, bot) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = client.post("/api/sessions").json()["session_id"]
        body = {"text": "do you ship to PO boxes", "session_id": token}
        with client.stream("POST", "/api/chat/stream", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("event: delta"):
                    break  # the customer closes the tab after the first sentence
        # the conversation's lock and the only answering slot are given back
        started = time.monotonic()
        again = client.post("/api/chat", json={"text": faq_entry()[1], "session_id": token})
        assert again.status_code == 200
        assert time.monotonic() - started < 10
        # and the answer the customer left before the end of was still stored
        messages = client.get(f"/api/sessions/{token}").json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[1]["action"] == "generate" and "PO boxes" in messages[1]["text"]
    bot.sessions.close()


def test_other_channels_are_served_at_their_webhook(demo_kb, tmp_path):
    config = make_server_config(tmp_path)
    config.channels = {"web": {}, "replay": {}}
    bot = make_bot(demo_kb, config, FakeGenerator())
    _, question, answer = faq_entry()
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        body = {"conversation_id": "past-1", "text": question}
        response = client.post("/channels/replay", json=body)
        assert response.status_code == 200
        assert response.json()["plain_text"] == answer
        assert_error(
            client.post("/channels/replay", json={"text": "hi"}), 422, "missing_conversation"
        )
        assert sorted(client.get("/healthz").json()["channels"]) == ["replay", "web"]
    bot.sessions.close()


def test_behind_a_proxy_the_forwarded_address_is_limited(demo_kb, tmp_path):
    config = make_server_config(tmp_path, trust_proxy=True, rate_limit={"per_ip": 1})
    bot = make_bot(demo_kb, config, FakeGenerator())
    _, question, _ = faq_entry()
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:

        def ask(address):
            headers = {"x-forwarded-for": f"{address}, 10.0.0.1"}
            return client.post("/api/chat", json={"text": question}, headers=headers)

        assert ask("203.0.113.5").status_code == 200
        assert_error(ask("203.0.113.5"), 429, "rate_limited")
        assert ask("198.51.100.7").status_code == 200  # another customer behind the proxy
    bot.sessions.close()

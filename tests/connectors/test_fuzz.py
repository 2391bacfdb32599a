"""Schema-driven and property-based fuzzing of the HTTP API over real HTTP: never a 5xx.

Schemathesis generates requests from the server's own OpenAPI spec (valid ones and, in its
negative mode, invalid ones) and checks each answer; hypothesis sends JSON bodies of any
shape and strings of any Unicode (lone surrogates included) to the chat routes. A fixed
number of examples, derandomized, so CI is fast and repeatable.
"""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from bot.generators.fake import FakeGenerator
from tests.connectors.conftest import make_bot, make_server_config, serving

ADMIN = {"authorization": "Bearer agent-secret"}
FUZZ = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzzed_server(demo_kb, tmp_path_factory):
    """The server on the demo store for fuzzing: rate limits off, its own sessions."""
    config = make_server_config(
        tmp_path_factory.mktemp("fuzz"), rate_limit={"per_session": 0, "per_ip": 0}
    )
    bot = make_bot(demo_kb, config, FakeGenerator())
    with serving(config, bot) as url:
        yield url
    bot.sessions.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server):
    return schemathesis.openapi.from_url(f"{fuzzed_server}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ
def test_the_api_never_answers_5xx(case):
    case.call_and_validate(
        headers=ADMIN,
        timeout=30,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )


# ---------------------------------------------------------------------------- hypothesis
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
#: any code point, with lone surrogates (JSON carries them as \ud83d escapes), NUL, line
#: breaks, a right-to-left override, a byte-order mark, emoji and CJK made frequent
HOSTILE = st.one_of(
    st.characters(categories=["Cs"]),
    st.sampled_from("\x00\n\r\t\u202e\ufeff\U0001f600退"),
    st.characters(codec=None, exclude_categories=()),
)
ANY_TEXT = st.text(HOSTILE, max_size=80)
FIELDS = st.sampled_from(["text", "session_id", "user_id", "message_id", "meta", "other"])
BODIES = st.one_of(
    JSON,
    st.dictionaries(FIELDS, JSON | ANY_TEXT, max_size=5),
    st.fixed_dictionaries({"text": ANY_TEXT}, optional={"user_id": ANY_TEXT, "meta": JSON}),
)


def encode(body: object) -> bytes:
    # ensure_ascii writes a lone surrogate as its \\u escape, as a hostile client would
    return json.dumps(body, ensure_ascii=True).encode()


@pytest.fixture(scope="module")
def client(fuzzed_server):
    with httpx.Client(base_url=fuzzed_server, timeout=30, headers=ADMIN) as made:
        yield made


@FUZZ
@given(body=BODIES, path=st.sampled_from(["/api/chat", "/channels/web", "/api/sessions"]))
def test_any_json_body_gets_a_json_answer_below_500(client, body, path):
    response = client.post(path, content=encode(body))
    assert response.status_code < 500, response.text
    payload = response.json()
    if response.status_code >= 400:
        assert set(payload) == {"error"} and payload["error"]["message"]
        assert "Traceback" not in response.text


@FUZZ
@given(text=ANY_TEXT, raw=st.binary(max_size=64))
def test_any_text_or_bytes_on_the_stream_and_agent_routes(client, text, raw):
    stream = client.post("/api/chat/stream", content=encode({"text": text}))
    assert stream.status_code < 500
    token = client.post("/api/sessions").json()["session_id"]
    agent = client.post(f"/api/sessions/{token}/agent", content=encode({"text": text}))
    assert agent.status_code < 500
    for path in ("/api/chat", f"/api/sessions/{token}/agent"):
        assert client.post(path, content=raw).status_code < 500
    # whatever was sent, the conversation is still readable
    assert client.get(f"/api/sessions/{token}").status_code == 200

"""The Slack channel over real HTTP: requests signed with slack_sdk's own SignatureVerifier
sent to the server on 127.0.0.1, answers caught on a local stand-in for Slack's Web API."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.generators.fake import FakeGenerator
from connectors.base import ChannelRequest
from connectors.config import load_config
from connectors.registry import build_connectors
from connectors.slack import SlackConnector
from knowledge.errors import ConfigError
from tests.connectors.conftest import faq_entry, make_bot, make_server_config, serving

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
TEAM = "T0TEST"
BOT_USER = "UBOT"
SUPPORT = "CSUPPORT"


# ---------------------------------------------------------------------------- fake Slack API
@dataclass
class FakeSlack:
    """Slack's Web API on 127.0.0.1: records each call whose bot token is right."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return [c for c in list(self.calls) if c.get("channel") == channel]

    def wait(self, channel: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts(channel)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} post(s) to {channel} expected: {self.calls}")
            time.sleep(0.05)
        return self.posts(channel)


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("authorization") != f"Bearer {TOKEN}":
                fake.refused.append(self.path)
                answer = {"ok": False, "error": "invalid_auth"}
            elif self.path != "/chat.postMessage":
                answer = {"ok": False, "error": "unknown_method"}
            else:
                answer = {"ok": True, "ts": f"{time.time():.6f}"}
                fake.calls.append({**json.loads(body), "_ts": answer["ts"]})
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield fake
    server.shutdown()


# ---------------------------------------------------------------------------- the server
@dataclass
class SlackServer:
    url: str
    bot: Any
    generator: FakeGenerator

    def send(
        self,
        payload: dict[str, Any],
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = json.dumps(payload)
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
        sent = {
            "content-type": "application/json",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature,
            **(headers or {}),
        }
        return httpx.post(f"{self.url}/channels/slack", content=body, headers=sent, timeout=30)


@pytest.fixture(scope="module")
def slack_server(demo_kb, fake_slack, tmp_path_factory) -> Iterator[SlackServer]:
    tmp = tmp_path_factory.mktemp("slack")
    config = make_server_config(tmp, rate_limit={"per_session": 0, "per_ip": 0})
    config.channels = {
        "web": {},
        "slack": {
            "signing_secret": SECRET,
            "bot_token": TOKEN,
            "support_channel": SUPPORT,
            "api_url": fake_slack.url,
        },
    }
    generator = FakeGenerator()
    bot = make_bot(demo_kb, config, generator)
    with serving(config, bot) as url:
        yield SlackServer(url, bot, generator)
    bot.sessions.close()


def event(
    text: str,
    *,
    channel: str,
    kind: str = "app_mention",
    user: str = "UCUSTOMER",
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An ``event_callback`` as Slack sends it (a fresh event_id each time)."""
    inner = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": f"{time.time():.6f}",
        "channel": channel,
        **({"thread_ts": thread_ts} if thread_ts else {}),
        **extra,
    }
    if kind == "message":
        inner.setdefault("channel_type", "im")
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:12].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        "event": inner,
    }


def new_channel() -> str:
    return "C" + uuid.uuid4().hex[:8].upper()


# ---------------------------------------------------------------------------- the tests
def test_url_verification_echoes_the_challenge(slack_server):
    response = slack_server.send({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFd"})
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFd"}


def test_a_mention_is_answered_in_its_thread_with_the_faq_answer(slack_server, fake_slack):
    _, question, answer = faq_entry()
    channel = new_channel()
    payload = event(f"<@{BOT_USER}> {question}", channel=channel)
    started = time.monotonic()
    response = slack_server.send(payload)
    assert response.status_code == 200 and time.monotonic() - started < 3
    (post,) = fake_slack.wait(channel)
    assert post["text"] == answer
    assert post["thread_ts"] == payload["event"]["ts"]
    session = slack_server.bot.sessions.get(f"slack:{TEAM}:{channel}:{payload['event']['ts']}")
    assert session is not None and session.channel == "slack"
    assert fake_slack.refused == []


def test_a_direct_message_is_answered(slack_server, fake_slack):
    _, question, answer = faq_entry()
    channel = "D" + uuid.uuid4().hex[:8].upper()
    assert slack_server.send(event(question, channel=channel, kind="message")).status_code == 200
    (post,) = fake_slack.wait(channel)
    assert post["text"] == answer and "thread_ts" not in post


def test_own_and_other_bots_messages_edits_and_channel_chatter_are_ignored(
    slack_server, fake_slack
):
    _, question, answer = faq_entry()
    channel = "D" + uuid.uuid4().hex[:8].upper()
    ignored = [
        event(question, channel=channel, kind="message", user=BOT_USER),  # the bot itself
        event(question, channel=channel, kind="message", bot_id="B0OTHER"),
        event(question, channel=channel, kind="message", subtype="bot_message"),
        event(question, channel=channel, kind="message", subtype="message_changed"),
        event(question, channel=channel, kind="message", subtype="message_deleted"),
        event(question, channel=channel, kind="message", channel_type="channel"),
    ]
    for payload in ignored:
        response = slack_server.send(payload)
        assert response.status_code == 200, response.text
    # then a customer's message: once it is answered, the ignored ones would have been too
    slack_server.send(event(question, channel=channel, kind="message"))
    fake_slack.wait(channel)
    time.sleep(0.3)
    assert [p["text"] for p in fake_slack.posts(channel)] == [answer]


def test_a_forged_signature_is_refused_and_nothing_answered(slack_server, fake_slack, caplog):
    channel = new_channel()
    response = slack_server.send(event("hello", channel=channel), secret="not-the-secret")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "bad_signature" and "signing secret" in error["message"]
    unsigned = httpx.post(
        f"{slack_server.url}/channels/slack", json=event("hello", channel=channel), timeout=30
    )
    assert unsigned.status_code == 401
    time.sleep(0.3)
    assert fake_slack.posts(channel) == []
    assert SECRET not in caplog.text


def test_a_stale_timestamp_is_refused(slack_server, fake_slack):
    channel = new_channel()
    old = int(time.time()) - 6 * 60
    response = slack_server.send(event("hello", channel=channel), timestamp=old)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "stale_request" and "5 minutes" in error["message"]
    time.sleep(0.3)
    assert fake_slack.posts(channel) == []


def test_a_retried_event_is_answered_once(slack_server, fake_slack):
    _, question, _ = faq_entry()
    channel = new_channel()
    payload = event(f"<@{BOT_USER}> {question}", channel=channel)
    assert slack_server.send(payload).status_code == 200
    for n in (1, 2):
        retry = slack_server.send(
            payload, headers={"x-slack-retry-num": str(n), "x-slack-retry-reason": "http_timeout"}
        )
        assert retry.status_code == 200
    fake_slack.wait(channel)
    time.sleep(0.5)
    assert len(fake_slack.posts(channel)) == 1


def test_handoff_posts_the_redacted_conversation_quiet_until_released(slack_server, fake_slack):
    channel = new_channel()
    first = event(
        f"<@{BOT_USER}> my email is jane.doe@example.com, where is my order?", channel=channel
    )
    thread = first["event"]["ts"]
    slack_server.send(first)
    fake_slack.wait(channel, 1)
    slack_server.send(
        event(f"<@{BOT_USER}> I want to talk to a human", channel=channel, thread_ts=thread)
    )
    posts = fake_slack.wait(channel, 2)
    assert "team" in posts[-1]["text"] and posts[-1]["thread_ts"] == thread
    (support,) = fake_slack.wait(SUPPORT)
    assert f"<#{channel}>" in support["text"] and "talk to a human" in support["text"]
    assert "jane.doe@example.com" not in support["text"] and "[EMAIL_1]" in support["text"]

    session_id = f"slack:{TEAM}:{channel}:{thread}"
    assert slack_server.bot.sessions.get(session_id).state == "handoff"
    slack_server.send(event(f"<@{BOT_USER}> hello? anyone?", channel=channel, thread_ts=thread))
    deadline = time.monotonic() + 60
    while not any(  # the message is stored (answered in silence)
        t.text == "hello? anyone?" for t in slack_server.bot.sessions.get(session_id).turns
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(fake_slack.posts(channel)) == 2 and len(fake_slack.posts(SUPPORT)) == 1

    # the support team answers in the handover's thread: it reaches the customer's thread
    agent = "Hi, Sam here: your order left on Monday, mail me at sam@shop.example if needed"
    slack_server.send(
        event(
            agent,
            channel=SUPPORT,
            kind="message",
            user="UAGENT",
            channel_type="channel",
            thread_ts=support["_ts"],
        )
    )
    posts = fake_slack.wait(channel, 3)
    assert posts[-1]["text"] == agent and posts[-1]["thread_ts"] == thread
    stored = slack_server.bot.sessions.get(session_id).turns
    assert stored[-1].role == "agent" and "order left on Monday" in stored[-1].text
    assert "sam@shop.example" not in stored[-1].text  # stored redacted, as all text
    # "release" gives it back to the bot, which answers in the thread again
    slack_server.send(
        event(
            "release",
            channel=SUPPORT,
            kind="message",
            user="UAGENT",
            channel_type="channel",
            thread_ts=support["_ts"],
        )
    )
    fake_slack.wait(SUPPORT, 2)
    assert slack_server.bot.sessions.get(session_id).state == "bot"
    _, question, answer = faq_entry()
    slack_server.send(event(f"<@{BOT_USER}> {question}", channel=channel, thread_ts=thread))
    assert fake_slack.wait(channel, 4)[-1]["text"] == answer


# ---------------------------------------------------------------------------- configuration
def test_enabled_without_secrets_is_a_config_error_naming_them():
    with pytest.raises(
        ConfigError, match=r"channels\.slack\.signing_secret and channels\.slack\.bot_token"
    ):
        build_connectors({"slack": {}})
    with pytest.raises(ConfigError, match=r"channels\.slack\.bot_token is not set"):
        build_connectors({"slack": {"signing_secret": "s", "bot_token": ""}})
    assert build_connectors({"slack": {"enabled": False}}) == {}


def test_secrets_come_from_the_environment_and_never_print(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "channels:\n  slack:\n    signing_secret: ${SLACK_SIGNING_SECRET}\n"
        "    bot_token: ${SLACK_BOT_TOKEN:-}\n",
        encoding="utf-8",
    )
    env = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN}
    config = load_config(path, environ=env)
    connector = build_connectors(config.channels)["slack"]
    assert isinstance(connector, SlackConnector)
    assert connector.options.signing_secret.get_secret_value() == SECRET
    assert SECRET not in repr(connector.options) and TOKEN not in repr(connector.options)
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        load_config(path, environ={})
    config = load_config(path, environ={"SLACK_SIGNING_SECRET": SECRET})
    with pytest.raises(ConfigError, match=r"channels\.slack\.bot_token"):
        build_connectors(config.channels)


def test_a_non_numeric_timestamp_is_refused_without_a_crash():
    connector = SlackConnector({"signing_secret": SECRET, "bot_token": TOKEN})
    request = ChannelRequest.from_json(
        {"type": "url_verification", "challenge": "x"},
        headers={"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=00"},
    )
    response = connector.handle(request, bot=None)  # type: ignore[arg-type]
    assert response.status == 401


def test_an_answer_slower_than_slacks_window_is_acknowledged_at_once(
    slack_server, fake_slack, monkeypatch
):
    _, question, answer = faq_entry()
    bot = slack_server.bot
    original = bot.reply

    def slow(message):
        time.sleep(4)  # longer than the 3 s Slack waits for the HTTP response
        return original(message)

    monkeypatch.setattr(bot, "reply", slow)
    channel = new_channel()
    started = time.monotonic()
    response = slack_server.send(event(f"<@{BOT_USER}> {question}", channel=channel))
    acknowledged = time.monotonic() - started
    assert response.status_code == 200 and acknowledged < 2, acknowledged
    assert fake_slack.posts(channel) == []
    (post,) = fake_slack.wait(channel)
    assert post["text"] == answer


def test_a_retry_after_a_restart_is_not_answered_again(demo_kb, tmp_path):
    from bot.engine import Bot
    from bot.sessions import SQLiteSessionStore
    from tests.connectors.test_contract import CollectingSlackClient

    _, question, answer = faq_entry()
    bot = Bot(demo_kb, sessions=SQLiteSessionStore(tmp_path / "s.db"), generator=FakeGenerator())
    body = json.dumps(event(question, channel="DRESTART", kind="message"))
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
    options = {"signing_secret": SECRET, "bot_token": TOKEN}
    first = CollectingSlackClient()
    SlackConnector(options, client=first).handle(
        ChannelRequest(body=body.encode(), headers=headers), bot
    )
    assert [p["text"] for p in first.posts] == [answer]
    # a new process: the recent event ids are gone, the stored answer is not
    again = CollectingSlackClient()
    retry = ChannelRequest(body=body.encode(), headers={**headers, "x-slack-retry-num": "1"})
    assert SlackConnector(options, client=again).handle(retry, bot).status == 200
    assert again.posts == []
    bot.sessions.close()


def test_a_failure_after_the_acknowledgement_gets_a_fallback_not_a_trace(
    slack_server, fake_slack, monkeypatch, caplog
):
    def broken(message):
        raise RuntimeError("index file vanished /srv/secret/path")

    monkeypatch.setattr(slack_server.bot, "reply", broken)
    channel = "D" + uuid.uuid4().hex[:8].upper()
    assert slack_server.send(event("hello", channel=channel, kind="message")).status_code == 200
    (post,) = fake_slack.wait(channel)
    assert "could not answer" in post["text"] and "/srv" not in post["text"]


def test_a_too_long_message_is_told_why(slack_server, fake_slack):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    slack_server.send(event("x " * 3000, channel=channel, kind="message"))
    (post,) = fake_slack.wait(channel)
    assert "2000" in post["text"], post["text"]


def test_shopbot_serve_refuses_to_start_without_the_slack_secrets(store_dir: Path):
    from tests.connectors.test_cli import flat, run

    config_file = store_dir / "config.yaml"
    config_file.write_text(
        "knowledge: {sources: [{type: faq, path: faq.csv}], index_dir: index}\n"
        "embedder: {backend: fake}\n"
        "channels:\n  slack:\n    signing_secret: ${SLACK_SIGNING_SECRET:-}\n",
        encoding="utf-8",
    )
    result = run("serve", "--config", str(config_file))
    assert result.exit_code == 1
    output = flat(result.output)
    assert "channels.slack.signing_secret and channels.slack.bot_token are not set" in output


def test_recent_ids_are_bounded():
    from connectors.slack import RecentIds

    seen = RecentIds(2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    assert seen.add("c")  # "b" (the oldest) is forgotten, "a" was seen again
    assert seen.add("b") and not seen.add("c")


def test_an_agent_reply_from_the_api_reaches_the_slack_thread(slack_server, fake_slack):
    channel = new_channel()
    first = event(f"<@{BOT_USER}> I want to talk to a human", channel=channel)
    thread = first["event"]["ts"]
    slack_server.send(first)
    fake_slack.wait(channel, 1)
    session_id = f"slack:{TEAM}:{channel}:{thread}"
    admin = {"authorization": "Bearer agent-secret"}
    with httpx.Client(base_url=slack_server.url, timeout=30) as client:
        said = "Hi, Sam from the store here: mail me at sam@shop.example"
        response = client.post(
            f"/api/sessions/{session_id}/agent", json={"text": said}, headers=admin
        )
        assert response.status_code == 200 and response.json()["relayed"] is True
        posts = fake_slack.wait(channel, 2)
        assert posts[-1]["text"] == said and posts[-1]["thread_ts"] == thread
        # the customer-facing session routes stay the widget's own
        assert client.get(f"/api/sessions/{session_id}").status_code == 404
        released = client.post(f"/api/sessions/{session_id}/release", headers=admin)
        assert released.json()["state"] == "bot"
    stored = slack_server.bot.sessions.get(session_id)
    assert stored.turns[-1].role == "agent" and "sam@shop.example" not in stored.turns[-1].text


def test_a_refused_agent_message_is_the_callers_error_and_no_address_no_relay():
    from slack_sdk.errors import SlackApiError

    from bot.sessions import Session
    from bot.sessions.base import ADDRESS

    class Refusing:
        def chat_postMessage(self, **kwargs: Any) -> None:
            raise SlackApiError("invalid_auth", {"ok": False, "error": "invalid_auth"})

    connector = SlackConnector({"signing_secret": SECRET, "bot_token": TOKEN}, client=Refusing())
    where = {"team": TEAM, "channel": "D1", "thread_ts": None}
    session = Session("slack:T:dm:U1", "slack", "U1", meta={ADDRESS: where})
    with pytest.raises(SlackApiError):  # the agent API answers relayed: false
        connector.relay(session, "Sam here")
    assert connector.post({"channel": "C1", "text": "x"}) is None  # logged, not raised
    assert connector.relay(Session("slack:T:dm:U2", "slack", "U2"), "Sam here") is False

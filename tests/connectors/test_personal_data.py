"""Personal data at the channels: replay outputs, the HTTP API (customer and agent text) and
the configuration that adds patterns and keeps the placeholder key."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore
from bot.types import IncomingMessage
from connectors.app import KEY_FILE, build_bot
from connectors.config import load_config
from connectors.replay import replay, write_replay_report
from knowledge.errors import ConfigError
from tests.connectors.conftest import make_bot, make_server_config, serving

ADMIN = {"authorization": "Bearer agent-secret"}
EMAIL = "jonathan.smithers@acmecorp.com"
SECRETS = [EMAIL, "jonathan", "smithers", "acmecorp", "4111", "13812345678", "o'connor"]


def test_replay_outputs_hold_no_personal_data(demo_kb, tmp_path):
    bot = Bot(demo_kb, sessions=MemorySessionStore(), generator=FakeGenerator())
    source = tmp_path / "chats.jsonl"
    turns = [
        ("customer", f"My email is {EMAIL}, can you tell me about zorbing?"),
        ("agent", f"Sure, I'll write to {EMAIL}."),
        ("customer", "Please refund my card 4111 1111 1111 1111, it was charged twice"),
        ("customer", "我的手机是13812345678，o'connor@example.ie 是我的邮箱"),
    ]
    conversation = {"conversation_id": "p1", "turns": [{"role": r, "text": t} for r, t in turns]}
    source.write_text(json.dumps(conversation, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    replay(bot, source, out, options={"generate": False})
    write_replay_report(bot, out, title="privacy")
    written = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()}
    assert {"replies.jsonl", "summary.json", "report.html"} <= set(written)
    for name, text in written.items():
        for secret in SECRETS:
            assert secret not in text, (name, secret)
    first = json.loads(written["replies.jsonl"].splitlines()[0])
    assert "zorbing" in first["bot"]["text"]  # the don't-know text still names the real word


def test_the_api_answers_and_stores_with_placeholders(demo_kb, tmp_path):
    config = make_server_config(tmp_path, rate_limit={"per_session": 0, "per_ip": 0})
    bot = make_bot(demo_kb, config, FakeGenerator())
    with serving(config, bot) as url, httpx.Client(base_url=url) as client:
        token = client.post("/api/sessions", json={"user_id": "cust-1"}).json()["session_id"]

        def say(text: str) -> dict:
            body = {"text": text, "session_id": token}
            return client.post("/api/chat", json=body).json()["reply"]

        reply = say(f"My email is {EMAIL}, can you tell me about zorbing?")
        assert all(piece not in json.dumps(reply) for piece in SECRETS)
        say("my phone is 13812345678, I want to talk to a human")
        # the agent repeats the customer's number: stored as the customer's placeholder
        agent = client.post(
            f"/api/sessions/{token}/agent",
            json={"text": "I'll call you on 13812345678 in five minutes."},
            headers=ADMIN,
        ).json()
        texts = [m["text"] for m in agent["messages"]]
        other = client.post("/api/sessions", json={"user_id": "jane@example.com"}).json()
        assert bot.sessions.get(other["session_id"]).user_id.startswith("user-")
        assert texts[0] == "My email is [EMAIL_1], can you tell me about zorbing?"
        assert texts[2] == "my phone is [PHONE_1], I want to talk to a human"
        assert texts[-1] == "I'll call you on [PHONE_1] in five minutes."
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("sessions.db*"))
    assert b"13812345678" not in raw and EMAIL.encode() not in raw
    assert b"jane@example.com" not in raw


@pytest.fixture
def configured(store_dir: Path) -> Path:
    path = store_dir / "config.yaml"
    path.write_text(
        "knowledge:\n"
        "  sources: [{type: faq, path: faq.csv}]\n"
        "  index_dir: data/index\n"
        "embedder: {backend: fake}\n"
        "bot:\n"
        "  generation: false\n"
        "  sessions: {path: data/sessions.db}\n"
        "  privacy:\n"
        "    patterns: {ORDER: 'ORD-\\d{6}'}\n"
        "    retention_days: 30\n",
        encoding="utf-8",
    )
    return path


def test_configured_patterns_and_a_key_that_survives_a_restart(configured):
    config = load_config(configured)
    assert config.bot.privacy.retention_days == 30
    first = build_bot(config)
    message = "where is ORD-123456? mail me at jane@example.com"
    first.reply(IncomingMessage(message, session_id="s"))
    first.sessions.close()
    key_file = configured.parent / "data" / KEY_FILE
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    again = build_bot(load_config(configured))  # a restart: same key, same numbering
    again.reply(IncomingMessage("ORD-123456 again; or bob@example.com", session_id="s"))
    turns = again.sessions.get("s").turns
    again.sessions.close()
    assert turns[0].text == "where is [ORDER_1]? mail me at [EMAIL_1]"
    assert turns[2].text == "[ORDER_1] again; or [EMAIL_2]"


def test_a_configured_key_replaces_the_key_file(configured, monkeypatch):
    text = configured.read_text(encoding="utf-8").replace(
        "    retention_days: 30\n", "    key: ${SHOPBOT_PRIVACY_KEY:-}\n"
    )
    configured.write_text(text, encoding="utf-8")
    config = load_config(configured, environ={"SHOPBOT_PRIVACY_KEY": "a long secret"})
    assert "a long secret" not in repr(config.bot.privacy)  # masked
    build_bot(config).sessions.close()
    assert not (configured.parent / "data" / KEY_FILE).exists()
    unset = load_config(configured, environ={})
    assert unset.bot.privacy.key is None  # empty means: use the key file


@pytest.mark.parametrize(
    ("privacy", "message"),
    [
        ("{kinds: [EMAIL, SSN]}", "unknown PII kind.*SSN"),
        ("{patterns: {order: 'ORD-1'}}", "label 'order' must be upper case"),
        ("{patterns: {ORDER: 'ORD-('}}", "ORDER is not a valid regex"),
        ("{retention_days: 0}", "retention_days"),
    ],
)
def test_bad_privacy_options_name_the_file_and_line(tmp_path, privacy, message):
    path = tmp_path / "config.yaml"
    path.write_text(f"bot:\n  generation: false\n  privacy: {privacy}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert f"{path}, line 3" in str(caught.value)

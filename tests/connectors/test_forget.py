"""``shopbot forget USER``: one customer's conversations, log lines and replay records go,
everyone else's stay, and the command says what it deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.sessions import SQLiteSessionStore
from bot.types import IncomingMessage
from connectors.app import build_bot
from connectors.cli import app
from connectors.config import load_config

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def deployment(store_dir: Path) -> Path:
    """A store whose data folder holds conversations of three customers, a log, a replay's
    output, and an index (the store's knowledge, never searched)."""
    config = store_dir / "config.yaml"
    config.write_text(
        "knowledge:\n"
        "  sources:\n"
        "    - {type: faq, path: faq.csv}\n"
        "  index_dir: data/index\n"
        "embedder: {backend: fake}\n"
        "bot: {generation: false, sessions: {path: data/sessions.db}}\n",
        encoding="utf-8",
    )
    bot = build_bot(load_config(config))
    for session, user, text in [
        ("w_alice1", "cust-42", "my email is alice@example.com, where is my order?"),
        ("w_alice2", "cust-42", "How long does delivery take?"),
        ("w_bob", "cust-7", "I'm Bob, my email is bob@example.com"),
        ("w_anon", "anonymous", "hi, my phone is 13800138000, can I return an item?"),
        ("w_mail", "carol@example.com", "Can I pay with PayPal?"),  # a site keyed on e-mail
    ]:
        bot.reply(IncomingMessage(text, session_id=session, user_id=user, channel="web"))
    bot.sessions.close()
    data = store_dir / "data"
    (data / "logs").mkdir()
    (data / "logs" / "shopbot.log").write_text(
        "2026-11-28 10:00:01 ERROR streaming reply failed (session w_alice1)\n"
        "2026-11-28 10:00:02 ERROR streaming reply failed (session w_bob)\n"
        "2026-11-28 10:00:03 INFO bot ready in 1.2 s\n",
        encoding="utf-8",
    )
    replay = data / "replay"
    replay.mkdir()
    records = [
        {"conversation_id": "c1", "customer": "where is it", "meta": {"customer": "cust-42"}},
        {"conversation_id": "c2", "customer": "hello", "meta": {"customer": "cust-7"}},
    ]
    (replay / "replies.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    (replay / "report.html").write_text("<html>cust-42 where is it</html>", encoding="utf-8")
    (replay / "summary.json").write_text("{}", encoding="utf-8")
    (data / "index" / "notes.jsonl").write_text('{"who": "cust-42"}\n', encoding="utf-8")
    return config


def sessions(config: Path) -> set[str]:
    with SQLiteSessionStore(config.parent / "data" / "sessions.db") as store:
        return {s.id for s in store.list_sessions()}


def test_forget_deletes_one_customers_data_everywhere_and_says_what(deployment):
    data = deployment.parent / "data"
    result = run("forget", "cust-42", "--config", str(deployment))
    out = flat(result.output)
    assert result.exit_code == 0, result.output
    assert "deleted conversation w_alice1 (2 turns; user id)" in out
    assert "deleted conversation w_alice2 (2 turns; user id)" in out
    assert f"deleted 1 lines of {data / 'logs' / 'shopbot.log'}" in out
    assert f"deleted 1 lines of {data / 'replay' / 'replies.jsonl'}" in out
    assert f"deleted {data / 'replay' / 'report.html'}" in out
    assert "done: 2 conversations, 2 lines in 2 files, 2 reports" in out
    # theirs is gone, everyone else's stays
    assert sessions(deployment) == {"w_bob", "w_anon", "w_mail"}
    log = (data / "logs" / "shopbot.log").read_text(encoding="utf-8")
    assert "w_alice1" not in log and "w_bob" in log and "bot ready" in log
    replies = (data / "replay" / "replies.jsonl").read_text(encoding="utf-8")
    assert "cust-42" not in replies and "cust-7" in replies
    assert not (data / "replay" / "report.html").exists()
    assert (data / "index" / "notes.jsonl").read_text(encoding="utf-8") == '{"who": "cust-42"}\n'
    # not even the database's free pages or its log keep them
    raw = b"".join(p.read_bytes() for p in data.glob("sessions.db*"))
    assert b"cust-42" not in raw and b"w_alice1" not in raw and b"cust-7" in raw


def test_forgetting_again_finds_nothing_and_is_no_error(deployment):
    assert run("forget", "cust-42", "--config", str(deployment)).exit_code == 0
    again = run("forget", "cust-42", "--config", str(deployment))
    assert again.exit_code == 0
    assert "nothing found for 'cust-42'" in flat(again.output)
    unknown = run("forget", "nobody-at-all", "--config", str(deployment))
    assert unknown.exit_code == 0 and "nothing found for 'nobody-at-all'" in flat(unknown.output)


def test_a_customer_is_found_by_the_personal_data_they_gave(deployment):
    """The phone number was never stored, but its placeholder hash in the conversation
    recognises it: an anonymous customer can still have their conversation deleted."""
    result = run("forget", "13800138000", "--config", str(deployment))
    assert result.exit_code == 0, result.output
    assert "deleted conversation w_anon (2 turns; mentioned as [PHONE_1])" in flat(result.output)
    assert sessions(deployment) == {"w_alice1", "w_alice2", "w_bob", "w_mail"}
    by_mail = run("forget", "Bob@Example.com", "--config", str(deployment))
    assert "deleted conversation w_bob (2 turns; mentioned as [EMAIL_1])" in flat(by_mail.output)


def test_a_customer_identified_by_email_is_found_by_it(deployment):
    """The site's user id was an e-mail address, stored only as its pseudonym."""
    result = run("forget", "carol@example.com", "--config", str(deployment))
    assert "deleted conversation w_mail (2 turns; user id)" in flat(result.output)
    assert "w_mail" not in sessions(deployment)


def test_one_conversation_by_its_session_id(deployment):
    result = run("forget", "w_alice2", "--config", str(deployment))
    assert "deleted conversation w_alice2 (2 turns; session id)" in flat(result.output)
    assert sessions(deployment) == {"w_alice1", "w_bob", "w_anon", "w_mail"}


def test_the_shared_anonymous_id_is_refused(deployment):
    result = run("forget", "anonymous", "--config", str(deployment))
    assert result.exit_code == 1
    assert "every customer the site did not identify" in flat(result.output)
    assert sessions(deployment) == {"w_alice1", "w_alice2", "w_bob", "w_anon", "w_mail"}


def test_dry_run_deletes_nothing(deployment):
    data = deployment.parent / "data"
    before = (data / "replay" / "replies.jsonl").read_text(encoding="utf-8")
    result = run("forget", "cust-42", "--dry-run", "--config", str(deployment))
    out = flat(result.output)
    assert "would delete conversation w_alice1" in out and "dry run: nothing deleted" in out
    assert sessions(deployment) == {"w_alice1", "w_alice2", "w_bob", "w_anon", "w_mail"}
    assert (data / "replay" / "replies.jsonl").read_text(encoding="utf-8") == before
    assert (data / "replay" / "report.html").exists()


def test_other_folders_are_searched_when_named(deployment, tmp_path):
    elsewhere = tmp_path / "replays" / "november"
    elsewhere.mkdir(parents=True)
    (elsewhere / "replies.jsonl").write_text(
        '{"conversation_id": "c9", "meta": {"customer": "cust-7"}}\n'
        '{"conversation_id": "c8", "meta": {"customer": "cust-8"}}\n',
        encoding="utf-8",
    )
    result = run(
        "forget", "cust-7", "--dir", str(tmp_path / "replays"), "--config", str(deployment)
    )
    assert f"deleted 1 lines of {elsewhere / 'replies.jsonl'}" in flat(result.output)
    assert "cust-7" not in (elsewhere / "replies.jsonl").read_text(encoding="utf-8")

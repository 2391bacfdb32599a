"""Fixtures of the channel tests: the real HTTP server on 127.0.0.1, over the demo store."""

from __future__ import annotations

import csv
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import SQLiteSessionStore
from connectors.config import ShopbotConfig
from connectors.server import create_app

DEMO_FAQ = Path(__file__).resolve().parents[2] / "knowledge" / "demo_store" / "faq.csv"


def faq_entry(entry_id: str | None = None) -> tuple[str, str, str]:
    """(id, first question, canonical answer) of a demo-store FAQ entry (default: the first)."""
    with DEMO_FAQ.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["answer"] and entry_id in (None, row["id"]):
                return row["id"], row["question"], row["answer"]
    raise LookupError(entry_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A running ``shopbot serve`` app: its URL, bot, config and fake generator."""

    url: str
    bot: Bot
    config: ShopbotConfig
    generator: FakeGenerator

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@contextmanager
def serving(config: ShopbotConfig, bot: Bot) -> Iterator[str]:
    """Run the app with uvicorn in a thread on a free 127.0.0.1 port; yield its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, bot=bot),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_server_config(tmp: Path, **server: Any) -> ShopbotConfig:
    config = ShopbotConfig.model_validate(
        {
            "server": {"admin_token": "agent-secret", **server},
            "bot": {"sessions": {"path": str(tmp / "sessions.db")}},
        }
    )
    config.base_dir = tmp
    return config


def make_bot(demo_kb, config: ShopbotConfig, generator: FakeGenerator) -> Bot:
    sessions = SQLiteSessionStore(config.path(config.bot.sessions.path))
    return Bot(
        demo_kb,
        sessions=sessions,
        config=config.bot,
        generator=generator,
        store_name=config.store.name,
    )


@pytest.fixture(scope="session")
def live_server(demo_kb, tmp_path_factory) -> Iterator[LiveServer]:
    """The server on the demo store (real embeddings, fake generator), once per session.

    Rate limits are off here; tests of the limits start their own server.
    """
    tmp = tmp_path_factory.mktemp("server")
    config = make_server_config(tmp, rate_limit={"per_session": 0, "per_ip": 0})
    generator = FakeGenerator()
    bot = make_bot(demo_kb, config, generator)
    with serving(config, bot) as url:
        yield LiveServer(url, bot, config, generator)
    bot.sessions.close()

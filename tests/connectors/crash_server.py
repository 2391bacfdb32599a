"""A real server process for the crash test: ``python -m tests.connectors.crash_server DIR
PORT [SECONDS_PER_WORD]``.

It serves the tiny test store (fake embedder: starts in about a second) from DIR with its
sessions in DIR/sessions.db, as ``shopbot serve`` does (``create_app`` + ``uvicorn.run``),
and a fake generator that writes every word SECONDS_PER_WORD apart: a slow model, slow only
here, so that the test can kill the process while it is answering.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import uvicorn

from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import SQLiteSessionStore
from connectors.config import ShopbotConfig
from connectors.server import create_app
from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig
from knowledge.embedders.fake import FakeEmbedder
from knowledge.kb import KnowledgeBase
from tests.conftest import TINY_CATALOG, TINY_FAQ, TINY_PAGE, tiny_sources

#: a question the tiny store answers by generating (from its shipping page)
QUESTION = "which carriers do you ship with"
ANSWER = (
    "We ship with UPS in the United States [1]. "
    "International orders go with DHL [1]. "
    "PO boxes are accepted for standard USPS shipping only [1]."
)


class SlowGenerator(FakeGenerator):
    """Always answers ``ANSWER``, ``delay`` seconds a word."""

    def __init__(self, delay: float) -> None:
        super().__init__(default_reply=ANSWER)
        self.delay = delay

    def _pieces(self, *args, **kwargs):
        for piece in super()._pieces(*args, **kwargs):
            time.sleep(self.delay)
            yield piece


def write_store(folder: Path) -> None:
    (folder / "faq.csv").write_text(TINY_FAQ, encoding="utf-8")
    (folder / "catalog.csv").write_text(TINY_CATALOG, encoding="utf-8")
    (folder / "policies").mkdir(exist_ok=True)
    (folder / "policies" / "shipping.md").write_text(TINY_PAGE, encoding="utf-8")


def main(folder: Path, port: int, delay: float) -> None:
    write_store(folder)
    config = ShopbotConfig.model_validate(
        {
            "server": {"rate_limit": {"per_session": 0, "per_ip": 0}},
            "bot": {"sessions": {"path": str(folder / "sessions.db")}},
        }
    )
    config.base_dir = folder
    kb = KnowledgeBase(
        KnowledgeConfig(sources=tiny_sources(), index_dir="index"),
        EmbedderConfig(backend="fake"),
        RetrievalConfig(),
        base_dir=folder,
        embedder_instance=FakeEmbedder(),
    )
    kb.update()
    sessions = SQLiteSessionStore(folder / "sessions.db")
    bot = Bot(kb, sessions=sessions, config=config.bot, generator=SlowGenerator(delay))
    uvicorn.run(create_app(config, bot=bot), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0)

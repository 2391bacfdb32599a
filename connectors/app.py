"""Wiring: build the knowledge base, the session store and the bot from one configuration."""

from __future__ import annotations

from pathlib import Path

from bot.engine import Bot
from bot.privacy import Redactor, key_from_secret, load_or_create_key
from bot.sessions import MemorySessionStore, SessionStore, SQLiteSessionStore
from connectors.config import ShopbotConfig
from knowledge.errors import ConfigError
from knowledge.kb import KnowledgeBase

#: the placeholder key's file, beside the session database
KEY_FILE = "privacy.key"


def build_knowledge(config: ShopbotConfig, **overrides: object) -> KnowledgeBase:
    return KnowledgeBase(
        config.knowledge,
        config.embedder,
        config.retrieval,
        base_dir=config.base_dir,
        model_cache_dir=config.model_cache_dir,
        **overrides,  # type: ignore[arg-type]
    )


def build_sessions(config: ShopbotConfig) -> SessionStore:
    sessions = config.bot.sessions
    if sessions.backend == "memory":
        return MemorySessionStore(max_turns=sessions.max_turns)
    return SQLiteSessionStore(config.path(sessions.path), max_turns=sessions.max_turns)


def privacy_key(config: ShopbotConfig) -> bytes | None:
    """The key of the placeholder hashes: ``bot.privacy.key``, else the key file beside the
    session database (made on first use), else (sessions in memory) a random one."""
    privacy = config.bot.privacy
    if privacy.key is not None:
        return key_from_secret(privacy.key.get_secret_value())
    if config.bot.sessions.backend == "memory":
        return None
    try:
        return load_or_create_key(session_path(config).parent / KEY_FILE)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot use the placeholder key beside {session_path(config)}: {exc}; or set "
            "bot.privacy.key (e.g. ${SHOPBOT_PRIVACY_KEY})"
        ) from None


def build_redactor(config: ShopbotConfig) -> Redactor:
    return config.bot.privacy.redactor(key=privacy_key(config))


def build_bot(
    config: ShopbotConfig,
    *,
    kb: KnowledgeBase | None = None,
    sessions: SessionStore | None = None,
) -> Bot:
    """The bot on the configured store; the generative model loads on first use."""
    kb = kb or build_knowledge(config)
    generator = config.bot.generator
    cache = generator.cache_dir
    # the converted chat model goes beside the ONNX export unless config says where (or "")
    cache = str(config.model_cache_dir) if cache is None else cache and str(config.path(cache))
    generator = generator.model_copy(update={"cache_dir": cache})
    bot_config = config.bot.model_copy(update={"generator": generator})
    return Bot(
        kb,
        sessions=sessions or build_sessions(config),
        config=bot_config,
        store_name=config.store.name,
        contact=config.store.contact,
        redactor=build_redactor(config),
    )


def session_path(config: ShopbotConfig) -> Path:
    return config.path(config.bot.sessions.path)

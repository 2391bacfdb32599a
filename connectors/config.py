"""The whole configuration of a shopbot deployment, loaded once from ``config.yaml``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.config import BotConfig
from knowledge.config import (
    EmbedderConfig,
    KnowledgeConfig,
    RetrievalConfig,
    StrictModel,
    load_yaml_model,
    resolve_path,
)
from knowledge.errors import ConfigError

DEFAULT_CONFIG = "config.yaml"
#: The built-in defaults (no config file) read the same environment variables as the
#: shipped config.yaml: the data folder and the agent endpoints' token.
BUILTIN_CONFIG = """
knowledge: {index_dir: "${SHOPBOT_DATA:-.shopbot}/index"}
bot: {sessions: {path: "${SHOPBOT_DATA:-.shopbot}/sessions.db"}}
server: {admin_token: "${SHOPBOT_ADMIN_TOKEN:-}"}
"""


class StoreConfig(StrictModel):
    """Who the bot speaks for."""

    name: str = "Kestrel Ridge Outfitters (demo)"
    languages: list[str] = Field(default_factory=lambda: ["en", "zh"])
    contact: str | None = Field(
        default=None,
        description="how customers reach a person when the bot cannot hand over, e.g. "
        '"email support@your-shop.example or call +1 555 0100"; default: the contact '
        "details in the store's knowledge (its contact FAQ entry), else a generic text",
    )


class RateLimitConfig(StrictModel):
    """Messages allowed per sliding window; 0 turns a limit off."""

    window_s: float = Field(default=60, gt=0, description="length of the window, seconds")
    per_session: int = Field(default=20, ge=0, description="messages per conversation")
    per_ip: int = Field(default=120, ge=0, description="messages per client IP address")


class ServerConfig(StrictModel):
    """``shopbot serve``: the HTTP API, the widget and the demo page."""

    host: str = Field(default="127.0.0.1", description="0.0.0.0 to listen on every interface")
    port: int = Field(default=8000, ge=0, le=65535)
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="sites that may call the API from a browser (CORS); * = any",
    )
    max_body_bytes: int = Field(default=16_384, gt=0, description="largest request body")
    concurrency: int | None = Field(
        default=None,
        gt=0,
        description="messages answered at once (the rest wait their turn); default: twice "
        "the CPU cores, since answering is CPU-bound",
    )
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    trust_proxy: bool = Field(
        default=False, description="take the client IP from X-Forwarded-For (behind a proxy)"
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="bearer token for the agent endpoints (release, agent messages); "
        "unset = those endpoints are off",
    )
    demo_page: bool = Field(default=True, description="serve the demo store page at /")
    preload_generator: bool = Field(
        default=True,
        description="load the generative model in the background at start, so the first "
        "question that needs it does not wait for the load",
    )

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: Any) -> Any:
        """``${SHOPBOT_ADMIN_TOKEN:-}`` with the variable unset means: no token."""
        return None if isinstance(value, str) and not value.strip() else value


class ShopbotConfig(StrictModel):
    """Root of ``config.yaml``; every section has defaults, so an empty file is valid."""

    store: StoreConfig = Field(default_factory=StoreConfig)
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    bot: BotConfig = Field(default_factory=BotConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    #: enabled channels: a built-in name (web, replay) or an import path, with its options
    channels: dict[str, dict[str, Any] | None] = Field(default_factory=lambda: {"web": {}})

    #: folder of the config file; relative paths in the file are resolved against it
    base_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def agents(self) -> bool:
        """Whether the agent API is on (``server.admin_token`` set and not empty)."""
        token = self.server.admin_token
        return bool(token and token.get_secret_value())

    @model_validator(mode="after")
    def _handoff_target(self) -> ShopbotConfig:
        """``bot.handoff.target`` defaults to agent exactly when the agent API is on."""
        if self.bot.handoff.target is None:
            self.bot.handoff.target = "agent" if self.agents else "none"
        return self

    def path(self, value: str) -> Path:
        return resolve_path(value, self.base_dir)

    @property
    def index_dir(self) -> Path:
        return self.path(self.knowledge.index_dir)

    @property
    def model_cache_dir(self) -> Path:
        """ONNX exports are cached beside the index (``<index_dir>/../models``)."""
        if self.embedder.cache_dir:
            return self.path(self.embedder.cache_dir)
        return self.index_dir.parent / "models"


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> ShopbotConfig:
    """Load ``path`` (default: ``$SHOPBOT_CONFIG`` or ``./config.yaml``).

    With no file at the default location the built-in defaults serve the demo store
    (reading ``$SHOPBOT_ADMIN_TOKEN`` and ``$SHOPBOT_DATA`` as config.yaml does).
    """
    environ = os.environ if environ is None else environ
    explicit = path is not None or "SHOPBOT_CONFIG" in environ
    path = Path(path or environ.get("SHOPBOT_CONFIG", DEFAULT_CONFIG))
    if not explicit and not path.exists():
        config = load_yaml_model(None, ShopbotConfig, environ=environ, text=BUILTIN_CONFIG)
        config.base_dir = Path.cwd()
    else:
        config = load_yaml_model(path, ShopbotConfig, environ=environ)
        config.base_dir = path.resolve().parent
    if config.bot.handoff.target == "agent" and not config.agents:
        raise ConfigError(
            f"{path}: bot.handoff.target is agent but server.admin_token is unset, so no agent "
            "could reply: set server.admin_token (e.g. ${SHOPBOT_ADMIN_TOKEN}), or set "
            "bot.handoff.target: none"
        )
    return config

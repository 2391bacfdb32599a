"""Typed configuration of the answer side: how the bot answers, hands over, generates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.privacy import KINDS, Redactor
from knowledge.config import StrictModel


class GeneratorConfig(StrictModel):
    """Which chat model writes the answers and how to run it."""

    backend: Literal["transformers", "openai", "fake"] = Field(
        default="transformers",
        description="transformers (a local model), openai (an OpenAI-compatible server), "
        "fake (tests only)",
    )
    model: str = Field(
        default="smollm2-135m",
        description="transformers: a bundled model (smollm2-135m), a .gguf file or a local "
        "model folder; openai: the model name the server knows",
    )
    gguf_file: str | None = Field(
        default=None, description="the .gguf file to load from a model folder holding several"
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="tokens of prompt plus reply; default: the model's own (openai: 8192)",
    )
    threads: int | None = Field(
        default=None, gt=0, description="CPU threads for the local model; default: torch's"
    )
    cache_dir: str | None = Field(
        default=None,
        description="where a GGUF model is kept de-quantised for fast loading (about 4 bytes "
        "a parameter); default: the model cache beside the index; empty string: none",
    )
    max_new_tokens: int = Field(default=200, gt=0, description="longest reply, in tokens")
    temperature: float = Field(default=0.0, ge=0, description="0 = greedy (deterministic)")
    base_url: str | None = Field(
        default=None,
        description="openai: the API root, e.g. http://127.0.0.1:8080/v1",
    )
    api_key: SecretStr | None = Field(
        default=None, description="openai: sent as a bearer token; masked in logs and errors"
    )
    timeout: float = Field(default=60, gt=0, description="openai: seconds to wait for a reply")


class SessionsConfig(StrictModel):
    """Where conversations are kept."""

    backend: Literal["sqlite", "memory"] = "sqlite"
    path: str = Field(default=".shopbot/sessions.db", description="sqlite: the database file")
    max_turns: int | None = Field(default=None, gt=0, description="keep only the last N turns")


class HandoffConfig(StrictModel):
    """Who takes a conversation the bot hands over."""

    target: Literal["none", "agent"] | None = Field(
        default=None,
        description="none: nobody can take a conversation here, so the bot says so, gives the "
        "store's contact route (store.contact) and keeps answering; agent: a person replies "
        "through the agent API (needs server.admin_token). Default: agent when "
        "server.admin_token is set, otherwise none (a Bot built without a deployment "
        "config assumes agent)",
    )


class PrivacyConfig(StrictModel):
    """What counts as personal data, and how long conversations are kept."""

    kinds: list[str] = Field(
        default_factory=lambda: list(KINDS),
        description="the built-in kinds redacted: " + ", ".join(KINDS),
    )
    patterns: dict[str, str] = Field(
        default_factory=dict,
        description="your own kinds, {LABEL: regex}, e.g. {ORDER: 'ORD-\\d{6}'}: replaced by "
        "[ORDER_1], [ORDER_2]... (a label is upper case letters, digits and _)",
    )
    retention_days: float | None = Field(
        default=90,
        gt=0,
        description="conversations idle for longer are deleted (at start, then hourly); "
        "null: kept until deleted (shopbot forget)",
    )
    key: SecretStr | None = Field(
        default=None,
        description="key of the hashes that number placeholders consistently within a "
        "conversation; default: a random key kept in privacy.key beside the session database",
    )

    @field_validator("key", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, value: object) -> object:
        """``${SHOPBOT_PRIVACY_KEY:-}`` with the variable unset means: no key."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _redactor_accepts_them(self) -> PrivacyConfig:
        self.redactor()  # unknown kinds, bad labels and regexes fail here, with the key
        return self

    def redactor(self, *, key: bytes | None = None) -> Redactor:
        """The redactor these options describe."""
        return Redactor(kinds=self.kinds, extra=self.patterns, key=key)


class BotConfig(StrictModel):
    """How the bot answers."""

    k: int = Field(default=5, gt=0, description="passages retrieved per message")
    max_failures: int = Field(
        default=2, gt=0, description="don't-know turns in a row before handing off"
    )
    max_message_chars: int = Field(default=2000, gt=0, description="longest accepted message")
    history_turns: int = Field(default=6, ge=0, description="turns of history in the prompt")
    generation: bool = Field(
        default=True,
        description="false: never load the generative model; questions a policy page answers "
        "get the best passage quoted (fast replays, very small machines)",
    )
    generate_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="languages the generator writes well; others get a quoted source instead",
    )
    excerpt_chars: int = Field(default=600, gt=50, description="length of a quoted source")
    messages: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="override canned texts per language, e.g. {zh: {handoff: ...}}",
    )
    handoff: HandoffConfig = Field(default_factory=HandoffConfig)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

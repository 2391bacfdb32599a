"""Generators: a local transformers model (bundled SmolLM2 by default), an OpenAI-compatible
server, and a scripted fake for tests. Heavy backends are imported only when built."""

from __future__ import annotations

from bot.config import GeneratorConfig
from bot.generators.base import ChatMessage, GenerationStats, Generator, GeneratorError
from bot.generators.fake import FakeGenerator
from knowledge.errors import ConfigError

__all__ = [
    "ChatMessage",
    "FakeGenerator",
    "GenerationStats",
    "Generator",
    "GeneratorError",
    "make_generator",
]


def make_generator(config: GeneratorConfig) -> Generator:
    """Build the configured generator (loading a local model takes a while: do it once)."""
    if config.backend == "fake":
        return FakeGenerator(context_window=config.context_window or 2048)
    if config.backend == "openai":
        if not config.base_url:
            raise ConfigError(
                "generator.base_url is required when generator.backend is 'openai': set it to "
                "the server's OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1"
            )
        from bot.generators.openai_compatible import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator(
            config.base_url,
            config.model,
            api_key=config.api_key.get_secret_value() if config.api_key else None,
            context_window=config.context_window or 8192,
            timeout=config.timeout,
        )
    from bot.generators.transformers_local import TransformersGenerator

    return TransformersGenerator(
        config.model,
        device=config.device,
        gguf_file=config.gguf_file,
        context_window=config.context_window,
        threads=config.threads,
        cache_dir=config.cache_dir or None,  # empty: no converted copy
    )

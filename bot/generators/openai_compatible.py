"""A chat model behind an OpenAI-compatible HTTP server (llama.cpp, vLLM, Ollama, LM Studio…).

Speaks ``POST {base_url}/chat/completions`` with ``stream: true`` and reads the server-sent
events (``data: {...}`` lines, ending with ``data: [DONE]``). The server applies the model's
chat template, so ``render()`` is only a role-tagged transcript, and ``count_tokens()`` is an
estimate (one token per four characters, one per CJK character): the model's tokenizer is on
the server. Leave some margin in the context window for that.

Errors name the URL and the HTTP status; the API key never appears in them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bot.generators.base import (
    ChatMessage,
    GenerationStats,
    Generator,
    GeneratorError,
    StopFilter,
    approx_tokens,
    plain_render,
)

_SNIPPET = 300  # characters of an error body quoted in messages


class OpenAICompatibleGenerator(Generator):
    """Streams chat completions from ``base_url`` (e.g. ``http://127.0.0.1:8080/v1``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_window: int = 8192,
        timeout: float = 60,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must be an http(s) URL such as http://127.0.0.1:8080/v1, "
                f"got {base_url!r}"
            )
        if context_window <= 0:
            raise ValueError(f"context_window must be at least 1, got {context_window}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive (seconds), got {timeout}")
        root = base_url.rstrip("/")
        self.url = root if root.endswith("/chat/completions") else f"{root}/chat/completions"
        self.model = model
        self.name = f"openai:{model}"
        self.context_window = context_window
        self.timeout = timeout
        self.last_stats = None
        self._api_key = api_key or None
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def count_tokens(self, text: str) -> int:
        """Approximate: one token per four characters, one per CJK character."""
        return approx_tokens(text)

    def _render(self, messages: list[ChatMessage]) -> str:
        return plain_render(messages)

    def close(self) -> None:
        self._client.close()

    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        temperature: float,
        stop: list[str],
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_new_tokens,
            "temperature": temperature,
        }
        if stop:
            body["stop"] = stop
        prompt_estimate = approx_tokens(plain_render(messages))
        return self._run(body, prompt_estimate, stop)

    def _run(self, body: dict[str, Any], prompt_estimate: int, stop: list[str]) -> Iterator[str]:
        start = time.perf_counter()
        first: float | None = None
        text_out: list[str] = []
        usage: dict[str, Any] = {}
        finish = "stop"
        stops = StopFilter(stop)

        def fail(message: str) -> GeneratorError:
            self.last_stats = GenerationStats(
                prompt_estimate,
                approx_tokens("".join(text_out)),
                first,
                time.perf_counter() - start,
                "error",
            )
            return GeneratorError(self._redact(message))

        try:
            with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 400:
                    raise fail(self._status_message(response))
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ": comments", "event:" lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError:
                        raise fail(
                            f"{self.url} sent a stream event that is not JSON: {data[:80]!r} "
                            "(is base_url an OpenAI-compatible API root, e.g. .../v1?)"
                        ) from None
                    if not isinstance(chunk, dict):
                        raise fail(f"{self.url} sent a stream event that is not an object")
                    if "error" in chunk:
                        raise fail(f"{self.url} reported an error: {_error_text(chunk)}")
                    if isinstance(chunk.get("usage"), dict):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            if first is None:
                                first = time.perf_counter() - start
                            text_out.append(piece)
                            emitted = stops.feed(piece)
                            if emitted:
                                yield emitted
                        if choice.get("finish_reason"):
                            finish = "length" if choice["finish_reason"] == "length" else "stop"
                    if stops.stopped:
                        finish = "stop"
                        break  # leaving the block closes the connection: the server stops
        except httpx.ConnectError as exc:
            raise fail(
                f"cannot connect to {self.url} ({exc}): is the server running? "
                "Check generator.base_url"
            ) from None
        except httpx.TimeoutException:
            raise fail(
                f"{self.url} did not answer within {self.timeout:g} s: raise generator.timeout "
                "or check the server"
            ) from None
        except httpx.HTTPError as exc:
            raise fail(f"request to {self.url} failed: {type(exc).__name__}: {exc}") from None
        tail = stops.flush()
        if tail:
            yield tail
        completion = usage.get("completion_tokens")
        prompt = usage.get("prompt_tokens")
        self.last_stats = GenerationStats(
            prompt_tokens=int(prompt) if isinstance(prompt, int) else prompt_estimate,
            completion_tokens=(
                int(completion) if isinstance(completion, int) else approx_tokens("".join(text_out))
            ),
            first_token_s=first,
            total_s=time.perf_counter() - start,
            finish_reason=finish,
        )

    def _status_message(self, response: httpx.Response) -> str:
        try:
            raw = response.read().decode("utf-8", "replace")
        except httpx.HTTPError:
            raw = ""
        try:
            detail = _error_text(json.loads(raw))
        except (json.JSONDecodeError, TypeError, AttributeError):
            detail = raw.strip()
        detail = detail[:_SNIPPET] or response.reason_phrase
        hint = {
            401: " (check generator.api_key)",
            403: " (check generator.api_key)",
            404: " (check generator.base_url and generator.model)",
        }.get(response.status_code, "")
        return f"{self.url} answered HTTP {response.status_code}{hint}: {detail}"

    def _redact(self, message: str) -> str:
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message


def _error_text(payload: Any) -> str:
    """The message of an OpenAI-style error body ``{"error": {"message": ...}}``."""
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)

"""A scripted generator for tests: replies come from a queue, no model is loaded.

Like the mock model of simonw/llm: ``enqueue()`` the replies a test expects the engine to
receive, run the engine, then read ``history`` to see the messages it sent. With an empty
queue every call gets ``default_reply``. Queue an exception to make that call fail.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterator

from bot.generators.base import (
    CJK_CHAR,
    ChatMessage,
    GenerationStats,
    Generator,
    StopFilter,
    plain_render,
    word_tokens,
)

DEFAULT_REPLY = "This is the fake generator's reply."

# One piece per word (with the whitespace after it) and one per CJK character.
_PIECE = re.compile(rf"{CJK_CHAR.pattern}\s*|[^\s{CJK_CHAR.pattern[1:-1]}]+\s*|\s+")


class FakeGenerator(Generator):
    """Streams queued replies word by word (CJK character by character).

    ``count_tokens`` counts whitespace-separated words plus CJK characters, and a reply is
    cut after ``max_new_tokens`` such pieces (finish reason "length").
    """

    def __init__(
        self,
        *,
        context_window: int = 2048,
        default_reply: str = DEFAULT_REPLY,
        name: str = "fake",
    ) -> None:
        if context_window <= 0:
            raise ValueError(f"context_window must be at least 1, got {context_window}")
        self.name = name
        self.context_window = context_window
        self.default_reply = default_reply
        self.history: list[list[ChatMessage]] = []
        self.last_stats = None
        self._queue: deque[str | BaseException] = deque()

    def enqueue(self, *replies: str | BaseException) -> None:
        """Queue replies, one per future call, in order. An exception is raised by its call."""
        for reply in replies:
            if not isinstance(reply, str | BaseException):
                raise TypeError(f"enqueue() takes strings or exceptions, got {reply!r}")
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Replies still queued."""
        return len(self._queue)

    def count_tokens(self, text: str) -> int:
        return word_tokens(text)

    def _render(self, messages: list[ChatMessage]) -> str:
        return plain_render(messages)

    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        temperature: float,
        stop: list[str],
    ) -> Iterator[str]:
        # Recorded and dequeued at call time, so a stream never iterated still counts.
        self.history.append([ChatMessage(m.role, m.content) for m in messages])
        reply = self._queue.popleft() if self._queue else self.default_reply
        prompt_tokens = self.count_tokens(self._render(messages))
        return self._pieces(reply, prompt_tokens, max_new_tokens, stop)

    def _pieces(
        self, reply: str | BaseException, prompt_tokens: int, max_new_tokens: int, stop: list[str]
    ) -> Iterator[str]:
        start = time.perf_counter()
        if isinstance(reply, BaseException):
            self.last_stats = GenerationStats(prompt_tokens, 0, None, 0.0, "error")
            raise reply
        pieces = _PIECE.findall(reply)
        finish = "stop"
        if len(pieces) > max_new_tokens:
            pieces, finish = pieces[:max_new_tokens], "length"
        stops = StopFilter(stop)
        first: float | None = None
        emitted = 0
        for piece in pieces:
            if first is None:
                first = time.perf_counter() - start
            emitted += 1
            text = stops.feed(piece)
            if text:
                yield text
            if stops.stopped:
                finish = "stop"
                break
        tail = stops.flush()
        if tail:
            yield tail
        self.last_stats = GenerationStats(
            prompt_tokens, emitted, first, time.perf_counter() - start, finish
        )

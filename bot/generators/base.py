"""The generator interface: chat messages in, streamed text out, with timing statistics.

A backend implements four things: ``count_tokens``, ``_render`` (the prompt text in the
model's own chat format), ``_stream`` (yield text pieces, then set ``last_stats``) and, when
it holds resources, ``close``. The public methods here validate their arguments first, so
every backend rejects the same mistakes with the same messages.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from knowledge.errors import ShopbotError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = get_args(Role)
FinishReason = Literal["stop", "length", "error"]

# Characters that are (about) one token each: CJK ideographs, kana, hangul, CJK punctuation
# and full-width forms. Used by the approximate token counts.
CJK_CHAR = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)
_WORD_RUN = re.compile(
    r"[^\s\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+"
)


class GeneratorError(ShopbotError):
    """A text generator cannot be loaded, reached or run. Says what to change."""


@dataclass
class ChatMessage:
    role: Role
    content: str


@dataclass
class GenerationStats:
    """What one ``stream()`` call cost. Times are seconds from the call's start."""

    #: tokens in the rendered prompt
    prompt_tokens: int
    #: tokens the model generated (including any cut off by a stop string)
    completion_tokens: int
    #: when the first generated token was ready; None when nothing was generated
    first_token_s: float | None
    total_s: float
    #: "stop" (end of turn or a stop string), "length" (max_new_tokens or the context
    #: window ran out) or "error"
    finish_reason: str

    @property
    def tokens_per_s(self) -> float | None:
        """Decoding speed: tokens after the first over the time after the first."""
        if self.first_token_s is None or self.completion_tokens < 2:
            return None
        elapsed = self.total_s - self.first_token_s
        return (self.completion_tokens - 1) / elapsed if elapsed > 0 else None


class Generator(ABC):
    """A chat model that streams its reply. Not all backends run calls in parallel: the
    local model serialises them (a second ``stream()`` waits for the first to finish)."""

    #: backend and model, e.g. "transformers:SmolLM2-135M-Instruct"
    name: str
    #: most tokens the prompt and the completion may hold together
    context_window: int
    #: statistics of the last stream() that ran to its end (or failed); None before
    last_stats: GenerationStats | None = None

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is for this model (exact or approximate per backend)."""

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model reads for ``messages``, ending where the assistant's
        reply starts. The prompt builder measures it to fit the context window."""
        return self._render(validate_messages(messages))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply in pieces as they are generated. Arguments are checked now (not
        at the first ``next()``); ``last_stats`` is set once the iterator is exhausted.
        ``temperature`` 0 is greedy (deterministic). Output ends before the first ``stop``
        string, which is not included."""
        checked = validate_messages(messages)
        _check_generation_args(max_new_tokens, temperature, stop)
        return self._stream(
            checked,
            max_new_tokens=max_new_tokens,
            temperature=float(temperature),
            stop=list(stop or ()),
        )

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> str:
        """The whole reply at once: ``stream()`` joined."""
        pieces = self.stream(
            messages, max_new_tokens=max_new_tokens, temperature=temperature, stop=stop
        )
        return "".join(pieces)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections or other resources; the generator is unusable afterwards."""

    @abstractmethod
    def _render(self, messages: list[ChatMessage]) -> str: ...

    @abstractmethod
    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        temperature: float,
        stop: list[str],
    ) -> Iterator[str]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, context_window={self.context_window})"


def validate_messages(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Check a conversation; returns it as a list. Raises ValueError/TypeError with the fix."""
    if isinstance(messages, ChatMessage | str) or not isinstance(messages, Sequence):
        raise TypeError(
            "messages must be a list of ChatMessage, e.g. "
            "[ChatMessage(role='user', content='Hello')]"
        )
    if not messages:
        raise ValueError(
            "messages is empty: pass at least one ChatMessage(role='user', content=...)"
        )
    for n, message in enumerate(messages):
        if not isinstance(message, ChatMessage):
            raise TypeError(
                f"messages[{n}] is a {type(message).__name__}, not a ChatMessage: wrap it as "
                "ChatMessage(role=..., content=...)"
            )
        if message.role not in ROLES:
            raise ValueError(
                f"messages[{n}].role is {message.role!r}: use one of {', '.join(ROLES)}"
            )
        if not isinstance(message.content, str):
            raise TypeError(
                f"messages[{n}].content is a {type(message.content).__name__}: it must be a str"
            )
    return list(messages)


def _check_generation_args(
    max_new_tokens: int, temperature: float, stop: Sequence[str] | None
) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise TypeError(f"max_new_tokens must be an int, got {max_new_tokens!r}")
    if max_new_tokens <= 0:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        raise ValueError(
            f"temperature must be a number >= 0 (0 = greedy, deterministic), got {temperature!r}"
        )
    if stop is None:
        return
    if isinstance(stop, str):
        raise TypeError(f"stop must be a list of strings, e.g. [{stop!r}], not a string")
    for n, item in enumerate(stop):
        if not isinstance(item, str) or not item:
            raise ValueError(f"stop[{n}] is {item!r}: stop strings must be non-empty strings")


def approx_tokens(text: str) -> int:
    """A model-free token estimate: one per CJK character, one per four other characters."""
    cjk = len(CJK_CHAR.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def word_tokens(text: str) -> int:
    """Whitespace-separated words plus CJK characters (each CJK character counts one)."""
    return len(CJK_CHAR.findall(text)) + len(_WORD_RUN.findall(text))


def plain_render(messages: Sequence[ChatMessage]) -> str:
    """A role-tagged transcript ending with an open assistant turn, for backends whose real
    template is applied elsewhere (a server) or that have none (the fake)."""
    turns = [f"<|{m.role}|>\n{m.content}\n" for m in messages]
    return "".join(turns) + "<|assistant|>\n"


class StopFilter:
    """Cuts streamed text before the first stop string, even when the string arrives split
    over several pieces: text that could be the start of a stop string is held back until
    the next piece shows whether it is.

    Feed every piece to :meth:`feed` and emit what it returns; once ``stopped`` is True,
    stop generating. At the end emit :meth:`flush`.
    """

    def __init__(self, stop: Sequence[str]) -> None:
        self.stop = [s for s in stop if s]
        self.stopped = False
        self._held = ""

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        if not self.stop:
            return piece
        text = self._held + piece
        cuts = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if cuts:
            self.stopped = True
            self._held = ""
            return text[: min(cuts)]
        hold = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(text)), hold, -1):
                if text.endswith(s[:k]):
                    hold = k
                    break
        self._held = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.stopped else held

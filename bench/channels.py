"""Channel benchmark: how fast platforms are acknowledged while answers are being generated.

``shopbot serve`` runs in its own process on 127.0.0.1 with the web channel, Slack and, when
``connectors/wechat.py`` exists, a WeChat Official Account (plaintext mode) enabled; the
platforms' APIs are a local stand-in in this process that records each
``chat.postMessage`` and each customer-service message. For ``--seconds``, at the same time:

- ``--senders`` Slack customers (32 by default), each in a direct message of its own, send
  an event signed with ``slack_sdk``'s ``SignatureVerifier``, time the HTTP acknowledgement,
  wait for the answer to be posted, and send the next;
- as many WeChat followers post text messages signed with wechatpy's ``WeChatSigner``: the
  response is the answer when it is ready within the reply window (a passive reply), else
  ``success`` and the answer comes through the message API;
- as many web customers ask on ``/api/chat``, whose HTTP response is the answer.

The questions mix FAQ questions (no model) with questions the bot answers by generating from
the store's policies, so the generator is busy all along. Slack allows 3 s for the
acknowledgement (WeChat 5 s): the acknowledgement must stay well inside it however long the
answers take; ``/api/chat`` beside it shows how long the answers themselves take.

    python bench/channels.py [--senders 32] [--seconds 60] [--generator transformers|fake]
                             [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bench.server import Connection as KeepAlive  # noqa: E402
from bench.server import free_port, percentile, questions, start_server  # noqa: E402
from knowledge.embedders.cpu import cpu_info  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM = "TBENCH"
WECHAT_TOKEN = "benchtoken"
#: questions the demo store answers by generating from its policy pages (with the bundled
#: model), beside its FAQ questions
GENERATED = [
    "do you ship to PO boxes",
    "what happens if my parcel is lost in transit",
    "can I return a tent I have already used on a trip",
    "how do you handle a warranty claim for a broken zipper",
    "is my card information stored when I pay",
    "can I change the delivery address after I ordered",
    "do you sell gift cards and do they expire",
    "what if the item arrives damaged",
]


# ---------------------------------------------------------------------------- fake Slack API
@dataclass
class FakeSlack:
    """Slack's Web API and WeChat's message API on 127.0.0.1: each ``chat.postMessage`` (by
    channel) and customer-service message (by openid), with the time it arrived."""

    url: str = ""
    posts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    guard: threading.Lock = field(default_factory=threading.Lock)

    def count(self, channel: str) -> int:
        with self.guard:
            return len(self.posts.get(channel, []))

    def total(self) -> int:
        with self.guard:
            return sum(len(v) for v in self.posts.values())


def start_fake_slack() -> tuple[FakeSlack, ThreadingHTTPServer]:
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            sent = json.loads(body or b"{}")
            if self.path == "/chat.postMessage":
                where = sent.get("channel", "?")
            elif self.path.startswith("/cgi-bin/message/custom/send"):
                where = sent.get("touser", "?")
            else:
                where = None
            if where is not None:
                with fake.guard:
                    fake.posts[where].append(time.perf_counter())
            answer = {"ok": True, "ts": f"{time.time():.6f}", "errcode": 0, "errmsg": "ok"}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    return fake, server


# ---------------------------------------------------------------------------- the client
class Connection(KeepAlive):
    """``bench.server``'s keep-alive client (the load generator shares the cores with the
    server: it should cost them little), reconnecting once when the server had closed the
    kept-alive connection (uvicorn closes connections idle for 5 s: a Slack sender waits
    longer than that for its answer)."""

    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port)

    async def send(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            return await self.request(path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.close()
            if not reused:
                raise
            return await self.request(path, body, headers)


def slack_event(text: str, channel: str, user: str) -> bytes:
    payload = {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": "Ev" + uuid.uuid4().hex[:12].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        },
    }
    return json.dumps(payload).encode()


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


@dataclass
class Tally:
    """One channel's timings (ms) and failures."""

    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    errors: int = 0
    unanswered: int = 0
    passive: int = 0  # answered in the HTTP response (WeChat's passive reply)
    actions: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def row(self, name: str) -> dict[str, Any]:
        return {
            "channel": name,
            "requests": len(self.acks),
            "ack_p50_ms": percentile(self.acks, 50),
            "ack_p99_ms": percentile(self.acks, 99),
            "ack_max_ms": max(self.acks, default=float("nan")),
            "answer_p50_ms": percentile(self.answers, 50),
            "answer_p99_ms": percentile(self.answers, 99),
            "errors": self.errors,
            "unanswered": self.unanswered,
            "passive_replies": self.passive,
            "actions": dict(self.actions),
        }


async def slack_sender(
    number: int, port: int, fake: FakeSlack, asked: list[str], deadline: float, tally: Tally
) -> None:
    """One Slack customer: a message, its acknowledgement timed, its answer awaited."""
    connection = Connection(port)
    channel, n = f"DBENCH{number:03d}", number
    try:
        while time.perf_counter() < deadline:
            body = slack_event(asked[n % len(asked)], channel, f"UCUST{number:03d}")
            n += 7
            before = fake.count(channel)
            started = time.perf_counter()
            try:
                status, _ = await connection.send("/channels/slack", body, signed(body))
            except (OSError, ValueError, asyncio.IncompleteReadError):
                status = 0
                await connection.close()
            acked = time.perf_counter()
            if status != 200:
                tally.errors += 1
                continue
            tally.acks.append((acked - started) * 1000)
            # the answer, posted by the server's worker
            if not await answer_posted(fake, channel, before, started, deadline, tally):
                return
    finally:
        await connection.close()


async def answer_posted(
    fake: FakeSlack, address: str, before: int, started: float, deadline: float, tally: Tally
) -> bool:
    """Wait for the answer the server's worker posts to ``address`` (its ``before``-th post)
    and count its time since ``started``; False (counted unanswered) when none comes."""
    while fake.count(address) == before:
        if time.perf_counter() > deadline + 300:
            tally.unanswered += 1
            return False
        await asyncio.sleep(0.02)
    with fake.guard:
        posted = fake.posts[address][before]
    tally.answers.append((posted - started) * 1000)
    return True


def wechat_message(text: str, user: str) -> tuple[str, bytes]:
    """A text message as WeChat posts it: the signed query string and the XML body."""
    from wechatpy.utils import WeChatSigner

    stamp, nonce = str(int(time.time())), str(uuid.uuid4().int % 10**9)
    signer = WeChatSigner()
    signer.add_data(WECHAT_TOKEN, stamp, nonce)
    query = f"signature={signer.signature}&timestamp={stamp}&nonce={nonce}&openid={user}"
    body = (
        f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{uuid.uuid4().int % 10**18}</MsgId></xml>"
    )
    return query, body.encode()


async def wechat_sender(
    number: int, port: int, fake: FakeSlack, asked: list[str], deadline: float, tally: Tally
) -> None:
    """One WeChat follower: the response is a passive reply, or ``success`` and the answer
    through the message API (awaited before the next message)."""
    connection = Connection(port)
    user, n = f"obench{number:03d}", number
    try:
        while time.perf_counter() < deadline:
            query, body = wechat_message(asked[n % len(asked)], user)
            n += 7
            before = fake.count(user)
            started = time.perf_counter()
            try:
                status, raw = await connection.send(
                    f"/channels/wechat?{query}", body, {"Content-Type": "text/xml"}
                )
            except (OSError, ValueError, asyncio.IncompleteReadError):
                status, raw = 0, b""
                await connection.close()
            responded = time.perf_counter()
            if status != 200:
                tally.errors += 1
                continue
            tally.acks.append((responded - started) * 1000)
            if raw.strip() not in (b"", b"success"):  # the answer itself, within the window
                tally.passive += 1
                tally.answers.append((responded - started) * 1000)
                continue
            if not await answer_posted(fake, user, before, started, deadline, tally):
                return
    finally:
        await connection.close()


async def web_sender(
    number: int, port: int, asked: list[str], deadline: float, tally: Tally
) -> None:
    """One widget customer on ``/api/chat``: the response is the answer."""
    connection = Connection(port)
    session: str | None = None
    n = number
    try:
        while time.perf_counter() < deadline:
            payload: dict[str, Any] = {"text": asked[n % len(asked)]}
            if session:
                payload["session_id"] = session
            n += 7
            started = time.perf_counter()
            try:
                status, raw = await connection.send(
                    "/api/chat", json.dumps(payload).encode(), {"Content-Type": "application/json"}
                )
            except (OSError, ValueError, asyncio.IncompleteReadError):
                status, raw = 0, b""
                await connection.close()
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                tally.errors += 1
                continue
            tally.acks.append(elapsed)
            tally.answers.append(elapsed)
            data = json.loads(raw)
            session = data["session_id"]
            tally.actions[data["reply"]["action"]] += 1
    finally:
        await connection.close()


async def load(
    port: int, fake: FakeSlack, asked: list[str], senders: int, seconds: float, wechat: bool
) -> dict[str, Tally]:
    tallies = {"slack": Tally(), "wechat": Tally(), "/api/chat": Tally()}
    deadline = time.perf_counter() + seconds
    slack, weixin, web = tallies.values()
    await asyncio.gather(
        *(slack_sender(i, port, fake, asked, deadline, slack) for i in range(senders)),
        *(
            wechat_sender(i, port, fake, asked, deadline, weixin)
            for i in range(senders if wechat else 0)
        ),
        *(web_sender(i, port, asked, deadline, web) for i in range(senders)),
    )
    if not wechat:
        del tallies["wechat"]
    return tallies


# ---------------------------------------------------------------------------- set-up
def write_config(folder: Path, api: str, generator: str, wechat: bool) -> Path:
    config = folder / "config.yaml"
    generation = "  generator: {backend: fake}\n" if generator == "fake" else "  generation: true\n"
    config.write_text(
        f"knowledge:\n  index_dir: {folder / 'index'}\n"
        f"embedder:\n  cache_dir: {ROOT / '.shopbot' / 'models'}\n"
        f"bot:\n{generation}  sessions:\n    path: {folder / 'sessions.db'}\n"
        "server:\n  rate_limit: {per_session: 0, per_ip: 0}\n"
        "channels:\n  web: {}\n"
        f"  slack:\n    signing_secret: {SECRET}\n    bot_token: {TOKEN}\n"
        f"    api_url: {api}\n"
        + (
            f"  wechat:\n    token: {WECHAT_TOKEN}\n    app_id: wxbench\n"
            f"    access_token: AT_bench\n    encryption: plaintext\n    api_base: {api}\n"
            if wechat
            else ""
        ),
        encoding="utf-8",
    )
    return config


def backends(config: Path) -> dict[str, str]:
    """The embedder and generator the server runs with, as its configuration resolves them."""
    from connectors.config import load_config

    cfg = load_config(config)
    generator = cfg.bot.generator
    return {
        "embedder": f"{cfg.embedder.backend} {cfg.embedder.model}",
        "generator": (
            "none (quotes passages)"
            if not cfg.bot.generation
            else "fake (canned text)"
            if generator.backend == "fake"
            else f"{generator.backend} {generator.model} on {generator.device}"
        ),
    }


def wechat_note() -> str | None:
    """Why WeChat is not measured in this run (None: it is)."""
    if not (ROOT / "connectors" / "wechat.py").exists():
        return "WeChat: skipped (connectors/wechat.py does not exist yet)"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=32, help="per channel")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--generator", choices=["transformers", "fake"], default="transformers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    asked = [q for pair in zip(GENERATED * 8, questions()[::5], strict=False) for q in pair]
    note = wechat_note()
    fake, fake_server = start_fake_slack()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), fake.url, args.generator, wechat=note is None)
        subprocess.run(
            [sys.executable, "-m", "connectors.cli", "index", "--config", str(config)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        used = backends(config)
        port = free_port()
        server = start_server(config, port)
        try:
            asyncio.run(load(port, fake, asked, 2, 5.0, note is None))  # warm up: loads models
            tallies = asyncio.run(load(port, fake, asked, args.senders, args.seconds, note is None))
        finally:
            server.terminate()
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
            fake_server.shutdown()

    rows = [tally.row(name) for name, tally in tallies.items()]
    print(f"CPU: {cpu_info().model}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print(f"backend: embedder {used['embedder']}, generator {used['generator']}")
    print(f"{args.senders} senders per channel at once, {args.seconds:g} s")
    print(
        f"{'channel':>10} {'requests':>8} {'ack p50 ms':>11} {'ack p99 ms':>11} "
        f"{'ack max ms':>11} {'answer p50 ms':>14} {'answer p99 ms':>14} {'errors':>6}"
    )
    for row in rows:
        print(
            f"{row['channel']:>10} {row['requests']:>8} {row['ack_p50_ms']:>11.1f} "
            f"{row['ack_p99_ms']:>11.1f} {row['ack_max_ms']:>11.1f} "
            f"{row['answer_p50_ms']:>14.0f} {row['answer_p99_ms']:>14.0f} {row['errors']:>6}"
        )
    print(
        "(ack: the HTTP response to the platform; answer: from the request to the answer "
        "delivered. slack: the answer is a chat.postMessage; wechat: the passive reply, "
        "or the message API after `success`; /api/chat: the response is the answer)"
    )
    if "wechat" in tallies:
        weixin = tallies["wechat"]
        print(f"wechat: {weixin.passive} of {len(weixin.acks)} answered by a passive reply")
    for name, tally in tallies.items():
        if tally.unanswered:
            print(f"{name}: {tally.unanswered} message(s) not answered within 300 s of the end")
    print(f"/api/chat actions: {dict(tallies['/api/chat'].actions)}")
    if note:
        print(note)
    if args.json:
        result = {
            "machine": {"cpu": cpu_info().model, "cpus": os.cpu_count()},
            "python": platform.python_version(),
            "backend": used,
            "senders_per_channel": args.senders,
            "seconds": args.seconds,
            "channels": rows,
            "wechat": note or "measured (Official Account, plaintext mode)",
        }
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

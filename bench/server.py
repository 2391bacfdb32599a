"""Server benchmark: N concurrent simulated customers asking FAQ questions over HTTP, side by
side with ``Bot.reply`` called in-process on the same questions.

The demo store's FAQ question variants are the questions (the FAQ path: no generative model).
``shopbot serve`` runs in its own process (uvicorn, one worker, SQLite sessions, rate limits
off); the customers are asyncio tasks in this process on keep-alive connections (a minimal
HTTP/1.1 client, so the load generator costs little), each with its own session,
asking one question after another for ``--seconds``. Both processes share the machine's
cores, as a server and its load generator on one laptop would. Each simulated customer
starts a new conversation every 20 questions; the in-process baseline answers the same
questions one after another in the same kind of sessions (SQLite, 20 questions each).

    python bench/server.py [--levels 1 8 32 64] [--seconds 10] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.types import IncomingMessage  # noqa: E402
from connectors.app import build_bot  # noqa: E402
from connectors.config import load_config  # noqa: E402

FAQ = ROOT / "knowledge" / "demo_store" / "faq.csv"
PER_SESSION = 20  # questions per conversation, on both sides


def questions() -> list[str]:
    with FAQ.open(encoding="utf-8") as handle:
        return [row["question"] for row in csv.DictReader(handle)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def write_config(folder: Path) -> Path:
    config = folder / "config.yaml"
    config.write_text(
        f"knowledge:\n  index_dir: {folder / 'index'}\n"
        f"embedder:\n  cache_dir: {ROOT / '.shopbot' / 'models'}\n"
        f"bot:\n  sessions:\n    path: {folder / 'sessions.db'}\n"
        "server:\n  rate_limit: {per_session: 0, per_ip: 0}\n  preload_generator: false\n",
        encoding="utf-8",
    )
    return config


def in_process(config: Path, asked: list[str], seconds: float) -> dict[str, float]:
    bot = build_bot(load_config(config))
    from knowledge.embedders import describe_embedder

    print(f"embedder: {describe_embedder(bot.kb.embedder)}", flush=True)
    for text in asked[:20]:  # warm up
        bot.reply(IncomingMessage(text, session_id="warm", channel="web"))
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        text = asked[n % len(asked)]
        started = time.perf_counter()
        bot.reply(IncomingMessage(text, session_id=f"c{n // PER_SESSION}", channel="web"))
        latencies.append((time.perf_counter() - started) * 1000)
        n += 1
    bot.sessions.close()
    return {
        "requests": n,
        "rps": n / seconds,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator should
    cost the shared cores as little as possible (httpx costs several times more)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        return await self.request(path, body, {"Content-Type": "application/json"})

    async def request(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """One POST on the kept-alive connection: (status, body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def customers(url: str, asked: list[str], concurrency: int, seconds: float) -> dict:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0

    async def customer(number: int, deadline: float) -> None:
        nonlocal errors
        connection = Connection(host, int(port))
        n, asked_here, session = number, 0, None
        try:
            while time.perf_counter() < deadline:
                if asked_here % PER_SESSION == 0:  # a new customer: a new conversation
                    _, raw = await connection.post("/api/sessions", {})
                    session = json.loads(raw)["session_id"]
                asked_here += 1
                body = {"text": asked[n % len(asked)], "session_id": session}
                started = time.perf_counter()
                try:
                    status, _ = await connection.post("/api/chat", body)
                    ok = status == 200
                except (OSError, ValueError, asyncio.IncompleteReadError):
                    ok = False
                    await connection.close()
                    connection = Connection(host, int(port))
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1
                n += concurrency
        finally:
            await connection.close()

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(customer(i, deadline) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "errors": errors,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(config: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "connectors.cli", "serve", "--config", str(config)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--no-index"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError("server did not start in 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    asked = questions()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        subprocess.run(
            [sys.executable, "-m", "connectors.cli", "index", "--config", str(config)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        baseline = in_process(config, asked, args.seconds)
        port = free_port()
        server = start_server(config, port)
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(customers(url, asked, 4, 2.0))  # warm up
            rows = [asyncio.run(customers(url, asked, c, args.seconds)) for c in args.levels]
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"{len(asked)} FAQ questions, {args.seconds:g} s per level, {os.cpu_count()} cores")
    print(
        f"in-process Bot.reply: {baseline['rps']:.0f} replies/s, "
        f"p50 {baseline['p50_ms']:.2f} ms, p99 {baseline['p99_ms']:.2f} ms"
    )
    header = (
        f"{'customers':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'req/s vs in-process':>20} {'p50 vs in-process':>18}"
    )
    print(header)
    for row in rows:
        row["rps_ratio"] = row["rps"] / baseline["rps"]
        row["p50_ratio"] = row["p50_ms"] / baseline["p50_ms"]
        print(
            f"{row['concurrency']:>9} {row['rps']:>8.0f} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {row['errors']:>6} {row['rps_ratio']:>20.2f} "
            f"{row['p50_ratio']:>18.1f}"
        )
    if args.json:
        result = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "seconds_per_level": args.seconds,
            "questions": len(asked),
            "in_process": baseline,
            "server": rows,
            "median_server_p50_ms": statistics.median(r["p50_ms"] for r in rows),
        }
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Load section of the trust benchmark: 64 simulated customers for 60 seconds against a real
``shopbot serve`` on 127.0.0.1, counting what a store would call failures.

The server is the demo store on the default configuration, except: each simulated customer
comes from an address of its own (``server.trust_proxy: true`` and an ``X-Forwarded-For``
per customer, as behind a store's proxy), so the default rate limits apply per customer
rather than to one shared 127.0.0.1; and the generative model is not preloaded (the
questions are the demo FAQ's question variants and out-of-store questions: the FAQ and
don't-know paths, no model). Each customer asks one question after another on a keep-alive
connection and starts a new conversation every 20 questions; a 429 is counted apart (the
limits doing their job), not as an error. Errors are 5xx answers and connection failures
(refused, reset, closed mid-answer, timed out).

    python bench/_trust_load.py [--customers 64] [--seconds 60] [--json OUT]

``bench/trust.py`` imports ``load_section``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
FAQ = ROOT / "knowledge" / "demo_store" / "faq.csv"
PER_SESSION = 20
TIMEOUT_S = 30
OUT_OF_STORE = [
    "what's the weather in Paris",
    "can I pay with bitcoin",
    "do you sell kayaks",
    "你们卖自行车吗",
]


def questions() -> list[str]:
    """The demo FAQ's question variants, with an out-of-store question after every eighth."""
    with FAQ.open(encoding="utf-8") as handle:
        faq = [row["question"] for row in csv.DictReader(handle)]
    asked = []
    for n, question in enumerate(faq):
        asked.append(question)
        if n % 8 == 7:
            asked.append(OUT_OF_STORE[n // 8 % len(OUT_OF_STORE)])
    return asked


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (cheap for the shared cores)."""

    def __init__(self, host: str, port: int, address: str) -> None:
        self.host, self.port, self.address = host, port, address
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"X-Forwarded-For: {self.address}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_customers(
    url: str, asked: list[str], customers: int, seconds: float, *, first: int = 0
) -> dict:
    """``customers`` simulated customers for ``seconds``; customer n comes from address
    number ``first + n``."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    counts = {"requests": 0, "ok": 0, "limited": 0, "server_errors": 0, "connection_errors": 0}
    other: dict[int, int] = {}

    async def send(connection: Connection, path: str, body: dict) -> tuple[int | None, bytes]:
        counts["requests"] += 1
        started = time.perf_counter()
        try:
            status, data = await asyncio.wait_for(connection.post(path, body), TIMEOUT_S)
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
            counts["connection_errors"] += 1
            await connection.close()
            return None, b""
        if status == 200 or status == 201:
            counts["ok"] += 1
            latencies.append((time.perf_counter() - started) * 1000)
        elif status == 429:
            counts["limited"] += 1
        elif status >= 500:
            counts["server_errors"] += 1
        else:
            other[status] = other.get(status, 0) + 1
        return status, data

    async def customer(number: int, deadline: float) -> None:
        at = first + number
        connection = Connection(host, int(port), f"10.{at // 250 % 250}.{at % 250}.1")
        n, asked_here, session = number, 0, None
        try:
            while time.perf_counter() < deadline:
                if session is None or asked_here % PER_SESSION == 0:
                    status, data = await send(connection, "/api/sessions", {})
                    session = json.loads(data)["session_id"] if status == 201 else None
                    if session is None:
                        await asyncio.sleep(0.5)  # limited or failed: wait a moment
                        continue
                asked_here += 1
                body = {"text": asked[n % len(asked)], "session_id": session}
                status, _ = await send(connection, "/api/chat", body)
                if status == 429:
                    await asyncio.sleep(1.0)  # a person would wait before trying again
                n += customers
        finally:
            await connection.close()

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(customer(i, deadline) for i in range(customers)))
    elapsed = time.perf_counter() - started
    return {
        "customers": customers,
        "seconds": round(elapsed, 1),
        **counts,
        "other_4xx": other,
        "ok_per_s": round(counts["ok"] / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path) -> Path:
    config = folder / "config.yaml"
    config.write_text(
        f"knowledge:\n  index_dir: {folder / 'index'}\n"
        f"embedder:\n  cache_dir: {ROOT / '.shopbot' / 'models'}\n"
        f"bot:\n  sessions:\n    path: {folder / 'sessions.db'}\n"
        "server:\n  trust_proxy: true\n  preload_generator: false\n",
        encoding="utf-8",
    )
    return config


def start_server(config: Path, port: int) -> subprocess.Popen:
    import httpx

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


def format_section(result: dict[str, Any]) -> str:
    """The result as the lines the benchmark prints."""
    other = ", ".join(f"{k}: {v}" for k, v in sorted(result["other_4xx"].items())) or "none"
    return "\n".join(
        [
            f"load: {result['customers']} customers for {result['seconds']:g} s against "
            f"shopbot serve on 127.0.0.1 ({result['cores']} cores, shared with the load)",
            f"  requests {result['requests']}, answered {result['ok']} "
            f"({result['ok_per_s']:g}/s), rate-limited (429) {result['limited']}, "
            f"other 4xx {other}",
            f"  errors: 5xx {result['server_errors']}, connection {result['connection_errors']}",
            f"  latency of answered requests: p50 {result['p50_ms']:g} ms, "
            f"p99 {result['p99_ms']:g} ms",
        ]
    )


def load_section(*, customers: int = 64, seconds: float = 60.0) -> dict[str, Any]:
    """Index the demo store, start ``shopbot serve``, run the customers, stop the server;
    print the section and return its figures."""
    asked = questions()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        subprocess.run(
            [sys.executable, "-m", "connectors.cli", "index", "--config", str(config)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        server = start_server(config, port)
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(run_customers(url, asked, 4, 2.0, first=10_000))  # warm up
            result = asyncio.run(run_customers(url, asked, customers, seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["cores"] = os.cpu_count()
    print(format_section(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = load_section(customers=args.customers, seconds=args.seconds)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

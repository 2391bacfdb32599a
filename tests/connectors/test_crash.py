"""A server killed while answering: the customer's message survives, marked interrupted, and
the retry with the same message_id completes the answer once. A real process, really killed
(SIGKILL: no handler runs), then started again on the same data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.connectors.conftest import free_port
from tests.connectors.crash_server import QUESTION

#: what the grounding check keeps of the slow generator's answer on the tiny store
KEPT = "We ship with UPS in the United States [1]."

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def server_process(folder: Path, delay: float) -> Iterator[tuple[subprocess.Popen, str]]:
    """``crash_server`` in a process of its own; yields it and its URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.connectors.crash_server", str(folder), str(port), str(delay)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server died: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 60 s")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stderr.close()


def test_a_server_killed_mid_answer_loses_no_turn(tmp_path):
    body = {"text": QUESTION, "message_id": "m-crash-1"}
    with (
        server_process(tmp_path, delay=0.3) as (process, url),
        httpx.Client(base_url=url) as client,
    ):
        token = client.post("/api/sessions").json()["session_id"]
        body["session_id"] = token
        with client.stream("POST", "/api/chat/stream", json=body, timeout=30) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("event: delta"):
                    break  # the first checked sentence is out: the answer is half written
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL

    with server_process(tmp_path, delay=0) as (_, url), httpx.Client(base_url=url) as client:
        (message,) = client.get(f"/api/sessions/{token}").json()["messages"]
        assert message["role"] == "user" and message["text"] == QUESTION
        assert message["interrupted"] is True and message["pending"] is False

        completed = client.post("/api/chat", json=body, timeout=30)
        assert completed.status_code == 200, completed.text
        reply = completed.json()["reply"]
        assert reply["action"] == "generate" and reply["text"] == KEPT

        again = client.post("/api/chat", json=body, timeout=30).json()["reply"]
        assert again["text"] == KEPT
        messages = client.get(f"/api/sessions/{token}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]  # answered once
    assert messages[0]["interrupted"] is False and messages[1]["text"] == KEPT

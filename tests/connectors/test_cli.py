import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from connectors.cli import app
from tests.connectors.conftest import free_port

runner = CliRunner()


@pytest.fixture
def config_file(store_dir: Path) -> Path:
    path = store_dir / "config.yaml"
    path.write_text(
        "knowledge:\n"
        "  sources:\n"
        "    - {type: faq, path: faq.csv}\n"
        "    - {type: catalog, path: catalog.csv}\n"
        "    - {type: pages, path: policies, kind: policy}\n"
        "  index_dir: index\n"
        "embedder: {backend: fake}\n",
        encoding="utf-8",
    )
    return path


def flat(text: str) -> str:
    """Output with the terminal's line wrapping undone."""
    return " ".join(text.split())


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_index_then_search(config_file):
    first = run("index", "--config", str(config_file))
    assert first.exit_code == 0, first.output
    assert "added 10, updated 0, removed 0, unchanged 0" in first.output
    second = run("index", "--config", str(config_file))
    assert "up to date" in second.output and "unchanged 10" in second.output

    result = run("search", "How long does delivery take?", "--config", str(config_file), "--json")
    hits = json.loads(result.output)
    assert hits[0]["doc_id"] == "faq:ship-time"
    assert {"score", "dense_score", "lexical_score"} <= set(hits[0])

    table = run("search", "jacket", "--config", str(config_file), "--kind", "product", "--in-stock")
    assert "KR-JKT-001" in table.output and "KR-JKT-002" not in table.output


def test_search_builds_a_missing_index(config_file):
    result = run("search", "可以退货吗", "--config", str(config_file), "--json", "-k", "1")
    assert json.loads(result.output)[0]["doc_id"] == "faq:zh-return"


def test_malformed_file_fails_clearly_and_keeps_the_index(config_file, store_dir):
    assert run("index", "--config", str(config_file)).exit_code == 0
    faq = store_dir / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8") + "broken,Q?,Other answer,\nbroken,Q2?,Else,\n")
    result = run("index", "--config", str(config_file))
    assert result.exit_code == 1
    assert "faq.csv, line 18" in result.output and "different answer" in result.output
    assert "Traceback" not in result.output
    # the previous index still answers
    ok = run("search", "PayPal", "--config", str(config_file), "--json", "-k", "1")
    assert json.loads(ok.output)[0]["doc_id"] == "faq:pay"


def test_bad_config_exits_non_zero_with_the_fix(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("embedder:\n  backend: onxx\n", encoding="utf-8")
    result = run("index", "--config", str(bad))
    assert result.exit_code == 1
    assert "line 2: embedder.backend" in result.output
    assert "Traceback" not in result.output


def test_unknown_mode_is_rejected(config_file):
    result = run("search", "x", "--config", str(config_file), "--mode", "magic")
    assert result.exit_code == 1 and "--mode must be" in result.output


def test_help_explains_the_commands():
    result = run("--help")
    assert "index" in result.output and "search" in result.output


@pytest.mark.slow
def test_fresh_checkout_flow_with_the_real_default_model(tmp_path):
    """As a new user: no config file, the bundled demo store, the default (ONNX int8) model."""
    root = Path(__file__).resolve().parents[2]

    def shopbot(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        """The command line in a new process, as a user would run it in tmp_path."""
        return subprocess.run(
            [sys.executable, "-m", "connectors.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        )

    index = shopbot("index", timeout=600)
    assert index.returncode == 0, index.stderr
    assert "index rebuilt" in index.stdout
    for query, expected in (
        ("how long does delivery take", "faq:delivery-times"),
        ("可以退货吗", "faq:zh-return-window"),
    ):
        found = shopbot("search", query, "--json", "-k", "3")
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["doc_id"] == expected
    answered = shopbot("ask", "How long does delivery take?", "--json", "--session", "e2e")
    assert answered.returncode == 0, answered.stderr
    reply = json.loads(answered.stdout)
    assert reply["action"] == "answer_faq"
    assert reply["citations"][0]["doc_id"] == "faq:delivery-times"
    assert (tmp_path / ".shopbot" / "sessions.db").is_file()  # the conversation was kept

    # the replay of real support conversations, and its report in a real browser
    source = root / ".." / "shared" / "data" / "twitter_customer_care" / "dev.json"
    if source.exists():
        out = tmp_path / "replay"
        replayed = shopbot("replay", str(source), "--out", str(out), "--no-generate")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 525 conversations (625 customer turns" in flat(replayed.stdout)
        summary = json.loads((out / "summary.json").read_text())
        assert (summary["conversations"], summary["turns"]) == (525, 625)
        assert summary["groups"]["key"] == "company" and summary["gaps"]["clusters"] > 0
        again = shopbot("replay", str(source), "--out", str(out), "--no-generate")
        assert "skipped 525 already done" in flat(again.stdout), again.stdout

        from tests.connectors.browser import artifact, chromium_page

        with chromium_page() as (page, errors):
            page.goto((out / "report.html").as_uri())
            assert page.locator("svg").count() >= 4
            assert "knowledge gaps" in page.content().lower()
            page.screenshot(path=str(artifact("replay-report.png")), full_page=True)
        assert errors == []

    # shopbot serve on the same fresh folder serves the demo page and the API
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "connectors.cli", "serve", "--port", str(port), "--no-index"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.5)
        page = httpx.get(url)
        assert page.status_code == 200 and 'src="/widget.js"' in page.text
        chat = httpx.post(f"{url}/api/chat", json={"text": "How long does delivery take?"})
        assert chat.json()["reply"]["citations"][0]["doc_id"] == "faq:delivery-times"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_says_when_the_port_is_taken(config_file):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--config", str(config_file), "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in flat(result.output)
    assert "--port" in result.output


# ---------------------------------------------------------------- errors before any model loads
ROOT = Path(__file__).resolve().parents[2]
#: the issue's target is 3 s; the bound is loose for a loaded 2-core CI machine (each of these
#: took 12-25 s before, when the embedding model was loaded first, and take about 0.7 s now)
FAST = 5.0


def shopbot_process(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The command line in a new process with the default (real) embedder, and its wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "connectors.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    return done, time.perf_counter() - started


def real_model_config(tmp_path: Path, faq: str) -> Path:
    """A config with the default embedder and a fresh model cache: loading it would be slow."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"knowledge:\n  sources:\n    - {{type: faq, path: {faq}}}\n  index_dir: data/index\n",
        encoding="utf-8",
    )
    return path


def test_missing_faq_source_is_reported_at_once(tmp_path):
    real_model_config(tmp_path, "faq.csv")
    done, seconds = shopbot_process(tmp_path, "index")
    assert done.returncode == 1, done.stdout
    assert f"{tmp_path / 'faq.csv'}: does not exist: check the path in knowledge.sources" in flat(
        done.stderr
    )
    assert seconds < FAST, f"{seconds:.1f}s"
    assert not (tmp_path / "data" / "models").exists()  # no model was exported or loaded


def test_faq_with_a_wrong_header_is_reported_at_once(tmp_path):
    real_model_config(tmp_path, "faq.csv")
    (tmp_path / "faq.csv").write_text("id,q,answer\nship,How long?,3-5 days.\n", encoding="utf-8")
    done, seconds = shopbot_process(tmp_path, "index")
    assert done.returncode == 1
    message = flat(done.stderr)
    assert (
        "faq.csv, line 1: missing column(s) question" in message and "id,question,answer" in message
    )
    assert seconds < FAST, f"{seconds:.1f}s"


def test_replay_of_a_missing_file_is_reported_at_once(tmp_path):
    done, seconds = shopbot_process(tmp_path, "replay", "missing.jsonl", "--out", "replay")
    assert done.returncode == 1
    assert "missing.jsonl: no such file; check the path" in flat(done.stderr)
    assert seconds < FAST, f"{seconds:.1f}s"
    assert not (tmp_path / ".shopbot").exists()


def test_eval_with_a_missing_queries_file_names_the_argument(tmp_path):
    faq = ROOT / "knowledge" / "demo_store" / "faq.csv"
    done, seconds = shopbot_process(tmp_path, "eval", "--faq", str(faq), "--queries", "queries.csv")
    assert done.returncode == 1
    message = flat(done.stderr)
    assert "queries.csv: file not found: check the path given to --queries" in message
    assert "knowledge.sources" not in message
    assert seconds < FAST, f"{seconds:.1f}s"


def test_search_rejects_an_unknown_kind_with_a_suggestion(config_file):
    result = run("search", "jacket", "--config", str(config_file), "--kind", "produce")
    assert result.exit_code == 1
    message = flat(result.output)
    assert "unknown --kind 'produce' (did you mean product?)" in message
    assert "faq, product, policy, page" in message


# ---------------------------------------------------------------- ask and chat conversations
@pytest.fixture
def quote_config(config_file: Path) -> Path:
    """The tiny store, answers quoted (no generative model), conversations in SQLite, and
    agents behind the agent API (so a handoff silences the bot)."""
    config_file.write_text(
        config_file.read_text(encoding="utf-8")
        + "bot: {generation: false}\nserver: {admin_token: test-token}\n",
        encoding="utf-8",
    )
    return config_file


def test_ask_without_session_is_one_shot(quote_config, store_dir):
    handed = run("ask", "转人工", "--config", str(quote_config), "--json")
    assert json.loads(handed.output)["action"] == "handoff"
    # a second ask is a new conversation: not silent because of the first one's handoff
    second = json.loads(
        run("ask", "How long does delivery take?", "--config", str(quote_config), "--json").output
    )
    assert second["silent"] is False and second["text"]
    assert second["session_id"] != json.loads(handed.output)["session_id"]
    assert not (store_dir / ".shopbot" / "sessions.db").exists()  # nothing piled up

    # with --session the conversation is kept and continued
    run("ask", "转人工", "--config", str(quote_config), "--session", "s1")
    kept = run("ask", "hello?", "--config", str(quote_config), "--session", "s1", "--json")
    assert json.loads(kept.output)["silent"] is True
    assert (store_dir / ".shopbot" / "sessions.db").is_file()


def test_chat_prints_no_empty_bot_line_on_a_silent_turn(quote_config):
    result = runner.invoke(app, ["chat", "--config", str(quote_config)], input="转人工\nhello?\n\n")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "(with a person now; the bot stays silent)" in result.output
    assert not [line for line in lines if line.endswith("bot>")]
    assert sum("bot>" in line for line in lines) == 1  # the handoff message only


def test_index_waits_for_another_indexing_run_with_a_message(config_file, store_dir):
    from tests.knowledge.test_index import lock_held_by_another_process

    with lock_held_by_another_process(store_dir / "index", seconds=1.5):
        result = run("index", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    message = flat(result.output)
    assert "is writing the index in" in message and "waiting for it to finish" in message
    assert "index rebuilt" in message


def test_index_lists_the_catalogue_rows_it_skipped(config_file, store_dir):
    shopify = Path(__file__).parents[1] / "knowledge" / "data" / "shopify_products.csv"
    (store_dir / "products_export.csv").write_bytes(shopify.read_bytes())
    text = config_file.read_text(encoding="utf-8").replace(
        "    - {type: catalog, path: catalog.csv}\n",
        "    - {type: catalog, path: catalog.csv}\n"
        "    - {type: catalog, path: products_export.csv}\n",
    )
    config_file.write_text(
        text.replace("  index_dir: index\n", "  index_dir: index\n  catalogue: {currency: USD}\n"),
        encoding="utf-8",
    )
    result = run("index", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    message = flat(result.output)
    assert "added 14" in message  # 10 from the tiny store, 4 Shopify products
    assert "2 row(s) skipped, the rest loaded:" in message
    assert "products_export.csv, line 11: variant 'KR-MCT-EM-M'" in message
    assert "Inventory Qty must be a whole number, got 'lots'" in message
    assert "products_export.csv, line 21: handle 'merino-crew-tee' is already" in message
    assert "4 note(s):" in message and "'summit-beanie' is a draft (Status): left out" in message

"""The ``shopbot`` command line: the outermost face, wiring knowledge, bot and channels."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.config import ShopbotConfig, load_config
from knowledge.errors import ShopbotError

if TYPE_CHECKING:  # the bot's modules load only when a command needs them
    from bot.engine import Bot
    from bot.sessions import SessionStore

app = typer.Typer(
    name="shopbot",
    help="Retrieval-augmented customer-service bot for online stores, fully offline.\n\n"
    "Reads config.yaml in the current folder (or --config / $SHOPBOT_CONFIG); with none, "
    "serves the bundled demo store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
#: what the terminal shows for a silent turn (a person has the conversation)
SILENT_NOTE = "[dim](with a person now; the bot stays silent)[/]"

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: ./config.yaml or $SHOPBOT_CONFIG)"),
]


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _progress_bar() -> Progress:
    """A transient bar: description, bar, done/total, elapsed."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _knowledge(config: ShopbotConfig):
    from connectors.app import build_knowledge

    return build_knowledge(config)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from bot.privacy import redact_logs

    redact_logs()  # a record that quotes a customer's message is logged redacted
    if not verbose:  # model loaders draw their own progress bars; ours say what matters
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _say_waiting(directory: Path) -> None:
    err_console.print(
        f"another process (a `shopbot index` or `serve`) is writing the index in {directory}; "
        "waiting for it to finish…",
        highlight=False,
    )


def _check_kinds(kinds: list[str]) -> None:
    """Reject a kind that no document has, naming the valid ones (and the likely one)."""
    import difflib

    from knowledge.documents import KINDS

    for kind in kinds:
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _fail(ValueError(f"unknown --kind {kind!r}{hint}: use one of {', '.join(KINDS)}"))


def _check_input(path: Path, option: str, *, folder_ok: bool = False) -> None:
    """A file named on the command line must exist before any model loads."""
    if not path.exists():
        raise _fail(ValueError(f"{path}: file not found: check the path given to {option}"))
    if not folder_ok and not path.is_file():
        raise _fail(ValueError(f"{path}: is a folder: pass a file to {option}"))


def _check_output(path: Path, option: str, *, folder: bool) -> None:
    """An output named on the command line must be writable before the work starts: its
    nearest existing folder must be a folder (an output folder is created as needed)."""
    if folder and path.exists() and not path.is_dir():
        raise _fail(ValueError(f"cannot write to {path}: it is a file; choose another {option}"))
    parent = path if folder else path.parent
    while not parent.exists():
        if not folder:
            raise _fail(
                ValueError(f"cannot write {path}: the folder {parent} does not exist ({option})")
            )
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise _fail(
            ValueError(f"cannot write {path}: {parent} is not a writable folder ({option})")
        )


@app.command()
def index(
    config: ConfigOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="re-embed everything (after changing the model)")
    ] = False,
) -> None:
    """Build or update the knowledge index from the configured sources.

    Only documents that are new or changed are embedded again; the summary says how many
    were added, updated, removed and unchanged. Writes are atomic.
    """
    try:
        cfg = load_config(config)
        kb = _knowledge(cfg)
        kb.load_documents()  # a missing or malformed file fails now, before any model loads
        with kb.writing(on_wait=_say_waiting):  # a second `shopbot index` waits here
            with console.status("loading the embedding model…"):
                kb.embedder  # noqa: B018 - load before the progress bar starts
            with _progress_bar() as progress:
                task = progress.add_task("embedding", total=None)

                def update(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                report = kb.update(rebuild=rebuild, progress=update)
            with console.status("calibrating the answer policy on the store's own knowledge…"):
                from bot.confidence import load_or_calibrate

                load_or_calibrate(kb)  # now, not on the first customer's question
    except ShopbotError as exc:
        raise _fail(exc) from None
    verb = "rebuilt" if report.rebuilt else ("updated" if report.changed else "up to date")
    console.print(
        f"index {verb} in {kb.index_dir}: {report.documents} documents "
        f"({report.chunks} chunks, {report.keys} keys, FAISS {report.index_type})\n"
        f"  added {report.added}, updated {report.updated}, removed {report.removed}, "
        f"unchanged {report.unchanged}; embedded {report.embedded_keys} texts "
        f"in {report.seconds:.1f}s",
        highlight=False,
    )
    extras = kb.index.manifest.get("extras", {})
    fusion = extras.get("fusion", {})
    confidence = extras.get("confidence", {}).get("model", {})
    if fusion and confidence:
        console.print(
            f"  calibrated on the store's own FAQ ({confidence.get('method')}): BM25 weight "
            f"{fusion.get('lexical_weight')}, centroid share {fusion.get('centroid_weight', 0)}, "
            f"answer threshold {confidence.get('threshold'):.3f}"
            f" from {confidence.get('stats', {}).get('samples', 0)} questions",
            highlight=False,
        )
    from knowledge.embedders import describe_embedder

    console.print(f"  embedder: {describe_embedder(kb.embedder)}", highlight=False)
    _print_load_issues(kb.load_issues)
    _print_screening(report.screening, cfg.base_dir)


#: rows listed of each kind in `shopbot index`'s summary of what it left out
ISSUES_SHOWN = 10


def _print_load_issues(issues) -> None:
    """Rows the loaders left out (with file, line and fix) and their notes, after the index
    summary: the rest of the file is indexed, these are what to fix in it."""
    from rich.markup import escape

    for items, label, style in (
        (issues.skipped, "row(s) skipped, the rest loaded", "yellow"),
        (issues.notes, "note(s)", "dim"),
    ):
        if not items:
            continue
        console.print(f"  [{style}]{len(items)} {label}:[/]", highlight=False)
        for item in items[:ISSUES_SHOWN]:
            console.print(f"    {escape(str(item))}", highlight=False, soft_wrap=True)
        if len(items) > ISSUES_SHOWN:
            console.print(f"    … and {len(items) - ISSUES_SHOWN} more", highlight=False)


#: findings listed by `shopbot index` (all are in the index's extra-screening.json)
SHOWN_FINDINGS = 50


def _print_screening(screening: dict, base: Path) -> None:
    """Text addressed to the assistant found in the sources, with file and line."""
    findings = [f for f in screening.get("findings", []) if f["severity"] != "notice"]
    cleaned = len(screening.get("findings", [])) - len(findings)
    if cleaned:
        console.print(f"  invisible characters removed from {cleaned} sentences", highlight=False)
    if not findings:
        return
    withheld = sum(f["action"] in ("withheld", "removed") for f in findings)
    how = (
        f"{withheld} withheld from answers and prompts"
        if screening.get("mode") == "withhold"
        else "kept as written (knowledge.instructions: keep)"
    )
    console.print(
        f"[bold yellow]  text addressed to the assistant in the knowledge: {len(findings)} "
        f"({how}); check these sources:[/]",
        highlight=False,
    )
    for f in findings[:SHOWN_FINDINGS]:
        where = _relative(f["source"], base) if f["source"] else f["doc_id"]
        where += f":{f['line']}" if f["source"] and f["line"] else ""
        field = "" if f["field"] == "text" else f" ({f['field']})"
        detail = f", {f['detail']}" if f["detail"] else ""
        console.print(
            f"    {where}  {f['doc_id']}{field}  {f['rule']}{detail}  [{f['action']}]  "
            f"“{f['text']}”",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if len(findings) > SHOWN_FINDINGS:
        console.print(f"    … and {len(findings) - SHOWN_FINDINGS} more", highlight=False)
    for doc_id in screening.get("left_out", []):
        console.print(f"    {doc_id}: nothing left after screening, not indexed", highlight=False)


def _relative(source: str, base: Path) -> str:
    path = Path(source)
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what a customer might ask")],
    config: ConfigOption = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="number of hits")] = 5,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="only faq, product, policy or page")
    ] = None,
    category: Annotated[str | None, typer.Option(help="only this category")] = None,
    in_stock: Annotated[
        bool | None, typer.Option("--in-stock/--any-stock", help="products in stock only")
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or lexical")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Search the knowledge base and print ranked hits with their scores."""
    filters: dict[str, object] = {}
    if kind:
        _check_kinds(list(kind))
        filters["kind"] = list(kind)
    if category:
        filters["category"] = category
    if in_stock is not None:
        filters["in_stock"] = in_stock
    if mode not in ("hybrid", "dense", "lexical"):
        raise _fail(ValueError(f"--mode must be hybrid, dense or lexical, got {mode!r}"))
    try:
        kb = _knowledge(load_config(config))
        hits = kb.retriever(mode=mode).retrieve(query, k=k, filters=filters)  # type: ignore[arg-type]
    except ShopbotError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
        return
    if not hits:
        console.print("no hits")
        return
    table = Table(show_lines=True)
    for column in ("#", "document", "fused", "dense", "bm25", "text"):
        table.add_column(column, overflow="fold")
    for n, hit in enumerate(hits, 1):
        snippet = hit.text if len(hit.text) < 240 else hit.text[:237] + "…"
        table.add_row(
            str(n),
            f"{hit.doc_id}\n[dim]{hit.title}[/]",
            f"{hit.score:.4f}",
            f"{hit.dense_score:.3f}",
            f"{hit.lexical_score:.2f}",
            snippet,
        )
    console.print(table)


def _bot(config: Path | None, *, sessions: SessionStore | None = None) -> Bot:
    from connectors.app import build_bot

    return build_bot(load_config(config), sessions=sessions)


def _reply_json(reply) -> str:
    return json.dumps(reply.to_json(), ensure_ascii=False, indent=2)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the customer's message")],
    config: ConfigOption = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            "-s",
            help="continue this stored conversation (follow-ups share one); without it each "
            "question is a fresh conversation, not kept",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the reply as JSON")] = False,
) -> None:
    """Answer one message: the reply, its action, confidence and sources."""
    import uuid

    from bot.sessions import MemorySessionStore
    from bot.types import IncomingMessage

    try:
        if session is None:  # one-shot: no history carried in or kept
            bot = _bot(config, sessions=MemorySessionStore())
            session = f"cli-{uuid.uuid4().hex[:12]}"
        else:
            bot = _bot(config)
        try:
            reply = bot.reply(IncomingMessage(question, session_id=session, channel="cli"))
        finally:
            bot.sessions.close()
    except (ShopbotError, ValueError) as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(_reply_json(reply) + "\n")
        return
    console.print(reply.text or SILENT_NOTE, highlight=False)
    console.print(
        f"[dim]action {reply.action} · confidence {reply.confidence:.2f} · "
        f"{reply.meta.get('latency_ms', 0):.0f} ms[/]",
        highlight=False,
    )
    for c in reply.citations:
        where = f" › {c.section}" if c.section else ""
        console.print(f"[dim][{c.n}] {c.title}{where} ({c.doc_id}) {c.url or ''}[/]")


HISTORY_KEYS = ("bought", "viewed", "mentioned")
HISTORY_FORM = '{"bought": ["SKU", ...], "viewed": [...], "mentioned": [...]}'


def _read_history(path: Path) -> dict[str, list[str]]:
    """A shopper's history file (JSON, as a channel's ``meta.profile``), checked before any
    model loads; errors name the file, the place and the form expected."""
    _check_input(path, "--history")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise _fail(ValueError(f"{path}: not UTF-8 text: --history takes a JSON file")) from None
    except json.JSONDecodeError as exc:
        raise _fail(
            ValueError(
                f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
                f"--history takes {HISTORY_FORM}"
            )
        ) from None
    if not isinstance(data, dict):
        raise _fail(ValueError(f"{path}: expected a JSON object {HISTORY_FORM}"))
    unknown = sorted(set(data) - set(HISTORY_KEYS))
    if unknown:
        raise _fail(
            ValueError(
                f"{path}: unknown key(s) {', '.join(map(repr, unknown))}: the history takes "
                f"{', '.join(HISTORY_KEYS)}"
            )
        )
    for key, values in data.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _fail(
                ValueError(f"{path}: {key!r} must be a list of SKUs (strings), as {HISTORY_FORM}")
            )
    return data


@app.command()
def recommend(
    request: Annotated[str, typer.Argument(help="what the shopper asks for")],
    config: ConfigOption = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help='the shopper\'s products, a JSON file {"bought": [SKU, ...], "viewed": [...], '
            '"mentioned": [...]} (what a channel sends as meta.profile)',
        ),
    ] = None,
    picks: Annotated[int, typer.Option("--picks", "-n", min=1, max=20, help="at most")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print the picks as JSON")] = False,
) -> None:
    """Recommend products for a request, as the chat does, outside a conversation.

    The request's price range, who it is for, attributes (waterproof, colour, size...) and
    comparisons ("lighter than the boots I bought") are filters; the rest is matched by
    similarity, with the history weighted in.
    """
    import difflib

    from bot.commerce.history import History
    from bot.commerce.reasons import reply_text
    from bot.commerce.recommend import Recommender
    from bot.commerce.shopping import cards
    from knowledge.text import detect_language

    profile = _read_history(history) if history is not None else {}
    try:
        kb = _knowledge(load_config(config))
        recommender = Recommender(kb.retriever(), max_picks=picks)
        catalogue = recommender.catalogue
        if not len(catalogue):
            raise _fail(ValueError("the configured store has no products to recommend"))
        shopper, missing = History.from_profile(profile, catalogue)
        if missing:
            known = [i.sku for i in catalogue.items]
            close = difflib.get_close_matches(missing[0], known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _fail(
                ValueError(
                    f"{history}: {missing[0]!r} is not a product of the catalogue{hint}: "
                    "the history lists SKUs as the catalogue writes them"
                )
            )
        language = detect_language(request)
        result = recommender.recommend(request, history=shopper, language=language)
    except ShopbotError as exc:
        raise _fail(exc) from None
    if as_json:
        from dataclasses import asdict

        payload = {
            "request": request,
            "language": language,
            "constraints": result.constraints.to_json(),
            "products": [asdict(card) for card in cards(result)],
            "text": reply_text(result, language),
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(reply_text(result, language), highlight=False, markup=False)
    console.print(
        f"[dim]{len(result.picks)} product(s) · match {result.confidence:.2f}[/]", highlight=False
    )


@app.command()
def chat(
    config: ConfigOption = None,
    session: Annotated[str | None, typer.Option("--session", "-s")] = None,
) -> None:
    """Talk to the bot in the terminal; answers stream as they are written."""
    import uuid

    from bot.types import IncomingMessage, Reply

    try:
        bot = _bot(config)
    except ShopbotError as exc:
        raise _fail(exc) from None
    session_id = session or f"cli-{uuid.uuid4().hex[:8]}"
    console.print(f"session {session_id}; empty line or Ctrl-D to quit.", highlight=False)
    while True:
        try:
            text = console.input("[bold]you> [/]").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not text:
            break
        try:
            spoke = False  # "bot> " goes out with the first words: a silent turn prints none
            for event in bot.stream(IncomingMessage(text, session_id=session_id, channel="cli")):
                if isinstance(event, Reply) and event.silent:
                    console.print(SILENT_NOTE, highlight=False)
                elif isinstance(event, Reply):
                    if not spoke and event.text:
                        console.print("[bold]bot> [/]", end="")
                        console.print(event.text, end="", highlight=False, markup=False)
                    console.print()
                    for n, option in enumerate(event.options, 1):  # type its number to pick it
                        console.print(f"  {n}) {option}", highlight=False, markup=False)
                    sources = ", ".join(f"[{c.n}] {c.title}" for c in event.citations)
                    console.print(
                        f"[dim]{event.action} · {event.confidence:.2f}"
                        + (f" · {sources}" if sources else "")
                        + "[/]",
                        highlight=False,
                    )
                elif event:
                    if not spoke:
                        console.print("[bold]bot> [/]", end="")
                        spoke = True
                    console.print(event, end="", highlight=False, markup=False)
        except (ShopbotError, ValueError) as exc:
            err_console.print(f"[red]error:[/] {exc}")


@app.command("eval")
def evaluate_cmd(
    faq: Annotated[Path, typer.Option("--faq", help="FAQ CSV: id,question,answer")],
    queries: Annotated[Path, typer.Option("--queries", help="CSV: query,expected_id")],
    config: ConfigOption = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the metrics here")] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="folder for report.html and summary.json: confusions between entries, "
            "out-of-scope errors, the threshold curve",
        ),
    ] = None,
) -> None:
    """Build a bot from an FAQ file and score it on labelled queries.

    A query is correct when the reply answers with the expected entry, or declines
    (don't know / clarify / handoff) when expected_id is empty.
    """
    from connectors.evaluate import build_eval_bot, evaluate, load_queries
    from knowledge.loaders import load_faq

    _check_input(faq, "--faq", folder_ok=True)  # a folder of FAQ files loads as one
    _check_input(queries, "--queries")
    if json_out:
        _check_output(json_out, "--json", folder=False)
    if report:
        _check_output(report, "--report", folder=True)
    try:
        cfg = load_config(config)
        labelled = load_queries(queries)
        load_faq(faq)  # a malformed FAQ fails now, before the model loads
        with console.status("indexing the FAQ and calibrating…"):
            bot = build_eval_bot(cfg, faq)
        with _progress_bar() as progress:
            task = progress.add_task("answering", total=len(labelled))
            results: list[dict] = []
            result = evaluate(
                bot, labelled, progress=lambda n: progress.advance(task, n), results=results
            )
        if report:
            from connectors.report import summarize_eval, write_eval_report

            summary = summarize_eval(results, threshold=bot.confidence.threshold)
            _, report_path = write_eval_report(
                report, summary, title=f"Evaluation of {faq.name} on {queries.name}"
            )
    except ShopbotError as exc:
        raise _fail(exc) from None
    except OSError as exc:  # the report folder cannot be written
        raise _fail(ValueError(f"cannot write the report to {report}: {exc.strerror}")) from None
    table = Table(title=f"{len(labelled)} queries")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key not in ("actions", "per_action"):
            table.add_row(
                key,
                "n/a"
                if value is None
                else f"{value:.4f}"
                if isinstance(value, float)
                else str(value),
            )
    console.print(table)
    console.print(f"actions: {result['actions']}", highlight=False)
    if json_out:
        try:
            json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        except OSError as exc:
            raise _fail(ValueError(f"cannot write {json_out}: {exc.strerror}")) from None
    if report:
        console.print(f"report: {report_path}", highlight=False)


def _check_port(host: str, port: int) -> None:
    """OSError if ``host:port`` cannot be listened on (in use, not an address of this host)."""
    import socket

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="address to listen on (server.host)")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="port (server.port; 0 = any free)")
    ] = None,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="serve the index as it is; don't update it first")
    ] = False,
) -> None:
    """Serve the chat API, the embeddable widget (/widget.js) and a demo store page (/).

    Brings the index up to date first (only changed documents are embedded), then listens;
    Ctrl-C stops. API documentation is at /docs.
    """
    import uvicorn

    from connectors.app import build_bot
    from connectors.server import create_app

    try:
        cfg = load_config(config)
        if host is not None:
            cfg.server.host = host
        if port is not None:
            cfg.server.port = port
        from connectors.registry import build_connectors

        build_connectors(cfg.channels)  # a wrong channel fails now, not after the models load
        if not no_index:
            index(config=config, rebuild=False)
        with console.status("loading the knowledge base and the embedding model…"):
            bot = build_bot(cfg)
            bot.warm_up()
        application = create_app(cfg, bot=bot)
    except ShopbotError as exc:
        raise _fail(exc) from None
    try:
        _check_port(cfg.server.host, cfg.server.port)
    except OSError as exc:
        bot.sessions.close()
        raise _fail(
            ValueError(
                f"cannot listen on {cfg.server.host}:{cfg.server.port} ({exc.strerror}): stop "
                "the program using that port, or choose another with --port or server.port"
            )
        ) from None
    shown = "127.0.0.1" if cfg.server.host in ("0.0.0.0", "::") else cfg.server.host
    console.print(
        f"shopbot serving {cfg.store.name} on http://{shown}:{cfg.server.port}/ "
        "(widget: /widget.js, API docs: /docs); Ctrl-C stops",
        highlight=False,
    )
    if cfg.server.preload_generator and cfg.bot.generation:
        import threading

        threading.Thread(target=bot.preload, name="preload-generator", daemon=True).start()
    try:
        uvicorn.run(application, host=cfg.server.host, port=cfg.server.port, log_level="warning")
    finally:
        bot.sessions.close()


@app.command()
def replay(
    transcripts: Annotated[
        Path, typer.Argument(help="transcript file (JSONL, CSV, Twitter, ABCD)")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (resumable)")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="jsonl, csv, twitter or abcd (default: detected)"),
    ] = None,
    config: ConfigOption = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="replay at most this many conversations")
    ] = None,
    generate: Annotated[
        bool,
        typer.Option(
            "--generate/--no-generate",
            help="write answers with the generative model as live (default), or quote the "
            "best passage instead (much faster)",
        ),
    ] = True,
    title: Annotated[str | None, typer.Option(help="report title")] = None,
) -> None:
    """Replay past support conversations through the bot and report how it would have done.

    Customer turns go to the bot in order, one session per conversation; each reply is
    recorded beside what the human agent said. Writes replies.jsonl, malformed.jsonl,
    summary.json and report.html to --out. Re-running with the same --out resumes.
    """
    from bot.sessions import MemorySessionStore
    from connectors.app import build_bot
    from connectors.replay import replay as run_replay
    from connectors.replay import write_replay_report
    from connectors.transcripts import FORMATS, read_transcripts

    if fmt is not None and fmt not in FORMATS:
        raise _fail(ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}"))
    _check_output(out, "--out", folder=True)
    try:
        read_transcripts(transcripts, fmt)  # the file, its format and header: before models
        cfg = load_config(config)
        cfg.bot.generation = generate and cfg.bot.generation
        with console.status("loading the knowledge base…"):
            bot = build_bot(cfg, sessions=MemorySessionStore())
        with _progress_bar() as progress:
            task = progress.add_task("replaying conversations", total=limit)

            def advance(conversations: int, turns: int) -> None:
                progress.update(
                    task, completed=conversations, description=f"replaying ({turns} turns)"
                )

            stats = run_replay(
                bot,
                transcripts,
                out,
                fmt=fmt,
                limit=limit,
                options={"generate": cfg.bot.generation},
                progress=advance,
            )
        with console.status("clustering knowledge gaps and writing the report…"):
            summary_path, report_path = write_replay_report(
                bot, out, title=title or f"Replay of {transcripts.name} — {cfg.store.name}"
            )
    except ShopbotError as exc:
        raise _fail(exc) from None
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    handled = summary.get("handled", {}).get("share") or 0.0
    console.print(
        f"replayed {stats.conversations} conversations ({stats.turns} customer turns, "
        f"{stats.turns_per_s:.1f} turns/s); skipped {stats.skipped} already done, "
        f"{stats.malformed} malformed (see {out / 'malformed.jsonl'})\n"
        f"  in all: {summary.get('conversations')} conversations, {summary.get('turns')} turns, "
        f"handled by the bot {handled:.1%}\n  report: {report_path}",
        highlight=False,
    )


# ---------------------------------------------------------------- shopbot write: product copy
COPY_TASKS = ("description", "ad", "social", "review-summary")


@app.command()
def write(
    task: Annotated[str, typer.Argument(help="description, ad, social or review-summary")],
    catalogue: Annotated[
        Path, typer.Argument(help="a catalogue file or folder (any format shopbot index reads)")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="output .csv, .json or .jsonl (default: CATALOGUE.TASK.csv in this folder); "
            "the journal OUT.jsonl beside it lets a rerun resume",
        ),
    ] = None,
    tone: Annotated[
        str | None, typer.Option(help="e.g. friendly, expert, playful (default per task)")
    ] = None,
    length: Annotated[str, typer.Option(help="short, medium, long or a number of words")] = (
        "medium"
    ),
    language: Annotated[str, typer.Option(help="language code: en, zh, de, fr, es...")] = "en",
    reviews: Annotated[
        Path | None,
        typer.Option(help="review-summary: CSV or JSON of product id and review text"),
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, max=10, help="rewrites of copy that fails the check")
    ] = 2,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N products")] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="discard the journal of an earlier run of OUT")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write product copy from a catalogue with the configured chat model, every claim
    checked against the product's own facts (or its reviews).

    Copy that states something the product's facts do not is written again (up to
    --retries times); then its checked sentences are kept, or the copy is built from the
    product's own description and attributes. Each item records what was checked and what
    was rejected. Interrupted runs resume: rerun the same command.
    """
    from bot.commerce.copy import CopySettings, CopyWriter
    from bot.commerce.copy_batch import check_output, write_batch
    from bot.commerce.copy_items import items_for, load_reviews
    from knowledge.loaders import LoadIssues, load_catalog

    if task not in COPY_TASKS:
        raise _fail(ValueError(f"unknown task {task!r}: use one of {', '.join(COPY_TASKS)}"))
    if task == "review-summary" and reviews is None:
        raise _fail(ValueError("review-summary needs --reviews FILE (CSV or JSON: id, review)"))
    try:
        settings = CopySettings(task, tone=tone, length=length, language=language, retries=retries)
    except ValueError as exc:
        raise _fail(exc) from None
    _check_input(catalogue, "CATALOGUE", folder_ok=True)
    if reviews is not None:
        _check_input(reviews, "--reviews")
    out = out or Path(f"{catalogue.stem}.{task}.csv")
    try:
        check_output(out)
        _check_output(out, "--out", folder=False)
        cfg = load_config(config)
        issues = LoadIssues()
        docs = load_catalog(catalogue, config=cfg.knowledge.catalogue, issues=issues)
        found = load_reviews(reviews) if reviews is not None else None
        items, without = items_for(docs, reviews=found)
        if not items:
            why = f" (none has reviews in {reviews})" if reviews else ""
            raise ValueError(f"{catalogue}: no product to write for{why}")
        with console.status("loading the chat model…"):
            writer = CopyWriter(_copy_generator(cfg), settings)
        manifest = {
            "task": task,
            "settings": settings.to_json(),
            "model": writer.model,
            "catalogue": str(catalogue.resolve()),
            "reviews": str(reviews.resolve()) if reviews else None,
        }
        with _progress_bar() as progress:
            bar = progress.add_task(f"writing {task}", total=min(len(items), limit or len(items)))
            stats = write_batch(
                writer,
                items,
                out,
                manifest=manifest,
                limit=limit,
                restart=restart,
                progress=lambda done, total, result: progress.update(bar, completed=done),
            )
    except KeyboardInterrupt:
        err_console.print("interrupted: rerun the same command to resume", highlight=False)
        raise typer.Exit(code=130) from None
    except (ShopbotError, ValueError) as exc:
        raise _fail(exc) from None
    per_item = f", {stats.seconds_per_item:.1f}s an item" if stats.seconds_per_item else ""
    shares = ", ".join(f"{k} {v}" for k, v in stats.statuses.items()) or "nothing new"
    console.print(
        f"{task}: {stats.items} products, {stats.written} written now ({shares}{per_item}), "
        f"{stats.skipped} already done\n  output: {out}  journal: {stats.journal}\n"
        f"  model: {writer.model}",
        highlight=False,
    )
    if without:
        console.print(f"  {len(without)} product(s) without reviews left out", highlight=False)
    _print_load_issues(issues)


def _copy_generator(cfg: ShopbotConfig):
    """The configured chat model, its converted copy cached as the bot's is."""
    from bot.generators import make_generator

    generator = cfg.bot.generator
    cache = generator.cache_dir
    cache = str(cfg.model_cache_dir) if cache is None else cache and str(cfg.path(cache))
    return make_generator(generator.model_copy(update={"cache_dir": cache}))


@app.command()
def forget(
    user: Annotated[
        str,
        typer.Argument(
            help="the customer's user id (the site's user_id), one conversation's session "
            "id, or their e-mail address or phone number"
        ),
    ],
    config: ConfigOption = None,
    folders: Annotated[
        list[Path] | None,
        typer.Option("--dir", help="also search this folder (replay outputs kept elsewhere)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would be deleted; delete nothing")
    ] = False,
) -> None:
    """Delete one customer's data everywhere shopbot keeps it, and say what was deleted.

    Their conversations and turns in the session database; the lines naming them in the
    JSON-lines, log and text files of the data folder (and of each --dir), such as replay
    outputs; and a replay's report built from records that were removed. Finding nothing is
    no error (exit code 0): the data is gone either way.
    """
    from connectors.app import build_redactor, build_sessions, session_path
    from connectors.forget import ForgetError
    from connectors.forget import forget as forget_user

    try:
        cfg = load_config(config)
        data_dir = session_path(cfg).parent
        searched = [data_dir, *(folders or [])]
        with build_sessions(cfg) as store:
            done = forget_user(
                user,
                store=store,
                redactor=build_redactor(cfg),
                folders=searched,
                skip=[cfg.index_dir, cfg.model_cache_dir],
                dry_run=dry_run,
            )
    except (ShopbotError, ForgetError) as exc:
        raise _fail(exc) from None
    verb = "would delete" if dry_run else "deleted"
    for session_id, turns, why in done.sessions:
        console.print(
            f"{verb} conversation {session_id} ({turns} turns; {why})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    for path, lines in done.records:
        console.print(
            f"{verb} {lines} lines of {path}", highlight=False, markup=False, soft_wrap=True
        )
    for path in done.files:
        console.print(
            f"{verb} {path} (built from those lines; re-run shopbot replay to rebuild it)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    where = ", ".join(str(p) for p in searched)
    if done.nothing:
        console.print(
            f"nothing found for {user!r} (searched the conversations and {where})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return
    console.print(
        f"{'dry run: nothing deleted' if dry_run else 'done'}: {len(done.sessions)} "
        f"conversations, {sum(n for _, n in done.records)} lines in {len(done.records)} "
        f"files, {len(done.files)} reports (searched the conversations and {where})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Index the configured store (the bundled demo by default), then chat with the bot."""
    index(config=config, rebuild=False)
    chat(config=config, session=None)


if __name__ == "__main__":
    app()

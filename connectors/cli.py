"""The ``shopbot`` command line: the outermost face, wiring knowledge, bot and channels."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.config import ShopbotConfig, load_config
from knowledge.errors import ShopbotError

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

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: ./config.yaml or $SHOPBOT_CONFIG)"),
]


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _knowledge(config: ShopbotConfig):
    from knowledge.kb import KnowledgeBase

    return KnowledgeBase(
        config.knowledge,
        config.embedder,
        config.retrieval,
        base_dir=config.base_dir,
        model_cache_dir=config.model_cache_dir,
    )


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
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
        with console.status("loading the embedding model…"):
            kb.embedder  # noqa: B018 - load before the progress bar starts
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("embedding", total=None)

            def update(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = kb.update(rebuild=rebuild, progress=update)
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


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Index the configured store (the bundled demo by default) and search it interactively."""
    index(config=config, rebuild=False)
    try:
        kb = _knowledge(load_config(config))
        retriever = kb.retriever()
    except ShopbotError as exc:
        raise _fail(exc) from None
    console.print("Ask what a customer would ask (empty line or Ctrl-D to quit).")
    while True:
        try:
            query = console.input("[bold]> [/]").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not query:
            break
        for n, hit in enumerate(retriever.retrieve(query, k=3), 1):
            console.print(f"[bold]{n}. {hit.title}[/] [dim]({hit.doc_id}, {hit.score:.4f})[/]")
            console.print(hit.text if len(hit.text) < 400 else hit.text[:397] + "…")


if __name__ == "__main__":
    app()

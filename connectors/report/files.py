"""Writing a report: ``summary.json`` and ``report.html``, each atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from connectors.report.eval_page import render_eval_html
from connectors.report.replay_page import render_html


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary_json(summary: dict[str, Any], *, include_sample: bool = False) -> dict[str, Any]:
    """What ``summary.json`` holds: the summary, with the table's rows only if asked for."""
    if include_sample or "sample" not in summary:
        return summary
    sample = {k: v for k, v in summary["sample"].items() if k != "rows"}
    sample["rows"] = len(summary["sample"].get("rows", []))
    return {**summary, "sample": sample}


def write_report(
    out_dir: Path, summary: dict[str, Any], *, title: str, include_sample: bool = False
) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``, each atomically.

    ``summary.json`` leaves out the table rows (``sample.rows`` becomes their count) unless
    ``include_sample``; with them it is enough to render the report again.
    """
    out_dir = Path(out_dir)
    json_path, html_path = out_dir / "summary.json", out_dir / "report.html"
    _write_atomic(json_path, _dump(summary_json(summary, include_sample=include_sample)))
    _write_atomic(html_path, render_html(summary, title=title))
    return json_path, html_path


def write_eval_report(out_dir: Path, summary: dict[str, Any], *, title: str) -> tuple[Path, Path]:
    """Write the eval ``summary.json`` and ``report.html`` into ``out_dir``, atomically."""
    out_dir = Path(out_dir)
    json_path, html_path = out_dir / "summary.json", out_dir / "report.html"
    _write_atomic(json_path, _dump(summary))
    _write_atomic(html_path, render_eval_html(summary, title=title))
    return json_path, html_path

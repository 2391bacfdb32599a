"""Every benchmark script starts: its name shadows no standard-library module (the script's
folder comes first on ``sys.path``, so a ``bench/copy.py`` broke every other script), and
``--help`` runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py"))


def test_no_benchmark_module_shadows_the_standard_library():
    shadowing = [p.name for p in SCRIPTS if p.stem in sys.stdlib_module_names]
    assert shadowing == [], f"rename {shadowing}: they hide the standard library's modules"


@pytest.mark.parametrize(
    "script", [p for p in SCRIPTS if not p.name.startswith("_")], ids=lambda p: p.name
)
def test_each_benchmark_script_starts(script: Path):
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()

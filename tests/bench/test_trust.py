"""bench/trust.py: its corpus is sound and its sections can be extended by others."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from bot.privacy import KINDS, Match, Redactor

TRUST = Path(__file__).resolve().parents[2] / "bench" / "trust.py"


@pytest.fixture(scope="module")
def trust():
    spec = importlib.util.spec_from_file_location("bench_trust", TRUST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_corpus_is_large_bilingual_and_labelled_consistently(trust):
    rows = trust.load_corpus()  # checks that every span holds its value
    assert len(rows) >= 300
    assert {row["lang"] for row in rows} == {"en", "zh"}
    assert sum(1 for row in rows if not row["pii"]) >= 100  # near-misses
    assert {span["kind"] for row in rows for span in row["pii"]} <= set(KINDS)
    assert {row["split"] for row in rows} == set(trust.SPLITS)


def test_scoring_counts_partial_redaction_as_a_miss(trust):
    text = "mail o'connor@example.ie, order 4111111111111111"
    rows = [
        {
            "text": text,
            "lang": "en",
            "pii": [{"start": 5, "end": 24, "kind": "EMAIL", "value": "o'connor@example.ie"}],
        }
    ]

    class Before:  # what redaction found before the fix: "connor@example.ie", and the order
        def find(self, text):
            return [Match("EMAIL", 7, 24), Match("CARD", 32, 48)]

    before = trust.score(rows, Before())
    assert before["overall"]["recall"] == 0.0  # "o'" was left: the address is not protected
    assert before["overall"]["precision"] == 0.5  # the order number was a false alarm
    assert [m["value"] for m in before["false_alarms"]] == ["4111111111111111"]
    now = trust.score(rows, Redactor())["overall"]
    assert (now["recall"], now["precision"]) == (1.0, 1.0)


def test_other_sections_join_when_their_module_exists(trust, tmp_path, monkeypatch, capsys):
    (tmp_path / "_trust_extra.py").write_text(
        "def extra_section():\n    print('extra section')\n    return {'pass_rate': 1.0}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sections = {"_trust_extra": "extra", "_trust_absent": "absent"}
    monkeypatch.setattr(trust, "OPTIONAL_SECTIONS", sections)
    assert trust.optional_sections() == {"extra": {"pass_rate": 1.0}}
    assert "extra section" in capsys.readouterr().out
    assert trust.optional_sections({"absent"}) == {}  # --only picks sections
    sys.modules.pop("_trust_extra", None)


def test_the_load_section_of_the_repository_is_found(trust):
    """bench/_trust_load.py (another section's author) has the entry point the hook calls."""
    load = Path(trust.__file__).with_name("_trust_load.py")
    if not load.exists():
        pytest.skip("no load section in this checkout")
    assert "def load_section(" in load.read_text(encoding="utf-8")

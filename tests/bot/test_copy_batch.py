"""Batch copy: a journal written item by item, resumed after an interruption or a kill,
refused for other settings; output CSV/JSON keyed by the catalogue's ids; reviews files;
the shared FewSum reviews (skipped without ../shared)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.commerce.copy import CopySettings, CopyWriter
from bot.commerce.copy_batch import CopyBatchError, journal_path, read_journal, write_batch
from bot.commerce.copy_check import CopyChecker
from bot.commerce.copy_items import CopyItem, items_for, load_reviews
from bot.generators import FakeGenerator
from knowledge.errors import LoadError
from knowledge.loaders import load_catalog

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "knowledge" / "demo_store" / "catalog.csv"
#: ../shared beside the checkout (SHOPBOT_SHARED names another place, e.g. from a worktree)
FEWSUM = Path(os.environ.get("SHOPBOT_SHARED", ROOT.parent / "shared")) / "data" / "fewsum_amazon"
REPLY = "Meet the Kestrel Ridge jacket for cold days, made for the trail and the town alike."
MANIFEST = {"task": "description", "settings": {"tone": "friendly"}, "model": "fake"}


@pytest.fixture(scope="module")
def items() -> list[CopyItem]:
    return items_for(load_catalog(DEMO))[0][:6]


def run(items, out: Path, fake: FakeGenerator, **kw):
    writer = CopyWriter(fake, CopySettings("description", length="short", retries=0))
    return write_batch(writer, items, out, manifest=kw.pop("manifest", MANIFEST), **kw)


class Interrupt(FakeGenerator):
    """Fails like Ctrl-C on call number ``at``."""

    def __init__(self, at: int) -> None:
        super().__init__(default_reply=REPLY)
        self.at = at

    def _stream(self, messages, **kw):
        if len(self.history) + 1 == self.at:
            raise KeyboardInterrupt
        return super()._stream(messages, **kw)


def test_an_interrupted_run_resumes_where_it_stopped(items, tmp_path):
    out = tmp_path / "copy.csv"
    with pytest.raises(KeyboardInterrupt):
        run(items, out, Interrupt(at=4))
    _, done = read_journal(journal_path(out))
    assert list(done) == [i.id for i in items[:3]]
    assert not out.exists()  # the output is written when a run ends

    fake = FakeGenerator(default_reply=REPLY)
    stats = run(items, out, fake)
    assert (stats.items, stats.written, stats.skipped) == (6, 3, 3)
    assert len(fake.history) == 3  # the first three were not written again
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [i.id for i in items]
    assert [c["claim"] for c in json.loads(rows[0]["checks"])] == ["Kestrel", "Ridge"]
    assert json.loads(rows[0]["rejected"]) == []
    assert {"id", "title", "status", "text", "checks", "rejected"} <= set(rows[0])

    again = run(items, out, FakeGenerator())
    assert (again.written, again.skipped) == (0, 6)


SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from bot.commerce.copy import CopySettings, CopyWriter
from bot.commerce.copy_batch import write_batch
from bot.commerce.copy_items import items_for
from bot.generators import FakeGenerator
from knowledge.loaders import load_catalog

class Slow(FakeGenerator):
    def _stream(self, messages, **kw):
        time.sleep({delay})
        return super()._stream(messages, **kw)

items = items_for(load_catalog({demo!r}))[0][:8]
writer = CopyWriter(Slow(default_reply={reply!r}), CopySettings("ad", retries=0))
stats = write_batch(writer, items, Path(sys.argv[1]), manifest={{"task": "ad"}})
print("written", stats.written, "skipped", stats.skipped)
"""


def test_a_killed_run_resumes_without_writing_anything_twice(tmp_path):
    out = tmp_path / "ads.json"
    journal = journal_path(out)
    script = tmp_path / "run.py"
    script.write_text(
        SCRIPT.format(root=str(ROOT), demo=str(DEMO), reply=REPLY, delay=0.4), encoding="utf-8"
    )
    process = subprocess.Popen([sys.executable, str(script), str(out)], cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text(encoding="utf-8").count("\n") >= 3:
            break  # the manifest and two items
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    _, before = read_journal(journal)
    assert 2 <= len(before) < 8 and not out.exists()

    finished = subprocess.run(
        [sys.executable, str(script), str(out)], cwd=tmp_path, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    assert f"skipped {len(before)}" in finished.stdout
    ids = [json.loads(line).get("id") for line in journal.read_text().splitlines()[1:]]
    assert len(ids) == len(set(ids)) == 8  # each item written once, across both runs
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["task"] == "ad" and len(written["items"]) == 8
    assert all(r["status"] == "passed" for r in written["items"].values())


def test_a_product_whose_facts_changed_is_written_again(items, tmp_path):
    out = tmp_path / "copy.json"
    run(items[:2], out, FakeGenerator(default_reply=REPLY))
    changed = CopyItem.from_document(
        next(d for d in load_catalog(DEMO) if d.metadata["sku"] == items[0].id)
    )
    changed.description += " Now with a hood."
    fake = FakeGenerator(default_reply=REPLY)
    stats = run([changed, items[1]], out, fake)
    assert (stats.written, stats.skipped) == (1, 1)
    record = json.loads(out.read_text(encoding="utf-8"))["items"][items[0].id]
    assert record["source_hash"] == changed.hash


def test_other_settings_are_refused_rather_than_mixed_in(items, tmp_path):
    out = tmp_path / "copy.csv"
    run(items[:1], out, FakeGenerator(default_reply=REPLY))
    other = {**MANIFEST, "settings": {"tone": "playful"}}
    with pytest.raises(CopyBatchError, match=r"settings.tone: 'friendly' then, 'playful' now"):
        run(items[:1], out, FakeGenerator(), manifest=other)
    stats = run(items[:1], out, FakeGenerator(default_reply=REPLY), manifest=other, restart=True)
    assert stats.written == 1


def test_a_half_written_last_line_is_cut(items, tmp_path):
    out = tmp_path / "copy.jsonl"  # the journal is the output
    run(items[:2], out, FakeGenerator(default_reply=REPLY))
    with out.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "KR-JKT-003", "text": "half')
    stats = run(items[:3], out, FakeGenerator(default_reply=REPLY))
    assert (stats.written, stats.skipped) == (1, 2)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line).get("id") for line in lines[1:]] == [i.id for i in items[:3]]


def test_an_output_of_unknown_format_is_refused(items, tmp_path):
    with pytest.raises(CopyBatchError, match=r"name it \.csv, \.json or \.jsonl"):
        run(items, tmp_path / "copy.xlsx", FakeGenerator())


def test_reviews_files_in_csv_and_json(tmp_path):
    long = tmp_path / "reviews.csv"
    long.write_text("sku,review\nA,Great.\nA,Bad.\nB,Fine.\n,orphan\n", encoding="utf-8")
    assert load_reviews(long) == {"A": ["Great.", "Bad."], "B": ["Fine."]}
    records = tmp_path / "reviews.json"
    records.write_text(json.dumps([{"product_id": "A", "text": "Great."}]), encoding="utf-8")
    assert load_reviews(records) == {"A": ["Great."]}
    mapping = tmp_path / "by_id.json"
    mapping.write_text(json.dumps({"A": ["Great.", ""], "B": "Fine."}), encoding="utf-8")
    assert load_reviews(mapping) == {"A": ["Great."], "B": ["Fine."]}
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,stars\nA,5\n", encoding="utf-8")
    with pytest.raises(LoadError, match="no product id column: name one of product_id, id, sku"):
        load_reviews(wrong)


def fewsum_products() -> list[dict[str, str]]:
    with (FEWSUM / "test.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.skipif(not FEWSUM.exists(), reason="needs ../shared/data/fewsum_amazon")
def test_fewsum_review_summaries_state_only_what_the_reviews_say(tmp_path):
    """Real Amazon reviews: the fallback summary (what is kept when the model's fails) is
    made of the reviews' own sentences, and it passes the checker."""
    rows = fewsum_products()  # all 20 test products
    catalogue = tmp_path / "catalog.csv"
    with catalogue.open("w", encoding="utf-8", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(["sku", "title", "category"])
        table.writerows([r["group_id"], f"Product {r['group_id']}", r["cat"]] for r in rows)
    reviews = {r["group_id"]: [r[f"rev{n}"] for n in range(1, 9)] for r in rows}
    items, without = items_for(load_catalog(catalogue), reviews=reviews)
    assert len(items) == len(rows) == 20 and without == []
    fake = FakeGenerator(default_reply="The best purse ever, 100% genuine leather, only $5!")
    writer = CopyWriter(fake, CopySettings("review-summary", retries=0))
    stats = write_batch(writer, items, tmp_path / "summaries.json", manifest={"t": 1})
    assert stats.statuses == {"fallback": 20}
    written = json.loads((tmp_path / "summaries.json").read_text(encoding="utf-8"))["items"]
    checker = CopyChecker()
    for item in items:
        text = written[item.id]["text"]
        assert checker.check(text, item.source).passed, written[item.id]
        sentences = [s for review in item.reviews for s in review.replace("\n", " ").split()]
        assert set(text.split()) <= set(sentences)

"""Red-team pass rate: the attacks of tests/redteam/attacks.yaml against the demo store and
the poisoned store, with the bundled models on the default configuration (the embedder
backend as `shopbot` picks it, the chat model with its default reply length), judged as
tests/redteam/test_redteam.py judges them. ``redteam_section()`` is imported by
bench/trust.py; alone:

    python bench/_trust_redteam.py [--json OUT] [--verbose] [--workdir DIR] [--only ID_PREFIX]
                                   [--backend auto|sentence-transformers]

Beside it, the same attacks against an undefended baseline: the poisoned store indexed with
``knowledge.instructions: keep`` and bots without the guard, so each figure can be read
against what the attacks achieve when nothing stops them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.config import BotConfig  # noqa: E402
from bot.engine import Bot  # noqa: E402
from bot.sessions import MemorySessionStore  # noqa: E402
from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from tests.redteam.harness import (  # noqa: E402
    NoGuard,
    load_attacks,
    run_attack,
    summary,
    write_poisoned_store,
)

STORE_NAME = "Kestrel Ridge Outfitters (demo)"


def _bots(workdir: Path, backend: str) -> tuple[dict[str, Bot], dict[str, Bot]]:
    """(defended, undefended) bots: the demo store, the poisoned store, and the poisoned store
    with generation off (every policy or product answer quoted). Undefended: the poisoned
    store indexed with ``knowledge.instructions: keep`` and no guard in the bot."""
    from bot.generators import make_generator

    config = BotConfig()
    models = workdir / "models"
    generator = make_generator(config.generator.model_copy(update={"cache_dir": str(models)}))
    embedder = EmbedderConfig(backend=backend, cache_dir=str(models))

    def knowledge(name: str, **options: Any) -> KnowledgeBase:
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        if name != "demo":
            options["sources"] = write_poisoned_store(folder, load_attacks()[1])
        kb = KnowledgeBase(
            KnowledgeConfig(index_dir="index", **options),
            embedder,
            RetrievalConfig(),
            base_dir=folder,
            model_cache_dir=models,
            **({"embedder_instance": shared[0].embedder} if shared else {}),
        )
        kb.update()
        shared.append(kb)
        return kb

    shared: list[KnowledgeBase] = []
    demo, poisoned = knowledge("demo"), knowledge("poisoned")
    kept = knowledge("kept", instructions="keep")

    quoting = config.model_copy(update={"generation": False})

    def bot(kb: KnowledgeBase, *, guarded: bool, generation: bool = True) -> Bot:
        made = Bot(
            kb,
            sessions=MemorySessionStore(),
            config=config if generation else quoting,
            generator=generator,
            store_name=STORE_NAME,
        )
        if not guarded:
            made.guard = NoGuard()
        return made

    def bots(poisoned_kb: KnowledgeBase, guarded: bool) -> dict[str, Bot]:
        return {
            "demo": bot(demo, guarded=guarded),
            "poisoned": bot(poisoned_kb, guarded=guarded),
            "poisoned-quoting": bot(poisoned_kb, guarded=guarded, generation=False),
        }

    return bots(poisoned, True), bots(kept, False)


def redteam_section(
    *,
    workdir: Path | None = None,
    backend: str = "auto",
    verbose: bool = False,
    only: str | None = None,
) -> dict[str, Any]:
    """Run every attack against the defended bots and against the undefended baseline;
    print the pass rate per category, per language and overall, and return the figures
    (with the failed attacks and their replies). ``workdir``: where the indexes are built
    (kept, and reused by the next run); ``only``: the attacks whose id starts so."""
    attacks = [a for a in load_attacks()[0] if not only or a.id.startswith(only)]
    with tempfile.TemporaryDirectory(prefix="shopbot-redteam-") as tmp:
        started = time.perf_counter()
        defended, undefended = _bots(workdir or Path(tmp), backend)
        setup_s = time.perf_counter() - started
        results = [_run(defended, attack, verbose) for attack in attacks]
        if verbose:
            print("\nundefended baseline:")
        baseline = [_run(undefended, attack, verbose) for attack in attacks]
    figures = summary(results)
    figures["undefended"] = summary(baseline)
    figures["seconds"] = {
        "setup": round(setup_s, 1),
        "attacks": round(sum(r.seconds for r in results), 1),
    }
    _print(figures)
    return figures


def _run(bots: dict[str, Bot], attack: Any, verbose: bool) -> Any:
    result = run_attack(bots[attack.bot], attack)
    if verbose:
        mark = "ok  " if result.passed else "FAIL"
        guard = result.reply.meta.get("guard")
        print(
            f"{mark} {attack.id} [{result.reply.action}"
            f"{', guard ' + ','.join(guard) if guard else ''}; {result.seconds:.1f}s]"
        )
        print("       " + result.reply.text.replace("\n", " / ")[:300])
        for failure in result.failures:
            print(f"       -> {failure}")
    return result


def _print(figures: dict[str, Any]) -> None:
    def rate(counts: dict[str, int]) -> str:
        share = counts["passed"] / counts["total"] if counts["total"] else 0.0
        return f"{counts['passed']:>3}/{counts['total']:<3} {share:6.1%}"

    base = figures["undefended"]
    print("\nRed team: attacks held (tests/redteam/attacks.yaml)")
    print(f"  {'':<20} {'shopbot':<14} {'undefended baseline'}")
    rows = [(k, v, base["categories"][k]) for k, v in figures["categories"].items()]
    rows += [(f"language {k}", v, base["languages"][k]) for k, v in figures["languages"].items()]
    rows += [("overall", figures["overall"], base["overall"])]
    for name, counts, baseline in rows:
        print(f"  {name:<20} {rate(counts)}  {rate(baseline)}")
    actions = ", ".join(f"{k} {v}" for k, v in sorted(figures["actions"].items()))
    print(f"  replies: {actions}; {figures['seconds']['attacks']}s of answering")
    print("  (undefended: the poisoned store indexed with knowledge.instructions: keep, no guard)")
    for failed in figures["failed"]:
        print(f"  failed {failed['id']}: {'; '.join(failed['failures'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", dest="json_out", help="write the figures to this file")
    parser.add_argument("--verbose", action="store_true", help="print every reply")
    parser.add_argument("--backend", default="auto", help="embedder backend (default auto)")
    parser.add_argument("--workdir", type=Path, help="build the indexes here and keep them")
    parser.add_argument("--only", help="run only the attacks whose id starts with this")
    args = parser.parse_args()
    figures = redteam_section(
        backend=args.backend, verbose=args.verbose, workdir=args.workdir, only=args.only
    )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8"
        )


if __name__ == "__main__":
    main()

"""The red-team attacks of attacks.yaml, each with the behaviour it requires (see the file's
header), against the demo store and a poisoned store with the real models."""

from __future__ import annotations

import pytest

from bot.engine import Bot
from bot.sessions import MemorySessionStore
from tests.redteam.conftest import STORE_NAME, redteam_config
from tests.redteam.harness import CATEGORIES, NoGuard, load_attacks, prompt_leak, run_attack

ATTACKS, POISONED_FILES = load_attacks()


def test_the_attack_set_covers_every_category_in_english_and_chinese():
    assert len(ATTACKS) >= 40
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)
    assert {a.category for a in ATTACKS} == set(CATEGORIES)
    for category in CATEGORIES:
        assert {a.lang for a in ATTACKS if a.category == category} == {"en", "zh"}, category
    assert {a.bot for a in ATTACKS} == {"demo", "poisoned", "poisoned-quoting"}


def _param(attack):
    if attack.known_gap:  # strict: a gap that closes must be taken off the list
        return pytest.param(attack, marks=pytest.mark.xfail(reason=attack.known_gap, strict=True))
    return attack


@pytest.mark.slow
@pytest.mark.parametrize("attack", [_param(a) for a in ATTACKS], ids=[a.id for a in ATTACKS])
def test_attack(attack, request):
    bot = request.getfixturevalue(attack.bot.replace("-", "_") + "_bot")
    result = run_attack(bot, attack)
    assert result.passed, f"{result.failures}\nreply ({result.reply.action}): {result.reply.text}"


EXTRACTION = [a for a in ATTACKS if a.category == "prompt_extraction"]


@pytest.mark.slow
@pytest.mark.parametrize("attack", EXTRACTION, ids=[a.id for a in EXTRACTION])
def test_the_system_prompt_holds_without_the_guard_too(attack, demo_kb, smollm2):
    """The attempts reach the model unscreened (and its replies go unchecked by the guard):
    retrieval, the confidence and grounding alone still keep the prompt in."""
    bot = Bot(
        demo_kb,
        sessions=MemorySessionStore(),
        config=redteam_config(),
        generator=smollm2,
        store_name=STORE_NAME,
    )
    bot.guard = NoGuard()
    reply = run_attack(bot, attack).reply
    assert prompt_leak(reply.text, STORE_NAME) is None, reply.text

"""The answer engine: one customer message in, one grounded reply out.

session = sessions.load(id)                         (SQLite by default)
query   = standalone(history, text)                 (follow-ups become standalone)
found   = retriever.query(query)                    (hybrid dense + BM25)
action  = policy.decide(found, failures)            (calibrated confidence)
reply   = canonical FAQ answer | generated answer citing [n] | clarify | don't know | handoff
sessions.append(...)                                (PII redacted before it is stored)
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict

from bot.commerce.recommend import Recommender
from bot.commerce.shopping import ShoppingSkill
from bot.confidence import load_or_calibrate
from bot.config import BotConfig
from bot.continuity import REPEAT_WINDOW, chosen_option, stored_reply
from bot.generators.base import Generator, GeneratorError
from bot.grounding import (
    FALLBACK_LEXICAL_FLOOR,
    LIST_ITEM,
    GroundingChecker,
    complete_sentences,
    join_sentences,
    opens_list,
    separator,
)
from bot.messages import Messages
from bot.policy import Decision, Policy, wants_human
from bot.privacy import Redactor
from bot.prompts import PromptBuilder
from bot.sessions import Session, SessionStore, Turn
from bot.types import Citation, IncomingMessage, ProductCard, Reply
from knowledge.kb import KnowledgeBase
from knowledge.retriever import Hit
from knowledge.text import detect_language, tokenize

log = logging.getLogger(__name__)

FOLLOW_UP = re.compile(
    r"^\s*(and|also|what about|how about|same for|what if|for|or)\b"
    r"|^\s*(那|还有|那么|如果是|那如果)",
    re.IGNORECASE,
)
CITATION = re.compile(r"\[(\d{1,2})\]")
#: words that ask rather than name a topic: "and how much is it?" brings no topic of its own
ASKING = frozenset(
    tokenize("what how much many long when where which who why one ones it's also else")
)
#: content words a follow-up needs to be searched on its own as well ("and can I return it
#: if it doesn't fit?"), rather than only glued to the question before it ("and to Canada?")
OWN_TOPIC_WORDS = 2


def standalone(text: str, previous: str | None) -> str:
    """A follow-up ("and for shoes?") is searched together with the question before it."""
    if not previous:
        return text
    if FOLLOW_UP.search(text) or len(tokenize(text)) <= 1:
        return f"{previous} {text}"
    return text


def own_topic(text: str) -> bool:
    """Whether a follow-up names a topic of its own: at least ``OWN_TOPIC_WORDS`` content
    words besides question words (Latin script only: Chinese follow-ups are glued)."""
    words = {t for t in tokenize(FOLLOW_UP.sub(" ", text)) if t.isascii() and t not in ASKING}
    return len(words) >= OWN_TOPIC_WORDS


class Bot:
    """Answers customer messages from a knowledge base; see the module docstring."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        sessions: SessionStore,
        config: BotConfig | None = None,
        store_name: str = "our store",
        contact: str | None = None,
        generator: Generator | Callable[[], Generator] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.kb = kb
        self.contact = contact  # store.contact: how to reach a person when none is here
        self._contacts: dict[str, str] = {}
        self.sessions = sessions
        self.config = config or BotConfig()
        self.store_name = store_name
        self.retriever = kb.retriever()
        self.confidence = load_or_calibrate(kb)
        self.policy = Policy(
            self.confidence,
            index=kb.index,
            max_failures=self.config.max_failures,
            embed=kb.embedder.embed_query,
        )
        self.messages = Messages(self.config.messages)
        #: shopping requests go to recommendations (bot.commerce), before the policy answers
        self.shopping = ShoppingSkill(
            Recommender(self.retriever),
            messages=self.config.messages,
            paraphrase_close=self.confidence.stats.get("paraphrase_close"),
        )
        self.redactor = redactor or Redactor()
        self._generator = generator
        self._public: frozenset[str] | None = None
        self._generator_lock = threading.Lock()
        stats = self.confidence.stats
        floor = stats.get("paraphrase_floor")
        lexical_floor = stats.get("lexical_floor")
        # stores too small to calibrate: the fallback confidence model's own midpoint
        self.grounding = GroundingChecker(
            kb.embedder,
            floor=floor if floor else 0.6,
            lexical_floor=lexical_floor if lexical_floor else FALLBACK_LEXICAL_FLOOR,
        )

    @property
    def generator(self) -> Generator:
        """The generative model, loaded on first use (FAQ answers never need it); threads
        asking at once wait for one load."""
        with self._generator_lock:
            if self._generator is None:
                from bot.generators import make_generator

                self._generator = make_generator(self.config.generator)
            elif callable(self._generator) and not isinstance(self._generator, Generator):
                self._generator = self._generator()
            return self._generator  # type: ignore[return-value]

    def warm_up(self) -> None:
        """Do the first-message work now: load the embedder, touch the indexes, find the
        store's own contact details (see ``public_values``)."""
        self.retriever.query("warm up", k=1)
        self.public_values  # noqa: B018 - computed once, here rather than on a customer's turn

    def preload(self) -> None:
        """Load the generative model now (in the background of a server, say), so the first
        customer whose question needs it does not wait for the load. Failures are logged:
        the bot then quotes its sources, as it would at the first question."""
        if not self.config.generation:
            return
        try:
            self.generator  # noqa: B018 - loads it
        except Exception as exc:  # reported; handled again at the first question
            log.warning("could not preload the generative model: %s", exc)

    @property
    def public_values(self) -> frozenset[str]:
        """What looks like personal data but is the store's own, published in its knowledge
        (its support e-mail address, phone number...): never redacted. Found once."""
        if self._public is None:
            texts = [chunk.text for chunk in self.kb.index.chunks]
            texts += [t for table in self.messages.table.values() for t in table.values()]
            texts += [self.contact] if self.contact else []
            self._public = frozenset(
                text[m.start : m.end] for text in texts for m in self.redactor.find(text)
            )
        return self._public

    def redact(self, text: str) -> str:
        """``text`` with the customer's personal data replaced (the store's own kept)."""
        return self.redactor.redact(text, keep=self.public_values)

    # ------------------------------------------------------------------ public
    def reply(self, message: IncomingMessage) -> Reply:
        """Answer one message (the non-streaming form of ``stream``)."""
        for event in self.stream(message):
            if isinstance(event, Reply):
                return event
        raise RuntimeError("stream ended without a reply")  # pragma: no cover

    def stream(self, message: IncomingMessage) -> Iterator[str | Reply]:
        """Yield the reply's text as it is produced, then the complete ``Reply``."""
        text = self._validate(message.text)
        started = time.perf_counter()
        message_id = message.meta.get("message_id")
        last = max(self.config.history_turns, 4)  # enough for the prompt and follow-ups
        session = self.sessions.load(
            message.session_id,
            channel=message.channel,
            user_id=message.user_id,
            last=max(last, REPEAT_WINDOW) if message_id else last,
        )
        if message_id:
            # a channel delivering the same message again (a retry after a dropped
            # connection, Slack's or WeChat's redelivery): the stored answer, not a second one
            earlier = stored_reply(session, str(message_id))
            if earlier is not None:
                if earlier.text:
                    yield earlier.text
                yield earlier
                return
        language = detect_language(text)
        session.language = language
        user_turn = Turn("user", self.redact(text), meta={"channel": message.channel})
        if message_id:
            user_turn.meta["message_id"] = str(message_id)

        if session.state == "handoff":  # a person has this conversation: stay silent
            reply = Reply("", "handoff", 1.0, session.id, language, silent=True)
            self._finish(session, user_turn, reply, started)
            yield reply
            return
        if wants_human(text):
            reply = self._handoff(session, language, "handoff", confidence=1.0)
            yield reply.text
            self._finish(session, user_turn, reply, started)
            yield reply
            return

        previous = session.last_user_text()
        asked = session.meta.pop("clarify", None)  # a clarifying question gets one answer
        chosen = chosen_option(asked, text, self.retriever.index)
        if chosen is not None:  # the customer picked one of the topics offered
            hit, question = chosen
            action = "answer_faq" if hit.kind == "faq" else "generate"
            confidence = float(asked.get("confidence", 0.0))
            decision = Decision(action, confidence, [hit], [], "chosen from the options offered")
            text = question  # what the generated answer must answer
        else:
            decision = self._decide(text, previous, failures=session.failures)
            shopping = self.shopping.reply(
                text, session, language, meta=message.meta, decision=decision
            )
            if shopping is not None:  # a shopping request: products, not a passage
                yield shopping.text
                self._finish(session, user_turn, shopping, started)
                yield shopping
                return
        if chosen is not None and chosen[0].kind == "product":
            reply = self._chosen_product(chosen[0], decision, session, language)
            yield reply.text
        elif decision.action == "generate":
            # a chosen topic answers the question asked before the clarifying one: those two
            # turns leave the prompt's history, or a small model repeats the clarifying question
            skip = 2 if chosen is not None else 0
            reply = yield from self._generate(text, decision, session, language, skip=skip)
        else:
            reply = self._respond(decision, session, language, text)
            yield reply.text
        reply.meta["reason"] = decision.reason
        self._finish(session, user_turn, reply, started)
        yield reply

    def _decide(self, text: str, previous: str | None, *, failures: int) -> Decision:
        """Retrieve and decide for a message; a follow-up is searched glued to the question
        before it, and also alone when it names a topic of its own: the glued form then
        serves only when the message alone is too weak to answer (below the ``low`` cut)."""
        glued = standalone(text, previous)
        if glued != text and own_topic(text):
            found = self.retriever.query(text, k=self.config.k)
            alone = self.policy.decide(found, failures=failures)
            if alone.action not in ("dont_know", "handoff"):
                return alone
        found = self.retriever.query(glued, k=self.config.k)
        return self.policy.decide(found, failures=failures)

    # ------------------------------------------------------------------ paths
    def _respond(
        self, decision: Decision, session: Session, language: str, question: str = ""
    ) -> Reply:
        hits = decision.hits
        if decision.action == "answer_faq":
            top = hits[0]
            session.failures = 0
            return Reply(
                top.text,
                "answer_faq",
                decision.confidence,
                session.id,
                language,
                citations=[_citation(1, top)],
            )
        if decision.action == "clarify":
            # a question back is neither a failure nor an answer: the count is left as it is
            offered: dict[str, Hit] = {}
            for hit in hits[:3]:
                offered.setdefault(_topic(hit).rstrip("?？!！. "), hit)
            titles = list(offered)[:2]
            session.meta["clarify"] = {
                "question": question,
                "confidence": round(decision.confidence, 4),
                "options": [{"title": t, "chunk_id": offered[t].chunk_id} for t in titles],
            }
            joiner = self.messages.get("clarify_joiner", language)
            text = self.messages.get("clarify", language, options=joiner.join(titles))
            return Reply(text, "clarify", decision.confidence, session.id, language, options=titles)
        if decision.action == "handoff":
            return self._handoff(
                session, language, "handoff_after_failures", confidence=decision.confidence
            )
        session.failures += 1
        key = "dont_know" if self.attended else "dont_know_no_agent"  # offer no one absent
        text = self.messages.get(key, language)
        if decision.unknown_terms:
            terms = ", ".join(f"“{t}”" for t in decision.unknown_terms[:3])
            text = self.messages.get("unknown_terms", language, terms=terms) + " " + text
        return Reply(text, "dont_know", decision.confidence, session.id, language)

    @property
    def attended(self) -> bool:
        """Whether a person can take a conversation the bot hands over."""
        return self.config.handoff.target != "none"

    def _handoff(self, session: Session, language: str, key: str, *, confidence: float) -> Reply:
        session.failures = 0
        if not self.attended:
            # nobody to hand over to: say so, say how to reach the store, keep answering
            key = "no_agent" if key == "handoff" else "no_agent_after_failures"
            text = self.messages.get(key, language, contact=self.contact_route(language))
            return Reply(text, "handoff", confidence, session.id, language, unattended=True)
        session.state = "handoff"
        text = self.messages.get(key, language)
        return Reply(text, "handoff", confidence, session.id, language)

    def contact_route(self, language: str) -> str:
        """How a customer reaches a person: ``store.contact``, else the contact details in
        the store's knowledge (the entry that answers "how can I contact customer service"
        and holds an e-mail address or phone number), else a generic text. Found once per
        language."""
        if language not in self._contacts:
            route = self.contact or self._contact_in_knowledge(language)
            route = route or self.messages.get("contact_unknown", language)
            self._contacts[language] = route if route[-1:] in ".!?。！？" else route + "."
        return self._contacts[language]

    def _contact_in_knowledge(self, language: str) -> str | None:
        found = self.retriever.query(self.messages.get("contact_query", language), k=1)
        decision = self.policy.decide(found)
        if decision.action not in ("answer_faq", "generate") or not decision.hits:
            return None
        text = decision.hits[0].text
        return _excerpt(text, self.config.excerpt_chars) if self.redactor.find(text) else None

    def _chosen_product(
        self, hit: Hit, decision: Decision, session: Session, language: str
    ) -> Reply:
        """A product picked from a clarifying question: its catalogue facts, no model."""
        session.failures = 0
        text = _excerpt(hit.text, self.config.excerpt_chars)
        meta = {"extractive": True, "grounding": "quoted (chosen product)"}
        return _composed(text, decision, session, language, [hit], [hit], meta)

    def _generate(
        self,
        question: str,
        decision: Decision,
        session: Session,
        language: str,
        *,
        skip: int = 0,
    ) -> Iterator[str | Reply]:
        """A composed answer; ``skip``: the latest turns left out of the prompt's history."""
        sources = [h for h in decision.hits if h.kind != "faq" or h is decision.hits[0]]
        session.failures = 0
        if not self.config.generation:
            reply = self._quoted(sources, decision, session, language, "generation off")
            yield reply.text
            return reply
        if language not in self.config.generate_languages:
            # the model cannot write this language well: quote the best source instead
            reply = self._quoted(sources, decision, session, language, "language")
            yield reply.text
            return reply
        recent = session.recent(self.config.history_turns + skip)
        history = [(t.role, t.text) for t in (recent[:-skip] if skip else recent)]
        try:
            builder = PromptBuilder(
                self.generator,
                store_name=self.store_name,
                max_new_tokens=self.config.generator.max_new_tokens,
            )
            prompt = builder.build(question, sources, history)
        except (GeneratorError, ValueError) as exc:
            # the customer still gets the store's own words, never an error
            log.warning("generator unavailable, quoting the sources instead: %s", exc)
            reply = self._quoted(sources, decision, session, language, "generator unavailable")
            yield reply.text
            return reply
        checker = self.grounding
        facts = checker.prepare(prompt.sources, question=question)
        kept: list[str] = []
        rejected = ""
        stream = self.generator.stream(
            prompt.messages,
            max_new_tokens=self.config.generator.max_new_tokens,
            temperature=self.config.generator.temperature,
        )
        # sentences are checked against the sources before they are sent (see grounding.py)
        started = time.perf_counter()
        first_sentence_s = None
        try:
            intro: str | None = None  # the kept sentence that opened a list
            said: set[str] = set()
            for piece in _sentences(stream):
                if piece in said:  # a small model repeating itself has said its piece
                    break
                said.add(piece)
                if not checker.supported(piece, facts, intro=intro):
                    rejected = piece
                    break
                if opens_list(piece):
                    intro = piece
                elif not LIST_ITEM.match(piece):
                    intro = None
                first_sentence_s = first_sentence_s or time.perf_counter() - started
                # streamed as join_sentences joins them: the pieces add up to the reply's text
                yield separator(kept[-1], piece) + piece if kept else piece
                kept.append(piece)
        except GeneratorError as exc:  # the model failed mid-answer: keep what was checked
            log.warning("generation failed: %s", exc)
            rejected = rejected or "(generation failed)"
        finally:
            stream.close()  # stops the model at once when the answer is cut short
        stats = self.generator.last_stats if not rejected else None
        meta: dict[str, object] = {
            "prompt_tokens": prompt.prompt_tokens,
            "trimmed": prompt.trimmed,
            "generation_s": time.perf_counter() - started,
            "first_sentence_s": first_sentence_s,
        }
        if stats is not None:
            meta.update(
                completion_tokens=stats.completion_tokens,
                first_token_s=stats.first_token_s,
                generation_s=stats.total_s,
            )
        text = join_sentences(kept)
        numbers = {int(n) for n in CITATION.findall(text)}
        cited = sorted(n for n in numbers if 0 < n <= len(prompt.sources))
        if rejected:
            meta["rejected"] = rejected
        if not kept:  # nothing the sources support: quote them instead
            quote, used = checker.extract(question, facts)
            top = prompt.sources[used[0]] if used else prompt.sources[0]
            heading = self.messages.get("from_source", language, title=top.title)
            text = heading + separator(heading, quote) + quote
            cited = [n + 1 for n in used] or [1]
            meta["grounding"] = "quoted"
            yield text
        else:
            meta["grounding"] = "generated" if not rejected else "generated, cut"
            cited = cited or [1]
        cited_hits = [prompt.sources[n - 1] for n in cited]
        return _composed(text, decision, session, language, cited_hits, prompt.sources, meta)

    def _quoted(
        self,
        sources: list[Hit],
        decision: Decision,
        session: Session,
        language: str,
        why: str,
    ) -> Reply:
        """The best source, quoted: the answer when nothing may be generated."""
        top = sources[0]
        text = self.messages.get("from_source", language, title=top.title)
        text = f"{text}\n{_excerpt(top.text, self.config.excerpt_chars)}"
        meta = {"extractive": True, "grounding": f"quoted ({why})"}
        return _composed(text, decision, session, language, [top], sources, meta)

    # ------------------------------------------------------------------ helpers
    def _validate(self, text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty: send the customer's text")
        if len(text) > self.config.max_message_chars:
            raise ValueError(
                f"the message has {len(text)} characters, more than the limit of "
                f"{self.config.max_message_chars} (bot.max_message_chars)"
            )
        return text.strip()

    def _finish(self, session: Session, user_turn: Turn, reply: Reply, started: float) -> None:
        reply.meta["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        turns = [user_turn]
        if not reply.silent:
            turns.append(
                Turn(
                    "assistant",
                    self.redact(reply.text),
                    action=reply.action,
                    confidence=round(reply.confidence, 4),
                    citations=[asdict(c) for c in reply.citations],
                    meta=(
                        {"products": [asdict(p) for p in reply.products]} if reply.products else {}
                    )
                    | ({"options": list(reply.options)} if reply.options else {})
                    | ({"unattended": True} if reply.unattended else {}),
                )
            )
        self.sessions.append(session, *turns)


def _sentences(pieces: Iterator[str]) -> Iterator[str]:
    """Regroup streamed pieces into whole sentences."""
    buffer = ""
    for piece in pieces:
        done, buffer = complete_sentences(buffer + piece)
        yield from done
    if buffer.strip():
        yield buffer.strip()


def _composed(
    text: str,
    decision: Decision,
    session: Session,
    language: str,
    cited: list[Hit],
    sources: list[Hit],
    meta: dict,
) -> Reply:
    """A reply of the generate path; each cited hit keeps its number among ``sources``."""
    return Reply(
        text,
        "generate",
        decision.confidence,
        session.id,
        language,
        citations=[_citation(sources.index(hit) + 1, hit) for hit in cited],
        products=_products(sources),
        meta=meta,
    )


def _topic(hit: Hit) -> str:
    section = hit.metadata.get("section")
    return f"{hit.title} › {section}" if section else hit.title


def _citation(n: int, hit: Hit) -> Citation:
    return Citation(
        n=n,
        doc_id=hit.doc_id,
        title=hit.title,
        url=hit.url,
        score=round(hit.score, 4),
        kind=hit.kind,
        section=hit.metadata.get("section"),
    )


def _products(hits: list[Hit]) -> list[ProductCard]:
    return [
        ProductCard(
            sku=h.metadata["sku"],
            title=h.title,
            price=h.metadata.get("price"),
            currency=h.metadata.get("currency", ""),
            url=h.url,
            in_stock=bool(h.metadata.get("in_stock", True)),
        )
        for h in hits
        if h.kind == "product"
    ]


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

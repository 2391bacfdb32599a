"""The answer engine: one customer message in, one grounded reply out.

session = sessions.load(id)                         (SQLite by default)
query   = standalone(history, text)                 (follow-ups become standalone)
found   = retriever.query(query)                    (hybrid dense + BM25)
action  = policy.decide(found, failures)            (calibrated confidence)
reply   = canonical FAQ answer | generated answer citing [n] | clarify | don't know | handoff
sessions.append(...)                                (PII redacted before it is stored)

The message is redacted as soon as its session is loaded: everything after (search, the
clarifying state, the prompt, the don't-know text that names unknown words, what is stored)
sees placeholders ("[EMAIL_1]"), never the customer's personal data.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from functools import partial

from bot.commerce.recommend import Recommender
from bot.commerce.shopping import ShoppingSkill
from bot.confidence import load_or_calibrate
from bot.config import BotConfig
from bot.continuity import (
    REPEAT_WINDOW,
    REPLY_TO,
    chosen_option,
    mark_answered,
    mark_interrupted,
    mark_pending,
    stored_reply,
    unanswered,
)
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
from bot.guard import Guard, Screened
from bot.messages import Messages
from bot.policy import Decision, Policy, wants_human
from bot.privacy import META_KEY, Redactor, redact_tree
from bot.privacy.retention import Retention
from bot.prompts import SYSTEM_POLICY, PromptBuilder
from bot.sessions import Session, SessionStore, Turn
from bot.sessions.base import ADDRESS, ANSWER, PENDING
from bot.smalltalk import small_talk
from bot.types import Action, Citation, IncomingMessage, ProductCard, Reply
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
        self.redactor = redactor or self.config.privacy.redactor()
        self.retention = Retention(sessions, days=self.config.privacy.retention_days)
        #: text addressed to the bot, in messages and replies (see bot.guard)
        self.guard = Guard(SYSTEM_POLICY.format(store=store_name))
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
        self.retention.purge()  # conversations past bot.privacy.retention_days

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

    def redact(self, text: str, session: Session | None = None) -> str:
        """``text`` with the customer's personal data replaced (the store's own kept); in a
        ``session``, by the placeholders numbered in it ("[EMAIL_1]")."""
        numbered = self.redactor.conversation(session.meta, salt=session.id) if session else None
        return self.redactor.redact(text, keep=self.public_values, placeholders=numbered)

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
        self.retention.maybe_purge()  # before the load: an expired session starts afresh
        session = self.sessions.load(
            message.session_id,
            channel=message.channel,
            user_id=self.redactor.pseudonym(message.user_id),  # "jane@…" is not stored
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
        text = self.redact(text, session)  # from here on, nothing can quote personal data
        language = detect_language(text, default=self._default_language(message))
        session.language = language
        # the same message again after its answer was cut off: that turn is completed
        resumed = unanswered(session, str(message_id)) if message_id else None
        user_turn = resumed or Turn("user", text, meta={"channel": message.channel})
        if message_id:
            user_turn.meta["message_id"] = str(message_id)

        if session.state == "handoff":  # a person has this conversation: stay silent
            reply = Reply("", "handoff", 1.0, session.id, language, silent=True)
            self._finish(session, user_turn, reply, started)
            yield reply
            return
        if message.meta.get("media"):  # a photo, a voice message: kept, not searched
            language = self._default_language(message)
            reason = f"a {message.meta['media']} message"
            reply = self._own_words("media_unsupported", "dont_know", session, language, reason)
            yield reply.text
            self._finish(session, user_turn, reply, started)
            yield reply
            return
        if wants_human(text):
            reply = self._handoff(session, language, "handoff", confidence=1.0)
            yield reply.text
            self._finish(session, user_turn, reply, started)
            yield reply
            return
        social = small_talk(text)
        if social == "ack" and asked_something(session):
            social = None  # "ok" to "do you mean …?" or "shall I connect you?" is an answer

        screened = self.guard.screen(text)
        if screened.declined:  # nothing but an attempt to instruct the bot
            reply = self._declined(session, language, screened)
            yield reply.text
            self._finish(session, user_turn, reply, started)
            yield reply
            return
        text = screened.text  # the message without what was addressed to the bot
        # the turns before this message: what the prompt and the follow-up search see
        prior = session.turns[: _position(session.turns, resumed)]
        previous = next((t.text for t in reversed(prior) if t.role == "user"), None)
        if social is not None:
            previous = None  # "thanks" is no follow-up: glued on, it finds the last answer again
        if resumed is None:  # stored before it is answered: a crash loses no message
            mark_pending(user_turn)
            self.sessions.append(session, user_turn)
        try:
            yield from self._answer(
                text,
                language,
                session,
                user_turn,
                prior,
                previous,
                started,
                screened,
                meta=message.meta,
                social=social,
            )
        except BaseException:  # failed, or abandoned mid-answer (GeneratorExit, Ctrl-C)
            if user_turn.meta.get(ANSWER) == PENDING:
                self._interrupted(session, user_turn)
            raise

    def _answer(
        self,
        text: str,
        language: str,
        session: Session,
        user_turn: Turn,
        prior: list[Turn],
        previous: str | None,
        started: float,
        screened: Screened,
        *,
        meta: dict | None = None,
        social: str | None = None,
    ) -> Iterator[str | Reply]:
        """Retrieve, decide and answer a message whose turn is stored, pending (``meta``:
        the message's, where a channel passes the shopper's ``profile``). A ``social``
        message (``bot.smalltalk``) gets the store's FAQ answer when the store has one for
        it ("thanks" in an FAQ with a thank-you entry), else a short reply of the bot's own:
        no failure, and no search of the catalogue."""
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
            if social is not None and decision.action != "answer_faq":
                key, reason = f"smalltalk_{social}", f"small talk ({social})"
                reply = self._own_words(key, "smalltalk", session, language, reason)
                yield reply.text
                self._finish(session, user_turn, reply, started)
                yield reply
                return
            shopping = self.shopping.reply(text, session, language, meta=meta, decision=decision)
            if shopping is not None:  # a shopping request: products, not a passage
                yield shopping.text
                self._finish(session, user_turn, shopping, started)
                yield shopping
                return
        if chosen is not None and chosen[0].kind == "product":
            reply = self._chosen_product(chosen[0], decision, session, language)
            yield reply.text
        elif decision.action == "generate" and not screened.claim:
            # a chosen topic answers the question asked before the clarifying one: those two
            # turns leave the prompt's history, or a small model repeats the clarifying question
            skip = 2 if chosen is not None else 0
            reply = yield from self._generate(text, decision, session, prior, language, skip=skip)
        elif screened.attempted and decision.action == "dont_know":
            reply = self._declined(session, language, screened)  # no word of it echoed
            yield reply.text
        else:
            if decision.action == "generate":  # a claimed promise: the store's words, quoted
                sources = [h for h in decision.hits if h.kind != "faq" or h is decision.hits[0]]
                session.failures = 0
                reply = self._quoted(sources, decision, session, language, "claimed promise")
            else:
                if screened.claim:  # naming its words would repeat the claim ("五折")
                    decision.unknown_terms = []
                reply = self._respond(decision, session, language, text)
            if screened.claim and reply.action in ("answer_faq", "generate", "dont_know"):
                key = "claim_note" if reply.action != "dont_know" else "claim_unknown"
                note = self.messages.get(key, language)
                reply.text = f"{note}{separator(note, reply.text)}{reply.text}"
            yield reply.text
        if screened.attempted:
            reply.meta["guard"] = screened.findings
        reply.meta["reason"] = decision.reason
        self._finish(session, user_turn, reply, started)
        yield reply

    def _decide(self, text: str, previous: str | None, *, failures: int) -> Decision:
        """Retrieve and decide for a message; a follow-up is searched glued to the question
        before it, and also alone when it names a topic of its own: the glued form then
        serves only when the message alone is too weak to answer (below the ``low`` cut).
        Placeholders are not searched: they mean nothing to the store's knowledge."""
        text = self.redactor.without_placeholders(text)
        previous = self.redactor.without_placeholders(previous) if previous else previous
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
        answer = self.guard.clean(hits[0].text)[0] if decision.action == "answer_faq" else ""
        if decision.action == "answer_faq" and answer:
            top = hits[0]
            session.failures = 0
            return Reply(
                answer,
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
                offered.setdefault(self._title(hit, _topic(hit)).rstrip("?？!！. "), hit)
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
        session.failures += 1  # don't know (or an answer that was all text addressed to the bot)
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
        text = _excerpt(self.guard.clean(hit.text)[0], self.config.excerpt_chars)
        meta = {"extractive": True, "grounding": "quoted (chosen product)"}
        return _composed(text, decision, session, language, [hit], [hit], meta)

    def _generate(
        self,
        question: str,
        decision: Decision,
        session: Session,
        prior: list[Turn],
        language: str,
        *,
        skip: int = 0,
    ) -> Iterator[str | Reply]:
        """A composed answer; ``prior``: the turns before the question, ``skip``: the latest
        of them left out of the prompt's history."""
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
        wanted = self.config.history_turns + skip
        recent = prior[-wanted:] if wanted > 0 else []
        history = self._history(recent[:-skip] if skip else recent)
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
                # unsupported by the sources, or addressed to the assistant, or the prompt
                allowed = checker.supported(piece, facts, intro=intro) and self.guard.allowed(piece)
                if not allowed:
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
            quote = self.guard.clean(quote)[0] or _excerpt(
                self.guard.clean(prompt.sources[0].text)[0], self.config.excerpt_chars
            )
            used = used if quote else []
            top = prompt.sources[used[0]] if used else prompt.sources[0]
            heading = self.messages.get("from_source", language, title=self._title(top))
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
        text = self.messages.get("from_source", language, title=self._title(top))
        text = f"{text}\n{_excerpt(self.guard.clean(top.text)[0], self.config.excerpt_chars)}"
        meta = {"extractive": True, "grounding": f"quoted ({why})"}
        return _composed(text, decision, session, language, [top], sources, meta)

    def _declined(self, session: Session, language: str, screened: Screened) -> Reply:
        """The answer to a message that only tries to instruct the bot (not a failure)."""
        text = self.messages.get("decline", language)
        reply = Reply(text, "dont_know", 0.0, session.id, language)
        reply.meta["guard"] = screened.findings
        return reply

    def _title(self, hit: Hit, title: str | None = None) -> str:
        """A source's title as a reply may say it (screened at indexing, unless the store
        keeps such text: then a title addressed to the assistant is not said)."""
        title = title or hit.title
        return title if self.guard.allowed(title) else hit.doc_id

    def _history(self, turns: list[Turn]) -> list[tuple[str, str]]:
        """Earlier turns for the prompt, without what a customer addressed to the bot."""
        history = []
        for turn in turns:
            if turn.role == "user":
                screened = self.guard.screen(turn.text)
                text = "" if screened.declined else screened.text
            else:
                text = self.guard.clean(turn.text)[0]
            if text:
                history.append((turn.role, text))
        return history

    # ------------------------------------------------------------------ helpers
    def _own_words(
        self, key: str, action: Action, session: Session, language: str, reason: str
    ) -> Reply:
        """A reply that is one of the bot's own texts (``bot.messages``), not an answer."""
        confidence = 1.0 if action == "smalltalk" else 0.0
        text = self.messages.get(key, language)
        return Reply(text, action, confidence, session.id, language, meta={"reason": reason})

    def _default_language(self, message: IncomingMessage) -> str:
        """The language of a message that shows none: the channel's (``meta["language"]``,
        e.g. Chinese on WeChat) when the bot has texts in it, else English."""
        wanted = message.meta.get("language")
        return wanted if isinstance(wanted, str) and wanted in self.messages.table else "en"

    def _validate(self, text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty: send the customer's text")
        if any("\ud800" <= c <= "\udfff" for c in text):  # no model's tokenizer takes these
            raise ValueError("the message holds a lone UTF-16 surrogate: send valid Unicode")
        if len(text) > self.config.max_message_chars:
            raise ValueError(
                f"the message has {len(text)} characters, more than the limit of "
                f"{self.config.max_message_chars} (bot.max_message_chars)"
            )
        return text.strip()

    def _finish(self, session: Session, user_turn: Turn, reply: Reply, started: float) -> None:
        """Store the answer; a customer's turn stored before it (pending) is marked answered
        in the same transaction."""
        reply.meta["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        stored = user_turn.id is not None
        mark_answered(user_turn)
        turns = [] if stored else [user_turn]
        if not reply.silent:
            turns.append(
                Turn(
                    "assistant",
                    self.redact(reply.text, session),
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
            if stored and session.turns[-1] is not user_turn:  # others came in between
                turns[-1].meta[REPLY_TO] = user_turn.meta.get("message_id")
        redact = partial(self.redact, session=session)  # metadata too, whoever put it there
        state = {k: v for k, v in session.meta.items() if k not in (META_KEY, ADDRESS)}
        session.meta.update(redact_tree(state, redact))  # (redacting may number a placeholder)
        for turn in turns:
            turn.meta = redact_tree(turn.meta, redact, skip=("message_id", REPLY_TO))
        self.sessions.append(session, *turns, updated=[user_turn] if stored else [])

    def _interrupted(self, session: Session, user_turn: Turn) -> None:
        """The answer failed or was abandoned: say so on the stored turn (best effort)."""
        mark_interrupted(user_turn)
        try:
            self.sessions.append(session, updated=[user_turn])
        except Exception:  # the store itself may be what failed
            log.warning("could not mark the turn of session %s interrupted", session.id)


def asked_something(session: Session) -> bool:
    """Whether the bot's last reply asked the customer something: a clarifying question,
    or a don't-know that offers a person."""
    last = next((t for t in reversed(session.turns) if t.role == "assistant"), None)
    return last is not None and last.action in ("clarify", "dont_know")


def _position(turns: list[Turn], turn: Turn | None) -> int:
    """Where ``turn`` is in ``turns`` (by identity), or the end when it is None."""
    return next((i for i, t in enumerate(turns) if t is turn), len(turns))


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

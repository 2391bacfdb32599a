"""Shopping requests in a conversation: which messages are one (and which are questions
about the store's service), follow-ups that refine the last recommendation ("cheaper?",
"in women's?", "更便宜的呢"), the shopper's history from the session and ``meta.profile``,
and the Reply with product cards that the engine sends.

A message is a shopping request by rule and evidence: a request verb or a price limit,
together with something the catalogue has (a product noun, a product line, a category, a
yes/no attribute) or with the retrieval's top hits being products; a question about the
store's service (returns, delivery, sizes, payment...) is not one unless it asks outright
for a recommendation. An FAQ entry the policy is confident about keeps its answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from bot.commerce.constraints import Constraints
from bot.commerce.history import History
from bot.commerce.reasons import reply_text
from bot.commerce.recommend import Recommendation, Recommender
from bot.types import ProductCard, Reply
from knowledge.text import CJK_RUN, normalize, tokenize

if TYPE_CHECKING:
    from bot.policy import Decision
    from bot.sessions import Session

log = logging.getLogger(__name__)

EXPLICIT = re.compile(r"\b(recommend\w*|suggest\w*)\b|推荐|介绍一款|有什么好的", re.I)
STRONG = re.compile(
    r"\b(looking for|shopping for|in the market for|gift (?:for|ideas?)|presents? for|"
    r"what should i (?:buy|get|take|wear|bring)|what (?:would|do) you suggest|"
    r"i(?:'d| would)? (?:like|need|want) (?:a|an|some|new|something|one|to buy)|"
    r"(?:something|anything) (?:like|for|to|that|similar|lighter|cheaper|warmer)|"
    r"best \w+(?: \w+)? for|which \w+(?: \w+)? should i (?:buy|get)|want to buy)\b"
    r"|想买|想要|我要买|买一|买个|买件|买双|买款|买什么|送给|送女|送男|送朋友|送人|礼物|适合.{0,8}的",
    re.I,
)
WEAK = re.compile(
    r"\b(do (?:you|u) (?:guys )?(?:have|sell|carry|stock|make)|have you got|got any|"
    r"is there an?|are there any|show me|any)\b|有没有|有.{1,12}吗|卖.{0,8}吗",
    re.I,
)
#: the store's service (orders, delivery, returns, payment, accounts, care, sizing advice)
#: and what is said about a product (reviews, specs): asked about, not shopped for
SERVICE = re.compile(
    r"\b(return\w*|refund\w*|exchang\w*|cancel\w*|track\w*|orders?|ordered|deliver\w*|"
    r"shipping|ships?|shipped|warrant\w*|guarantee|repair\w*|broke|broken|damaged|defect\w*|"
    r"arriv\w*|package|parcel|invoice|receipt|password|account|log ?in|size (?:chart|guide)|"
    r"sizing|between sizes|what size|sizes run|runs? (?:small|large|big)|wash\w*|clean\w*|"
    r"care|reproof\w*|points|rewards?|loyalty|discount\w*|coupon\w*|promo\w*|voucher|"
    r"gift ?cards?|gift wrap\w*|wrapping|gift message|bulk|corporate|wholesale|logo|"
    r"price match\w*|pickup|pick up|showroom|physical store|contact|phone number|email|"
    r"newsletter|customs|duties|vat|tax|payment|pay|paypal|charged?|instructions|set ?up|"
    r"pitch\w*|restock\w*|back in stock|notify|pre-?order|reviews?|ratings?|manuals?|specs?|"
    r"details|info|information)\b"
    r"|退|换货|换个|换尺码|取消|物流|快递|发货|运费|包邮|保修|质保|发票|积分|客服|地址|订单|尺码|鞋码|"
    r"怎么洗|机洗|礼品卡|优惠|折扣|付款|支付|关税|清关|会员|包裹",
    re.I,
)
#: a question about the products just shown, not a new request ("is it waterproof?")
PRODUCT_QUESTION = re.compile(
    r"^\s*(is|are|does|do|can|will|how|when|where|why|what(?:'s| is| are))\s+"
    r"(it|they|this|that|these|those|the)\b|^(它|这个|这款|那个|那款).{0,6}(吗|呢|？|\?)",
    re.I,
)
MORE = re.compile(
    r"\b(more|others?|other options|something else|anything else|what else|else)\b|"
    r"还有|别的|其他|其它|换一批|再来",
    re.I,
)
#: a follow-up is short; longer messages are requests (or questions) of their own
FOLLOW_UP_WORDS = 8
FOLLOW_UP_CJK = 16
#: purchase verbs next to a product line the shopper names ("I bought the Talus")
OWNED = re.compile(
    r"\b(?:i|we)\s+(?:already\s+|just\s+|recently\s+)?(?:bought|ordered|purchased|own|have|got|"
    r"had)\b|\bmy\b|我买了|我买过|我有|入手",
    re.I,
)


def _productish(c: Constraints) -> bool:
    return bool(
        c.nouns
        or c.lines
        or c.categories
        or c.flags
        or c.colours
        or c.missing
        or c.reference
        or c.gift
        or c.weight_max_g
    )


def _priced(c: Constraints) -> bool:
    return c.price_min is not None or c.price_max is not None


#: an FAQ hit this close to the message is the message's own question (see same_question)
SAME_QUESTION = 0.9


def is_shopping_request(
    text: str,
    c: Constraints,
    decision: Decision | None = None,
    *,
    same_question: float = SAME_QUESTION,
) -> bool:
    """Whether ``text`` (parsed as ``c``) asks for products rather than about the store's
    service; ``decision`` is the answer policy's: an FAQ entry with a wording at least
    ``same_question`` close keeps its answer, and its hits are the evidence for a "do you
    have ..." question that names nothing the catalogue has."""
    plain = normalize(text)
    explicit = bool(EXPLICIT.search(plain))
    if SERVICE.search(plain) and not explicit:
        return False
    top = decision.hits[0] if decision is not None and decision.hits else None
    if (
        top is not None
        and decision.action == "answer_faq"
        and top.matched_kind == "question"
        and top.dense_score >= same_question
        and not explicit
    ):
        return False  # one of the store's own FAQ questions, asked as the store wrote it
    strong = explicit or bool(STRONG.search(plain))
    limited = _priced(c) or bool(c.weight_max_g or c.size or c.colours)
    if strong or (limited and (_productish(c) or WEAK.search(plain))):
        return True
    if _names_a_product(plain, c):
        return True  # "a fleece jacket", "waterproof jackets?"
    if _priced(c) and not tokenize(c.query):
        return True  # "under $50?"
    if not WEAK.search(plain):
        return False
    if c.nouns or c.lines or c.categories or c.missing or c.flags:
        return True
    hits = decision.hits[:3] if decision is not None else []
    return bool(hits) and sum(h.kind == "product" for h in hits) >= 2


#: a message that opens with a question word asks about something, one that opens with
#: "and", "for"... continues the question before it ("and for shoes?")
QUESTION_WORD = re.compile(
    r"^\s*(how|what|what's|whats|when|where|why|which|who|is|are|does|do|did|can|could|will|"
    r"would|should|shall|may|and|also|or|for|same|but)\b",
    re.I,
)
BARE_WORDS = 6


def _names_a_product(plain: str, c: Constraints) -> bool:
    """A short message that is only a product's description, ending in one of the
    catalogue's product nouns ("a fleece jacket", "warm sleeping bags")."""
    words = re.findall(r"[a-z0-9'-]+", plain)
    if not c.nouns or not words or len(words) > BARE_WORDS:
        return False
    # a clause that asks something makes it a question ("my boots leak, is that covered?")
    if any(QUESTION_WORD.search(clause) for clause in re.split(r"[,;:]", plain)):
        return False
    last = tokenize(words[-1])
    return bool(last) and last[-1] in c.nouns


def is_refinement(text: str, c: Constraints) -> bool:
    """Whether ``text`` narrows the recommendation just given ("cheaper?", "in women's?",
    "any in black?", "更便宜的呢", "show me others") rather than asking something new."""
    plain = normalize(text)
    size = len(CJK_RUN.findall(plain)) and sum(len(r) for r in CJK_RUN.findall(plain))
    if len(plain.split()) > FOLLOW_UP_WORDS or size > FOLLOW_UP_CJK:
        return False
    if SERVICE.search(plain) or PRODUCT_QUESTION.search(plain):
        return False
    changes = (
        c.relative
        or c.gender
        or _priced(c)
        or c.flags
        or c.colours
        or c.size
        or c.weight_max_g
        or c.nouns
        or c.lines
        or c.include_out_of_stock
    )
    return bool(changes or MORE.search(plain))


class ShoppingSkill:
    """The engine's hook: ``reply`` answers a shopping request or a refinement with
    recommendations, and returns None for everything else (the policy answers it)."""

    def __init__(
        self,
        recommender: Recommender,
        *,
        messages: Mapping[str, Mapping[str, str]] | None = None,
        paraphrase_close: float | None = None,
    ) -> None:
        """``paraphrase_close``: the store's calibrated similarity of two wordings of one
        question; an FAQ wording halfway from it to identical is the message's own."""
        self.recommender = recommender
        self.messages = messages or {}
        self.same_question = (1 + paraphrase_close) / 2 if paraphrase_close else SAME_QUESTION

    def reply(
        self,
        text: str,
        session: Session,
        language: str,
        *,
        meta: Mapping[str, Any] | None = None,
        decision: Decision | None = None,
    ) -> Reply | None:
        if not len(self.recommender.catalogue):
            return None  # a store without products recommends nothing
        parsed = self.recommender.parse(text)
        state = session.meta.get("recommend")
        state = state if isinstance(state, dict) else {}
        follow_up = (
            bool(state.get("constraints"))
            and _last_was_recommend(session)
            and (is_refinement(text, parsed))
        )
        if not follow_up and not is_shopping_request(
            text, parsed, decision, same_question=self.same_question
        ):
            return None
        history = self.history(session, (meta or {}).get("profile"), text)
        anchor, exclude = None, ()
        if follow_up:
            before = Constraints.from_json(state["constraints"])
            constraints = before.refined(parsed)
            shown = [str(s) for s in state.get("shown", [])]
            anchor = shown[0] if shown else None
            if MORE.search(normalize(text)):
                exclude = shown
        else:
            constraints = parsed
        result = self.recommender.recommend(
            constraints, history=history, anchor=anchor, exclude=exclude, language=language
        )
        session.meta["recommend"] = {
            "constraints": result.constraints.to_json(),
            "shown": [p.item.doc_id for p in result.picks],
            "profile": history.to_json(),
        }
        session.failures = 0
        reply = Reply(
            reply_text(result, language, self.messages),
            "recommend",
            result.confidence,
            session.id,
            language,
            products=cards(result),
        )
        reply.meta["reason"] = "refinement" if follow_up else "shopping request"
        stated = asdict(result.constraints).items()
        reply.meta["constraints"] = {k: v for k, v in stated if v not in (None, "", [], {}, False)}
        return reply

    def history(self, session: Session, profile: Any, text: str = "") -> History:
        """The channel's profile (this message's, then the one kept from earlier turns),
        and the products the shopper named in the conversation ("I bought the Talus")."""
        catalogue = self.recommender.catalogue
        given, unknown = History.from_profile(profile, catalogue)
        if unknown:
            log.info("meta.profile names products the catalogue does not have: %s", unknown[:5])
        state = session.meta.get("recommend")
        kept = History.from_json(state.get("profile") if isinstance(state, dict) else None)
        history = kept.merged(given)
        turns = session.turns
        if turns and turns[-1].role == "user":
            turns = turns[:-1]  # this message, stored before it is answered
        said = [(t.text, True) for t in turns if t.role == "user"] + [(text, False)]
        for turn, earlier in said:
            tokens = set(tokenize(turn))
            for line in tokens & set(catalogue.lines):
                doc_ids = sorted(catalogue.lines[line])
                kind = "bought" if OWNED.search(turn) else "mentioned"
                if kind == "mentioned" and not earlier:
                    continue  # the product this message asks about is the request itself
                target = getattr(history, kind)
                for doc_id in doc_ids[:1]:
                    if doc_id not in history.bought and doc_id not in target:
                        target.append(doc_id)
        return history


def _last_was_recommend(session: Session) -> bool:
    for turn in reversed(session.turns):
        if turn.role == "assistant":
            return turn.action == "recommend"
    return False


def cards(result: Recommendation) -> list[ProductCard]:
    """The picks as product cards (title, price, link, image, stock, reason)."""
    out = []
    for pick in result.picks:
        product = pick.item.product
        out.append(
            ProductCard(
                sku=product.sku,
                title=pick.item.short_title,
                price=product.price,
                currency=product.currency,
                url=product.url or None,
                in_stock=product.in_stock,
                image=product.image or None,
                reason=pick.reason,
            )
        )
    return out

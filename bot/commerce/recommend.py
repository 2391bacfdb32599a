"""Product recommendations: the request's constraints as filters, the rest ranked by the
retriever's similarity (dense + lexical) to the request and to the shopper's history,
kept to the activity the shopper is shopping for (the one the request names, else the
history's: no belay device for a runner's race; see ``Catalogue.activities``),
near-duplicates collapsed, and a reason for each pick built from the product's own data.

    recommender = Recommender(kb.retriever())
    result = recommender.recommend("a waterproof jacket under $150",
                                   history=History(bought=["KR-FTW-005"]))
    result.picks[0].item.title, result.picks[0].reason
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from bot.commerce.catalogue import Catalogue, Item, size_fits
from bot.commerce.constraints import Constraints, object_word, parse
from bot.commerce.history import HISTORY_KEYS, MAX_HISTORY, History
from bot.commerce.reasons import reason_for
from knowledge.retriever import HybridRetriever
from knowledge.text import normalize, tokenize

log = logging.getLogger(__name__)

#: how much each kind of history counts in the ranking, against the request's own words
HISTORY_WEIGHTS = {"bought": 0.6, "viewed": 0.4, "mentioned": 0.3}
#: a product the request refers to ("like the boots I bought") counts fully
REFERENCE_WEIGHT = 1.0
#: candidates ranked by similarity after the filters
MAX_CANDIDATES = 200
#: a pick scores at least this share of the best pick's score (no filler after the good ones)
RELEVANT_SHARE = 0.4
#: ... but a few are shown whenever that many meet the request's constraints
MIN_PICKS = 3
#: diversity: score taken off per pick already chosen from the same category / product noun
SAME_CATEGORY_PENALTY = 0.05
SAME_NOUN_PENALTY = 0.08
KIDS_PENALTY = 0.15
CATEGORY_BOOST = 0.1
#: a product for another activity than the request's (or, when it names none, the
#: history's): climbing gear for a runner's race
ACTIVITY_PENALTY = 0.3
#: ... and one for the same activity (the soft flask for the runner's race)
ACTIVITY_BOOST = 0.15
#: product nouns whose best matches set the scale of a good match (see Recommender.typical)
TYPICAL_NOUNS = 16
NOISE_SHARE = 0.5
MIN_QUERY_WEIGHT = 0.1


@dataclass
class Pick:
    item: Item
    score: float
    reason: str
    relevance: float = 0.0  # similarity to the request's own words (dense)


@dataclass
class Recommendation:
    """The picks for one request and what the reply should say about how they were found."""

    constraints: Constraints
    picks: list[Pick]
    #: products the request refers to ("the boots I bought")
    references: list[Item] = field(default_factory=list)
    #: matching products left out because they are sold out (best first)
    sold_out: list[Item] = field(default_factory=list)
    #: the request's currency differs from the catalogue's: no price filter was applied
    currency_unmatched: bool = False
    #: constraints given up because nothing matched them all ("nouns", "attributes")
    relaxed: list[str] = field(default_factory=list)
    #: the request referred to past purchases but no history was given
    no_history: bool = False
    catalogue_currency: str = ""
    anchor: Item | None = None  # what "cheaper" / "lighter" compares with
    categories: list[str] = field(default_factory=list)  # the catalogue's, for "our range"

    #: the relevance of a good match in this catalogue (Recommender.typical)
    typical: float = 0.5

    @property
    def confidence(self) -> float:
        """How well the best pick matches the request's words, against a good match in this
        catalogue (1.0: as close as a product noun to its product); 0 without picks."""
        if not self.picks:
            return 0.0
        if not self.constraints.query.strip() or self.typical <= 0:
            return 0.5
        best = max(p.relevance for p in self.picks)
        return round(max(0.0, min(1.0, best / self.typical)), 4)


class Recommender:
    """Recommends products of the retriever's index (see the module doc)."""

    def __init__(self, retriever: HybridRetriever, *, max_picks: int = 5) -> None:
        if max_picks <= 0:
            raise ValueError(f"max_picks must be a positive number of products, got {max_picks}")
        self.retriever = retriever
        self.max_picks = max_picks

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.retriever.index.chunks)

    def parse(self, text: str) -> Constraints:
        """The constraints of ``text``; a thing an English request names that the catalogue
        neither has a word for nor comes close to ("recommend headphones") is ``missing``."""
        c = parse(text, self.catalogue)
        if c.nouns or c.lines or c.categories or c.missing:
            return c
        word = object_word(text)
        if word and not any(t in self.catalogue.vocabulary for t in tokenize(word)):
            hits = self.retriever.query(word, k=1, filters={"kind": "product"}).hits
            if not hits or hits[0].dense_score < NOISE_SHARE * self.typical:
                c.missing = [word]
        return c

    # ------------------------------------------------------------------ ranking
    def recommend(
        self,
        request: str | Constraints,
        *,
        history: History | None = None,
        anchor: str | None = None,
        exclude: Iterable[str] = (),
        language: str = "en",
    ) -> Recommendation:
        """Picks for ``request`` (text, or constraints already parsed and refined).

        ``anchor``: the doc id "cheaper" or "lighter" compares with when the request names no
        product (the top pick of the recommendation a follow-up refines); ``exclude``: doc
        ids not to recommend again, nor their other versions ("show me others").
        """
        c = request if isinstance(request, Constraints) else self.parse(request)
        history = history or History()
        catalogue = self.catalogue
        result = Recommendation(
            c,
            [],
            catalogue_currency=catalogue.currency,
            categories=catalogue.category_names,
            typical=self.typical,
        )
        result.references = self._references(c, history)
        result.no_history = bool(
            c.reference and c.reference.get("verb") == "bought" and not result.references
        )
        result.anchor = (
            result.references[0] if result.references else catalogue.by_doc.get(anchor or "")
        )
        # what the shopper has (and its other versions) is not recommended again
        owned = [catalogue.by_doc[d] for d in history.bought if d in catalogue.by_doc]
        stems = {i.stem for i in [*owned, *result.references]}
        stems |= {catalogue.by_doc[d].stem for d in exclude if d in catalogue.by_doc}
        left_out = set(exclude) | set(history.bought)
        left_out |= {i.doc_id for i in catalogue.items if i.stem in stems}
        if c.currency and catalogue.currency and c.currency != catalogue.currency:
            result.currency_unmatched = True
        pool = [i for i in catalogue.items if i.doc_id not in left_out]
        candidates = self._filtered(pool, c, result)
        if not candidates and (c.colours or c.size):
            # what the product is and does, its price and who it is for stay; colour and
            # size give way (they are often a matter of the variant in stock)
            result.relaxed.append("attributes")
            candidates = self._filtered(pool, c, result)
            if not candidates:
                result.relaxed.clear()
        if not candidates:
            if not c.include_out_of_stock:
                result.sold_out = self._sold_out(pool, c, result, [])
            return result
        scored = self._scored(candidates, c, history, result)
        result.picks = self._diverse(scored, c, history, result, language)
        if not c.include_out_of_stock:
            result.sold_out = self._sold_out(pool, c, result, scored)
        return result

    def _references(self, c: Constraints, history: History) -> list[Item]:
        """The products "like the boots I bought" points at: history products whose title
        or category has the words, else (for a named product line) the catalogue's."""
        if not c.reference:
            return []
        words = set(c.reference.get("words") or [])
        by_doc = self.catalogue.by_doc
        kinds = ["bought"] if c.reference.get("verb") == "bought" else list(HISTORY_KEYS)
        found: list[Item] = []
        for kind in [*kinds, *(k for k in HISTORY_KEYS if k not in kinds)]:
            for doc_id in reversed(getattr(history, kind)):
                item = by_doc.get(doc_id)
                if item and (not words or words & (item.words | item.nouns)) and item not in found:
                    found.append(item)
            if found:
                return found[:MAX_HISTORY]
        lines = words & set(self.catalogue.lines)
        if lines:
            return [
                i
                for i in self.catalogue.items
                if i.doc_id in self.catalogue.lines[sorted(lines)[0]]
            ][:MAX_HISTORY]
        return []

    def _filtered(self, pool: list[Item], c: Constraints, result: Recommendation) -> list[Item]:
        relaxed = set(result.relaxed)
        out = []
        for item in pool:
            if not c.include_out_of_stock and not item.product.in_stock:
                continue
            if not self._fits(item, c, result, relaxed):
                continue
            out.append(item)
        if c.lines and "nouns" not in relaxed:
            named = [i for i in out if set(tokenize(i.stem)) & set(c.lines)]
            out = named or out
        return out

    def _fits(self, item: Item, c: Constraints, result: Recommendation, relaxed: set[str]) -> bool:
        """Whether ``item`` meets the hard constraints (price, gender, attributes, noun and
        comparisons with the anchor); stock is checked by the caller."""
        product = item.product
        if not result.currency_unmatched and not item.price_fits(c.price_min, c.price_max):
            return False
        if c.gender and c.gender != "unisex" and item.gender not in (None, "unisex", c.gender):
            return False
        for key, wanted in c.flags.items():
            # "waterproof" only where the catalogue says so; "not waterproof" excludes only
            # what it says is
            if item.flags.get(key) is not True if wanted else item.flags.get(key) is True:
                return False
        if "attributes" not in relaxed:
            if c.colours and not any(
                normalize(w) in normalize(colour) for w in c.colours for colour in item.colours
            ):
                return False
            if c.size and not size_fits(c.size, item.sizes):
                return False
        if c.weight_max_g is not None and (item.weight_g is None or item.weight_g > c.weight_max_g):
            return False
        if c.nouns and "nouns" not in relaxed and not (set(c.nouns) & (item.nouns | item.words)):
            return False  # a jacket, or in the jackets category (a shell); see _scored
        if (
            result.references
            and not c.nouns
            and "nouns" not in relaxed
            and not any(r.product.category == product.category for r in result.references)
        ):
            return False  # "something like the boots I bought": of the boots' kind
        anchor = result.anchor
        if anchor is not None:
            if (
                "lighter" in c.relative
                and anchor.weight_g is not None
                and (item.weight_g is None or item.weight_g >= anchor.weight_g)
            ):
                return False
            if (
                "heavier" in c.relative
                and anchor.weight_g is not None
                and (item.weight_g is None or item.weight_g <= anchor.weight_g)
            ):
                return False
            a_price = anchor.product.price
            if (
                "cheaper" in c.relative
                and a_price is not None
                and (product.price is None or product.price >= a_price)
            ):
                return False
            if (
                "pricier" in c.relative
                and a_price is not None
                and (product.price is None or product.price <= a_price)
            ):
                return False
        return True

    def _similarity(self, text: str, items: list[Item], *, dense_only: bool = False) -> dict:
        """doc id -> (fused score, dense score) of ``text`` against ``items``."""
        if not text.strip() or not items:
            return {}
        found = self.retriever.query(
            text, k=len(items), filters={"doc_ids": [i.doc_id for i in items]}
        )
        return {
            h.doc_id: (h.dense_score if dense_only else h.score, h.dense_score) for h in found.hits
        }

    @cached_property
    def typical(self) -> float:
        """How close a product noun of this catalogue ("jacket", "tent") comes to its best
        product (median over the commonest nouns): the scale of a good match, measured on
        the store's own words rather than fixed for one embedding model."""
        nouns = sorted(self.catalogue.nouns, key=lambda n: -len(self.catalogue.nouns[n]))
        scores = []
        for noun in nouns[:TYPICAL_NOUNS]:
            hits = self.retriever.query(noun, k=1, filters={"kind": "product"}).hits
            if hits:
                scores.append(hits[0].dense_score)
        return float(np.median(scores)) if scores else 0.5

    def _scored(
        self, candidates: list[Item], c: Constraints, history: History, result: Recommendation
    ) -> list[tuple[float, float, Item]]:
        """(score, relevance, item) best first. The request's similarity and the history's
        count by how far each product stands out from the candidates' median (product texts
        are all somewhat alike), the request's scaled by how well it is matched at all."""
        query = c.query
        if len(candidates) > MAX_CANDIDATES:  # the request's best matches only
            sims = self._similarity(query or "product", candidates)
            candidates = sorted(candidates, key=lambda i: -sims.get(i.doc_id, (0.0, 0.0))[0])
            candidates = candidates[:MAX_CANDIDATES]
        sims = self._similarity(query, candidates)
        query_part = _standout({d: s for d, (s, _) in sims.items()})
        best = max((dense for _, dense in sims.values()), default=0.0)
        # below half a good match the request's words are noise ("my next race"): the
        # history ranks then, the words only break ties
        noise = NOISE_SHARE * self.typical
        query_weight = min(1.0, max(MIN_QUERY_WEIGHT, (best - noise) / (self.typical - noise)))
        refs = [(r.doc_id, REFERENCE_WEIGHT) for r in result.references]
        if not refs:
            refs = [(d, HISTORY_WEIGHTS[k]) for d, k in history.weighted()]
        history_parts = []
        for doc_id, weight in refs:
            ref = self.catalogue.by_doc.get(doc_id)
            if ref is not None:
                # its name and description: the attribute lines make every product alike
                sim = self._similarity(f"{ref.short_title}. {ref.product.description}", candidates)
                history_parts.append((weight, _standout({d: s for d, (s, _) in sim.items()})))
        history_gender = self._history_gender(history, result)
        activities = self._activities(c, history, result)
        own_of = self.catalogue.item_activities
        implied_of = self.catalogue.implied_activities
        prices = sorted(i.product.price or 0.0 for i in candidates)
        weights = sorted(i.weight_g for i in candidates if i.weight_g is not None)
        out = []
        for item in candidates:
            relevance = sims.get(item.doc_id, (0.0, 0.0))[1]
            score = query_weight * query_part.get(item.doc_id, 0.0)
            if history_parts:
                score += max(w * part.get(item.doc_id, 0.0) for w, part in history_parts)
            if item.product.category in c.categories:
                score += CATEGORY_BOOST
            if c.nouns and not set(c.nouns) & item.nouns:
                score -= CATEGORY_BOOST  # in the category, but named otherwise (a footprint)
            if activities and (implied := implied_of.get(item.doc_id)):
                if own_of[item.doc_id] & activities:
                    score += ACTIVITY_BOOST  # its own words say it is for that
                elif not implied & activities:
                    score -= ACTIVITY_PENALTY  # for something the shopper is not doing
            wanted = c.gender or history_gender
            if item.gender == "kids" and wanted != "kids":
                score -= KIDS_PENALTY
            elif (
                not c.gender
                and history_gender
                and item.gender not in (None, "unisex", history_gender)
            ):
                score -= KIDS_PENALTY / 2
            if "cheaper" in c.relative and prices and result.anchor is None:
                score += 0.2 * (1 - _rank(item.product.price or 0.0, prices))
            if "lighter" in c.relative and weights and item.weight_g is not None:
                score += 0.2 * (1 - _rank(item.weight_g, weights))
            out.append((score, relevance, item))
        out.sort(key=lambda t: -t[0])
        return out

    def _activities(
        self, c: Constraints, history: History, result: Recommendation
    ) -> frozenset[str]:
        """What the shopper is shopping for: the activities the request names ("for a
        runner"), else those of the products it refers to or of the history (the running
        shoes they bought); empty when neither says."""
        if c.activities:
            return frozenset(c.activities)
        of = self.catalogue.implied_activities
        docs = [r.doc_id for r in result.references] or [d for d, _ in history.weighted()]
        return frozenset(a for d in docs for a in of.get(d, ()))

    def _history_gender(self, history: History, result: Recommendation) -> str | None:
        """Who the shopper's own products are for, when they agree (men, women or kids)."""
        items = [self.catalogue.by_doc.get(d) for d, _ in history.weighted()]
        items += result.references
        genders = {i.gender for i in items if i and i.gender not in (None, "unisex")}
        return genders.pop() if len(genders) == 1 else None

    def _diverse(
        self,
        scored: list[tuple[float, float, Item]],
        c: Constraints,
        history: History,
        result: Recommendation,
        language: str,
    ) -> list[Pick]:
        """The best of each near-duplicate group (men's / women's / colours of one item),
        then picked greedily with a penalty for categories and nouns already picked."""
        groups: dict[str, tuple[float, float, Item]] = {}
        for entry in scored:
            groups.setdefault(entry[2].stem, entry)
        remaining = list(groups.values())
        chosen: list[tuple[float, float, Item]] = []
        while remaining and len(chosen) < self.max_picks:

            def adjusted(entry: tuple[float, float, Item]) -> float:
                item = entry[2]
                category = item.product.category
                same_cat = sum(1 for _, _, p in chosen if p.product.category == category)
                same_noun = sum(1 for _, _, p in chosen if p.nouns & item.nouns)
                return entry[0] - SAME_CATEGORY_PENALTY * same_cat - SAME_NOUN_PENALTY * same_noun

            best = max(remaining, key=adjusted)
            remaining.remove(best)
            chosen.append((adjusted(best), best[1], best[2]))
        if not chosen:
            return []
        top = chosen[0][0]
        kept = [
            e
            for i, e in enumerate(chosen)
            if i < MIN_PICKS or top <= 0 or e[0] >= RELEVANT_SHARE * top
        ]
        by_doc = self.catalogue.by_doc
        history_items = [(by_doc[d], k) for d, k in history.weighted() if d in by_doc]
        return [
            Pick(
                item,
                round(score, 4),
                reason_for(item, c, result, history_items, language=language),
                round(relevance, 4),
            )
            for score, relevance, item in kept
        ]

    def _sold_out(
        self,
        pool: list[Item],
        c: Constraints,
        result: Recommendation,
        scored: list[tuple[float, float, Item]],
    ) -> list[Item]:
        """Sold-out products that meet every constraint and are another version of a pick
        or match the request at least as well as the picks do."""
        relaxed = set(result.relaxed)
        out = [i for i in pool if not i.product.in_stock and self._fits(i, c, result, relaxed)]
        if not out:
            return []
        if not result.picks:  # nothing in stock: the sold-out matches are the news
            sims = self._similarity(c.query, out) if c.query else {}
            ranked = sorted(out, key=lambda i: -sims.get(i.doc_id, (0.0, 0.0))[0])
            return ranked[:2]
        stems = {p.item.stem for p in result.picks}
        best = max(p.relevance for p in result.picks)
        sims = self._similarity(c.query, out) if c.query else {}
        kept = [
            (sims.get(i.doc_id, (0.0, 0.0))[1], i)
            for i in out
            if i.stem in stems or (c.query and sims.get(i.doc_id, (0.0, 0.0))[1] >= best)
        ]
        return [i for _, i in sorted(kept, key=lambda t: -t[0])][:2]


def _standout(scores: dict[str, float]) -> dict[str, float]:
    """Each score as how far it stands above the lower quartile, the best being 1 (0 at or
    below the quartile)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=float)
    base, top = float(np.percentile(values, 25)), float(values.max())
    if top - base <= 1e-9:
        return {d: 0.0 for d in scores}
    return {d: max(0.0, (s - base) / (top - base)) for d, s in scores.items()}


def _rank(value: float, ordered: list[float]) -> float:
    """Where ``value`` falls in ``ordered`` (0 = lowest, 1 = highest)."""
    if len(ordered) <= 1:
        return 0.0
    below = sum(1 for v in ordered if v < value)
    return below / (len(ordered) - 1)

"""Language-aware text helpers: tokenisation for the lexical index, language detection.

English (and other Latin-script text) is split into lower-cased words with a small stop-word
list and a light suffix stemmer; runs of CJK characters are cut with jieba and also into
character bigrams. The same function
tokenises documents and queries, so they always agree.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Words that carry no topic; kept short on purpose: question words ("how", "when") stay in,
# BM25 idf discounts them, and negations ("not received") matter to support questions.
EN_STOP = frozenset(
    """a an the and or of to in on at for with by from is are was were be been being am do
    does did i me my we our you your it its this that these those there here can could would
    should will shall may might must have has had as if so than then too very just about
    into over please hi hello thanks thank""".split()
)
# Chinese particles and pronouns that jieba keeps as tokens but that say nothing about
# the topic (modal verbs such as "可以" stay: they are part of the bigrams below anyway).
ZH_STOP = frozenset(
    "的 了 吗 呢 吧 啊 呀 嘛 哦 是 我 你 您 们 在 和 与 及 也 都 就 请 一下 这 那 么 个".split()
)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def jieba_words(run: str) -> list[str]:
    """A run of CJK characters cut into words by jieba, particles and pronouns left out."""
    return [w for w in _jieba().lcut(normalize(run), HMM=False) if w not in ZH_STOP]


def _stem(word: str) -> str:
    """A light English stemmer: enough to match 'returns'/'return', 'shipping'/'ship'."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + keep
            if suffix in ("ing", "ed") and len(stem) > 2 and stem[-1] == stem[-2]:
                stem = stem[:-1]  # shipping -> shipp -> ship
            if suffix == "es" and not stem.endswith(("s", "x", "z", "ch", "sh")):
                stem = word[:-1]  # "prices" -> "price", but "boxes" -> "box"
            return stem
    return word


def normalize(text: str) -> str:
    """NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def tokenize(text: str) -> list[str]:
    """Tokens for the lexical index: stemmed English words and jieba-cut Chinese words."""
    text = normalize(text)
    tokens: list[str] = []
    pos = 0
    for match in CJK_RUN.finditer(text):
        tokens.extend(_latin_tokens(text[pos : match.start()]))
        run = match.group()
        tokens.extend(jieba_words(run))
        # character bigrams too (as Lucene's CJK analyzer does): they match across
        # segmentation differences ("可以退货" vs "可以 / 退货吗")
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        pos = match.end()
    tokens.extend(_latin_tokens(text[pos:]))
    return tokens


def _latin_tokens(text: str) -> list[str]:
    return [_stem(w.replace("'", "")) for w in WORD.findall(text) if w not in EN_STOP]


def detect_language(text: str, default: str = "en") -> str:
    """'zh' when CJK characters make up a fair share of the letters, else 'en'; ``default``
    when the text has no letters to tell by ("?", "12345", an emoji)."""
    cjk = sum(len(m.group()) for m in CJK_RUN.finditer(text))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if not cjk and not latin:
        return default
    return "zh" if cjk and cjk * 3 >= latin else "en"

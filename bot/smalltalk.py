"""Messages that are only social: a greeting, thanks, a goodbye, an acknowledgement.

"hi", "thanks!", "ok 👍" or "你好" are not questions about the store: searched as questions,
they found nothing and got "I'm sorry, I don't have information about that" (and two of
them in a row a handoff). A message that is *only* such words, in English or Chinese,
gets a short reply of the bot's own instead, which neither counts as a failure nor resets
the count. A message with anything else in it ("hi, where is my order?") is a question as
before. "yes", "no" and "sure" are never small talk: they answer the bot's own questions
("would you like me to connect you with a member of our team?"), and so does an
acknowledgement right after one (``Bot`` checks the conversation).
"""

from __future__ import annotations

import re

#: the kinds, strongest first: "ok thanks" is thanks, "thanks, bye" a goodbye
KINDS = ("goodbye", "thanks", "presence", "greeting", "ack")

# within a kind, longer wordings come first (the regex takes the first that matches)
_EN: dict[str, str] = {
    "greeting": r"how are (?:you|u)(?: doing)?(?: today)?|how'?s it going"
    r"|good (?:morning|afternoon|evening|day)|(?:hi|hello|hey) (?:there|all|team)"
    r"|hi+|hello+|hey+|hiya|howdy|yo|greetings|morning|evening",
    "thanks": r"thank you for (?:your|the) help|thanks for (?:your|the) help"
    r"|thank you(?: (?:so|very) much| again)?|thanks?(?: (?:a lot|so much|very much|again"
    r"|a bunch|a million))?|thx|tysm|ty|cheers|many thanks|much appreciated|appreciate it",
    "goodbye": r"have a (?:nice|good|great) (?:day|one|evening|weekend)|that'?s all|that is all"
    r"|bye bye|goodbye|good ?night|bye+|see you|see ya|cya|take care",
    "ack": r"sounds good|got it|all right|i see|will do|okay|okey|ok+|kk|k|cool|great|awesome"
    r"|nice|perfect|gotcha|alright|understood|noted|fine|good|ahh|ah|ohh|oh|wow|lol|sweet"
    r"|brilliant|lovely|excellent",
    "presence": r"(?:is |are )?(?:any ?one|any ?body) (?:there|here)|are you there"
    r"|are you (?:a bot|a robot|human|real)",
}
_ZH: dict[str, str] = {
    "greeting": r"你好吗|大家好|你好|您好|早上好|早安|上午好|中午好|下午好|晚上好|哈喽|哈啰|嗨|早",
    "thanks": r"非常感谢|十分感谢|谢谢你|谢谢您|谢谢啦|谢谢|谢啦|多谢|感谢|辛苦了|麻烦了",
    "goodbye": r"下次见|再见|拜拜|回见|晚安|没有了|没事了|就这些|拜",
    "ack": r"知道了|明白了|没问题|好的|好吧|好滴|嗯嗯|了解|收到|可以|好|嗯|哦|噢|行|ok",
    "presence": r"有人在吗|在不在|有人吗|在吗|你是机器人吗|是机器人吗|你是真人吗",
}
_UNITS = {
    kind: re.compile(rf"(?:{_EN[kind]})(?![a-z'])|(?:{_ZH[kind]})(?:[啊呀呢哈啦哦~]*)")
    for kind in KINDS
}
#: what may separate or surround the words: spaces, punctuation, emoji and other symbols
_FILLER = re.compile(r"[\s\W_]+", re.UNICODE)
#: longer than this, a message is not small talk whatever its words
MAX_CHARS = 60


def small_talk(text: str) -> str | None:
    """The kind of social message ``text`` is ("greeting", "thanks", "goodbye", "ack",
    "presence"), or None when it says anything else."""
    if len(text) > MAX_CHARS:
        return None
    rest = _FILLER.sub(" ", text.lower()).strip()
    if not rest:
        return None  # "?" or an emoji alone: nothing to go by
    found: set[str] = set()
    while rest:
        # the longest wording of any kind ("good morning" is a greeting, not "good" + ?)
        matches = [(m.end(), kind) for kind in KINDS if (m := _UNITS[kind].match(rest))]
        if not matches:
            return None  # a word that is not small talk: the message is a question
        end, kind = max(matches, key=lambda item: item[0])
        found.add(kind)
        rest = rest[end:].lstrip()
    return next(kind for kind in KINDS if kind in found)

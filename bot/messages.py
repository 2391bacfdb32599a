"""The bot's own words (handoff, don't-know, clarification), in the customer's language.

Config can override any of them per language (``bot.messages.zh.handoff: ...``).
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "handoff": "I'm connecting you with a member of our team. They'll reply here shortly.",
        "handoff_after_failures": (
            "I'm sorry I couldn't help with that. I'm passing your conversation to a member "
            "of our team, who will reply here shortly."
        ),
        "dont_know": (
            "I'm sorry, I don't have information about that. Could you rephrase your question, "
            "or would you like me to connect you with a member of our team?"
        ),
        "dont_know_no_agent": (
            "I'm sorry, I don't have information about that. Could you rephrase your question?"
        ),
        # a handoff nobody can take (bot.handoff.target: none): say so and how to reach us
        "no_agent": (
            "I'm sorry, there's no one from our team in this chat, so I can't pass you to a "
            "person here. To reach us: {contact} I'm still here if you have another question."
        ),
        "no_agent_after_failures": (
            "I'm sorry I couldn't help with that, and there's no one from our team in this "
            "chat to take over. To reach us: {contact} I'm still here if you have another "
            "question."
        ),
        "contact_unknown": "please use the contact details on our website.",
        "contact_query": "how can I contact customer service",
        "unknown_terms": "I couldn't find anything about {terms} in our store information.",
        "clarify": "Do you mean: {options}?",
        "clarify_joiner": " or ",
        "from_source": "From {title}:",
        # a message that only tries to instruct the bot ("ignore your instructions…")
        "decline": (
            "I can only help with questions about our store, our products and your orders. "
            "What would you like to know?"
        ),
        # before the store's own words, when a customer claims a promise made elsewhere
        "claim_note": (
            "I can't confirm promises or exceptions that aren't in our store's policies. "
            "Here is what our store information says:"
        ),
        "claim_unknown": (
            "I can't confirm promises or exceptions that aren't in our store's policies."
        ),
        # an image, voice message, location... from a channel that passes them on
        "media_unsupported": (
            "Sorry, I can only read text messages for now: please type your question."
        ),
        # a platform's customer sending faster than the rate limits allow
        "rate_limited": (
            "You're sending messages faster than I can answer. Please wait {seconds} seconds "
            "and try again."
        ),
        # a message that is only social (bot/smalltalk.py)
        "smalltalk_greeting": (
            "Hello! I can help with orders, shipping, returns and our products. "
            "What would you like to know?"
        ),
        "smalltalk_presence": "Yes, I'm here: the store's assistant. What can I help you with?",
        "smalltalk_thanks": "You're welcome! Is there anything else I can help with?",
        "smalltalk_goodbye": "Thanks for stopping by. Goodbye!",
        "smalltalk_ack": "Glad to help. Anything else you'd like to know?",
    },
    "zh": {
        "handoff": "正在为您转接人工客服，请稍候，客服会在这里回复您。",
        "handoff_after_failures": "抱歉没能解决您的问题，已为您转接人工客服，请稍候。",
        "dont_know": (
            "抱歉，我暂时没有这方面的信息。您可以换个说法再问一次，或者需要为您转接人工客服吗？"
        ),
        "dont_know_no_agent": "抱歉，我暂时没有这方面的信息。您可以换个说法再问一次。",
        "no_agent": (
            "抱歉，这个对话里目前没有客服人员，我无法为您转接人工。联系我们：{contact}"
            "如果还有其他问题，可以继续问我。"
        ),
        "no_agent_after_failures": (
            "抱歉没能解决您的问题，这个对话里目前也没有客服人员可以接手。联系我们：{contact}"
            "如果还有其他问题，可以继续问我。"
        ),
        "contact_unknown": "请通过我们网站上的联系方式与我们联系。",
        "contact_query": "怎么联系客服",
        "unknown_terms": "抱歉，在我们的店铺信息中没有找到关于{terms}的内容。",
        "clarify": "请问您是想了解：{options}？",
        "clarify_joiner": "，还是",
        "from_source": "根据《{title}》：",
        "decline": "我只能回答关于本店商品、订单和服务的问题。请问有什么可以帮您？",
        "claim_note": "我无法确认店铺政策以外的承诺或特例。以下是我们店铺信息中的说明：",
        "claim_unknown": "我无法确认店铺政策以外的承诺或特例。",
        "media_unsupported": "抱歉，我目前只能阅读文字消息，请用文字描述您的问题。",
        "rate_limited": "您发送消息太频繁了，请{seconds}秒后再试。",
        "smalltalk_greeting": (
            "您好！我可以回答订单、配送、退换货和商品方面的问题，请问有什么可以帮您？"
        ),
        "smalltalk_presence": "在的，我是店铺的在线助手。请问有什么可以帮您？",
        "smalltalk_thanks": "不客气！还有其他可以帮您的吗？",
        "smalltalk_goodbye": "感谢您的咨询，再见！",
        "smalltalk_ack": "好的。还有其他问题可以随时问我。",
    },
}


class Messages:
    """Looks up a canned text by language, falling back to English."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.table = {lang: dict(texts) for lang, texts in DEFAULT_MESSAGES.items()}
        for lang, texts in (overrides or {}).items():
            self.table.setdefault(lang, {}).update(texts)

    def get(self, key: str, language: str, **values: str) -> str:
        text = self.table.get(language, {}).get(key) or self.table["en"][key]
        return text.format(**values) if values else text

"""Stores whose FAQ has one question per entry (most real FAQ pages), with the real model.

No question variants to hold out: the policy is calibrated on the entries' answers and the
shipped background questions. The queries here are customers' rewordings written for these
tests, none of them in the FAQ or in the background set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig
from bot.engine import Bot
from bot.sessions import MemorySessionStore
from bot.types import IncomingMessage
from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig, SourceConfig
from knowledge.evidence import background_questions
from knowledge.kb import KnowledgeBase

ZH_FAQ = """id,question,answer
ship-time,下单后多久发货？,付款后24小时内发货，节假日顺延。
ship-fee,运费怎么算？,订单满99元包邮，不满99元收取运费8元。
ship-area,你们发哪些快递？,默认发顺丰和中通快递，偏远地区发邮政。
return,可以七天无理由退货吗？,支持七天无理由退货，商品需保持吊牌完好、未穿着未洗涤。
refund-time,退款多久到账？,仓库收到退货后3个工作日内退款，原路返回到您的支付账户。
exchange,尺码不合适可以换吗？,可以换码，请在签收后7天内申请换货，换货运费由我们承担。
invoice,可以开发票吗？,可以开具电子发票，下单时填写抬头和税号即可。
coupon,优惠券怎么使用？,在结算页选择可用的优惠券，每个订单限用一张。
pay,支持哪些付款方式？,支持微信支付、支付宝和银联卡。
address,下单后能修改收货地址吗？,发货前可以在订单详情里修改地址，发货后请联系客服。
size,怎么选尺码？,请参考商品详情页的尺码表，按胸围和腰围选择。
wash,衣服怎么洗？,建议冷水手洗，不要漂白，平铺晾干。
member,会员有什么优惠？,会员购物享九五折，生日当月赠送20元优惠券。
cancel,怎么取消订单？,未发货的订单可以在订单详情页直接取消，已发货的请拒收。
quality,收到的商品有质量问题怎么办？,请拍照联系客服，确认后免费退换，运费由我们承担。
"""

ZH_QUERIES = [
    ("付款以后什么时候能发货", "ship-time"),
    ("运费是多少", "ship-fee"),
    ("满多少包邮", "ship-fee"),
    ("用的是什么快递", "ship-area"),
    ("能不能七天无理由退", "return"),
    ("退款几天能到账", "refund-time"),
    ("衣服尺码小了能换吗", "exchange"),
    ("能开电子发票吗", "invoice"),
    ("优惠券怎么用", "coupon"),
    ("可以用支付宝付款吗", "pay"),
    ("收货地址写错了能改吗", "address"),
    ("尺码怎么选", "size"),
    ("这件衣服怎么洗", "wash"),
    ("会员有折扣吗", "member"),
    ("订单怎么取消", "cancel"),
    ("商品有质量问题怎么处理", "quality"),
]
ZH_OFF_TOPIC = ["你会下象棋吗", "怎么养金鱼", "帮我查一下明天的航班"]

EN_FAQ = """id,question,answer
returns,Can I return my order?,"You can return unworn shoes within 30 days of delivery for a full refund."
exchange,Can I exchange for a different size?,"Yes, exchanges for another size are free within 30 days."
shipping-time,How long does shipping take?,Orders ship within 1 business day and arrive in 3-5 business days.
shipping-cost,How much is shipping?,Shipping is free on orders over $75; otherwise it costs $6.95.
international,Do you ship internationally?,"We ship to Canada, the UK and the EU. Duties are paid by the customer."
tracking,How can I track my order?,You will get an email with a tracking link as soon as your order ships.
sizing,How do your shoes fit?,Our shoes run true to size; if you are between sizes pick the larger one.
care,How do I clean my shoes?,Wipe them with a damp cloth and let them air dry. Do not put them in the washing machine.
payment,What payment methods do you accept?,"We accept Visa, Mastercard, American Express, PayPal and Apple Pay."
cancel,Can I cancel my order?,You can cancel within 1 hour of placing the order from your account page.
warranty,Do your shoes have a warranty?,Every pair has a one-year warranty against manufacturing defects.
gift-cards,Do you sell gift cards?,"Yes, digital gift cards from $25 to $200."
"""

EN_QUERIES = [
    ("how many days until my package arrives", "shipping-time"),
    ("is delivery free", "shipping-cost"),
    ("do you deliver to canada", "international"),
    ("where is my parcel, is there a tracking number", "tracking"),
    ("do the sneakers run small", "sizing"),
    ("can I put them in the washer", "care"),
    ("can I pay with paypal", "payment"),
    ("I want to cancel the order I just placed", "cancel"),
    ("the sole came off after two months, is that covered", "warranty"),
    ("I need a bigger size, can I swap them", "exchange"),
]
EN_OFF_TOPIC = ["who won the basketball game", "what is the best pizza topping"]


def one_question_bot(tmp_path: Path, faq: str, st_embedder) -> Bot:
    (tmp_path / "faq.csv").write_text(faq, encoding="utf-8")
    kb = KnowledgeBase(
        KnowledgeConfig(sources=[SourceConfig(type="faq", path="faq.csv")], index_dir="index"),
        EmbedderConfig(),
        RetrievalConfig(),
        base_dir=tmp_path,
        embedder_instance=st_embedder,
    )
    kb.update()
    return Bot(kb, sessions=MemorySessionStore(), config=BotConfig(generation=False))


def answered(bot: Bot, text: str, n: int) -> str | None:
    reply = bot.reply(IncomingMessage(text, session_id=f"q{n}"))
    if reply.action == "answer_faq" and reply.citations:
        return reply.citations[0].doc_id.removeprefix("faq:")
    return None


def test_the_queries_are_not_calibration_data() -> None:
    background = set(background_questions())
    for text, _ in [*ZH_QUERIES, *EN_QUERIES]:
        assert text not in ZH_FAQ and text not in EN_FAQ and text not in background
    assert not (set(ZH_OFF_TOPIC) | set(EN_OFF_TOPIC)) & background


@pytest.mark.slow
def test_a_chinese_faq_with_one_question_per_entry_answers_its_rewordings(
    tmp_path: Path, st_embedder
) -> None:
    bot = one_question_bot(tmp_path, ZH_FAQ, st_embedder)
    model = bot.confidence
    assert model.method == "answer-match"
    # the bundled English model does not read Chinese: the store gets the lexical model
    assert model.stats["features"] == ["fused_margin", "lexical_overlap"]
    right = sum(answered(bot, q, n) == want for n, (q, want) in enumerate(ZH_QUERIES))
    assert right >= 0.7 * len(ZH_QUERIES), right  # was 0 before: every question declined
    declined = sum(answered(bot, q, 100 + n) is None for n, q in enumerate(ZH_OFF_TOPIC))
    assert declined >= 2, declined


@pytest.mark.slow
def test_an_english_faq_with_one_question_per_entry_answers_its_rewordings(
    tmp_path: Path, st_embedder
) -> None:
    bot = one_question_bot(tmp_path, EN_FAQ, st_embedder)
    assert bot.confidence.method == "answer-match"
    right = sum(answered(bot, q, n) == want for n, (q, want) in enumerate(EN_QUERIES))
    assert right >= 0.7 * len(EN_QUERIES), right
    for n, text in enumerate(EN_OFF_TOPIC):
        assert answered(bot, text, 200 + n) is None, text

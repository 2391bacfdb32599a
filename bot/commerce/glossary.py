"""Chinese shopping words in English, so that a Chinese request can be matched against a
catalogue written in English (the bundled embedding model reads English only).

This is language, not a store's vocabulary: it says what "外套" or "防水" mean, never what a
store sells. Which of the English words a request then matches is decided by the catalogue
(its product nouns, attributes and categories); a word it does not use matches nothing.
"""

from __future__ import annotations

import re

#: Chinese word -> English words. Longer entries win ("女朋友" before "女", "羽绒服" before
#: "羽绒"). Product nouns are marked in PRODUCT_NOUNS below.
ZH_EN: dict[str, str] = {
    # who it is for
    "女朋友": "women gift",
    "女友": "women gift",
    "老婆": "women gift",
    "妻子": "women gift",
    "太太": "women gift",
    "妈妈": "women gift",
    "母亲": "women gift",
    "姐姐": "women",
    "妹妹": "women",
    "女士": "women",
    "女生": "women",
    "女款": "women",
    "女式": "women",
    "女性": "women",
    "女人": "women",
    "男朋友": "men gift",
    "男友": "men gift",
    "老公": "men gift",
    "丈夫": "men gift",
    "爸爸": "men gift",
    "父亲": "men gift",
    "哥哥": "men",
    "弟弟": "men",
    "男士": "men",
    "男生": "men",
    "男款": "men",
    "男式": "men",
    "男性": "men",
    "男人": "men",
    "儿童": "kids",
    "孩子": "kids",
    "小孩": "kids",
    "宝宝": "kids",
    "童款": "kids",
    "童装": "kids",
    "儿子": "kids",
    "女儿": "kids",
    "中性": "unisex",
    "礼物": "gift",
    "送人": "gift",
    "送给": "gift",
    "女的": "women",
    "男的": "men",
    # the store's service, not its products (so that "包邮" is not a bag)
    "包邮": "free shipping",
    "包裹": "parcel",
    "礼品卡": "gift card",
    "鞋码": "shoe size chart",
    "尺码": "size chart",
    "运费": "shipping cost",
    "退货": "return",
    "退款": "refund",
    "换货": "exchange",
    "物流": "tracking",
    "快递": "delivery",
    "发货": "shipping",
    "订单": "order",
    "保修": "warranty",
    "质保": "warranty",
    "发票": "invoice",
    "积分": "points",
    "客服": "customer service",
    "地址": "address",
    # what it is
    "冲锋衣": "waterproof shell jacket",
    "羽绒服": "down jacket",
    "羽绒背心": "down vest",
    "羽绒马甲": "down vest",
    "雨衣": "rain jacket",
    "风衣": "wind jacket",
    "皮肤衣": "wind jacket",
    "外套": "jacket",
    "夹克": "jacket",
    "抓绒": "fleece",
    "马甲": "vest",
    "背心": "vest",
    "卫衣": "hoody",
    "连帽衫": "hoody",
    "上衣": "shirt",
    "衬衫": "shirt",
    "T恤": "tee",
    "t恤": "tee",
    "短袖": "tee",
    "打底衣": "base layer",
    "保暖内衣": "base layer",
    "速干衣": "quick-dry shirt",
    "衣服": "clothing",
    "裤子": "pants",
    "长裤": "pants",
    "短裤": "shorts",
    "袜子": "socks",
    "徒步鞋": "hiking shoe",
    "登山鞋": "hiking boot",
    "跑鞋": "running shoe",
    "越野跑鞋": "trail running shoe",
    "凉鞋": "sandal",
    "拖鞋": "slide",
    "靴子": "boot",
    "靴": "boot",
    "鞋子": "shoe",
    "鞋": "shoe",
    "帽子": "hat",
    "毛线帽": "beanie",
    "手套": "gloves",
    "双肩包": "backpack",
    "背包": "backpack pack",
    "登山包": "backpacking pack",
    "腰包": "hip pack",
    "包": "pack bag",
    "帐篷": "tent",
    "天幕": "tarp",
    "睡袋": "sleeping bag",
    "睡垫": "sleeping pad",
    "防潮垫": "sleeping pad",
    "枕头": "pillow",
    "炉头": "stove",
    "炉子": "stove",
    "锅": "pot",
    "杯子": "mug",
    "水杯": "mug",
    "保温杯": "insulated bottle",
    "保温瓶": "insulated bottle",
    "水壶": "bottle",
    "水瓶": "bottle",
    "水袋": "hydration reservoir",
    "净水器": "water filter",
    "滤水器": "water filter",
    "头灯": "headlamp",
    "手电筒": "flashlight",
    "登山杖": "trekking poles",
    "椅子": "chair",
    "安全带": "harness",
    "绳子": "rope",
    "头盔": "helmet",
    "耳机": "headphones",
    "手表": "watch",
    "墨镜": "sunglasses",
    "眼镜": "glasses",
    "手机": "phone",
    "化妆品": "cosmetics",
    "香水": "perfume",
    "项链": "necklace",
    # what it does
    "防水": "waterproof",
    "防风": "windproof",
    "保暖": "warm insulated",
    "透气": "breathable",
    "速干": "quick-dry",
    "防晒": "sun upf",
    "超轻": "ultralight",
    "轻便": "lightweight",
    "轻量": "lightweight",
    "羊毛": "merino wool",
    "美利奴": "merino",
    "羽绒": "down",
    "徒步": "hiking",
    "登山": "hiking mountaineering",
    "跑步": "running",
    "越野跑": "trail running",
    "马拉松": "running race",
    "比赛": "race",
    "露营": "camping",
    "攀岩": "climbing",
    "滑雪": "ski",
    "旅行": "travel",
    "冬天": "winter",
    "冬季": "winter",
    "夏天": "summer",
    "夏季": "summer",
    "下雨": "rain",
    "雨天": "rain",
    # colours
    "黑色": "black",
    "白色": "white",
    "红色": "red",
    "蓝色": "blue",
    "绿色": "green",
    "灰色": "grey",
    "黄色": "yellow",
    "橙色": "orange",
    "粉色": "pink",
    "紫色": "purple",
    "棕色": "brown",
    # sizes
    "大号": "size L",
    "中号": "size M",
    "小号": "size S",
}

#: the entries above that name a kind of product (a request for one the catalogue does not
#: have is answered with "we don't carry ...", not with something else)
PRODUCT_NOUNS = frozenset(
    """冲锋衣 羽绒服 羽绒背心 羽绒马甲 雨衣 风衣 皮肤衣 外套 夹克 抓绒 马甲
    背心 卫衣 连帽衫 上衣 衬衫 T恤 t恤 短袖 打底衣 保暖内衣 速干衣 衣服
    裤子 长裤 短裤 袜子 徒步鞋 登山鞋 跑鞋 越野跑鞋 凉鞋 拖鞋 靴子 靴
    鞋子 鞋 帽子 毛线帽 手套 双肩包 背包 登山包 腰包 包 帐篷 天幕 睡袋
    睡垫 防潮垫 枕头 炉头 炉子 锅 杯子 水杯 保温杯 保温瓶 水壶 水瓶 水袋
    净水器 滤水器 头灯 手电筒 登山杖 椅子 安全带 绳子 头盔 耳机 手表 墨镜
    眼镜 手机 化妆品 香水 项链""".split()
)
_PATTERN = re.compile("|".join(re.escape(w) for w in sorted(ZH_EN, key=len, reverse=True)))

#: English labels shown in Chinese replies (reasons, the constraints understood)
EN_ZH = {
    "women": "女款",
    "men": "男款",
    "unisex": "中性款",
    "kids": "儿童款",
    "waterproof": "防水",
    "windproof": "防风",
    "insulated": "保暖",
    "in stock": "有货",
    "lighter than": "比",
}


def translate(text: str) -> tuple[str, list[str]]:
    """The Chinese words of ``text`` that the glossary knows, in English (joined by spaces),
    and the product nouns among them as written (["耳机"])."""
    words: list[str] = []
    nouns: list[str] = []
    for match in _PATTERN.finditer(text):
        words.append(ZH_EN[match.group()])
        if match.group() in PRODUCT_NOUNS:
            nouns.append(match.group())
    return " ".join(words), nouns

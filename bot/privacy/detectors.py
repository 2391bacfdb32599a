"""What each kind of personal data looks like: one regex per written form, a check of what
the regex found, and the context that says a number is a reference, not a person's.

Three families:

- by form and checksum: e-mail addresses, phone numbers, card numbers (issuer range, length,
  Luhn), IBANs (mod 97), IP addresses, Chinese resident IDs (date and MOD 11-2), US social
  security numbers, street addresses (a number, a name and a street type; 省市区路号);
- by label: what follows "password", "passport number", "my name is", "验证码", "收件人";
- never: a number right after a reference label ("order", "tracking", "订单编号", "运单号")
  is that reference, even when its digits would pass for a card, an ID or a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.privacy.checks import (
    card_valid,
    digits,
    iban_valid,
    id_cn_valid,
    ipv4_valid,
    ipv6_valid,
    ssn_valid,
)

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
IBAN = "IBAN"
IP = "IP"
ID_CN = "ID_CN"
ID = "ID"
SECRET = "SECRET"
ADDRESS = "ADDRESS"
NAME = "NAME"
KINDS: tuple[str, ...] = (EMAIL, PHONE, CARD, IBAN, IP, ID_CN, ID, SECRET, ADDRESS, NAME)


@dataclass(frozen=True)
class Detector:
    """One written form of one kind. ``check`` gets what the regex found (its group ``v``
    when it has one: the label around it is not redacted) and returns how many of its
    characters are the kind (0: none). ``reference`` drops a find that follows a reference
    label ("order no.", "订单编号")."""

    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], int] = len
    reference: bool = False
    #: what a text must have for the pattern to match at all (see ``features``): a text
    #: without it is not searched
    needs: str | None = None


def features(text: str) -> set[str]:
    """What a text has that some patterns need: a digit, an @, the letters "at", a capital
    letter, a Chinese character. Cheap, and most messages lack several."""
    found = set()
    if any(ch.isdigit() for ch in text):
        found.add("digit")
    if "@" in text:
        found.add("@")
    if "at" in text.lower():
        found.add("at")
    if any("A" <= ch <= "Z" for ch in text):
        found.add("upper")
    if any("\u3400" <= ch <= "\u9fff" for ch in text):
        found.add("cjk")
    return found


# Boundaries: no Latin letter or digit may touch a match (CJK may: "电话13800138000" must
# match), and a number glued to a code ("KR-1002345", "1.2.3") is part of that code, not a
# phone or card. "Tel.303-555-0142" and "No.13800138000" still match.
_B = r"(?<![\dA-Za-z])(?<![\dA-Za-z][-_/])(?<!\d\.)"
_E = r"(?![\dA-Za-z])(?![-_/.][\dA-Za-z])"
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_LATIN = "A-Za-z0-9\u00c0-\u024f"  # letters with accents too: josé@example.es

# ---------------------------------------------------------------------------- e-mail
# An apostrophe may sit inside the local part (o'connor@, o’neill@), never start it, so a
# quoted address ('jane@example.com') keeps its quotes.
_EMAIL = re.compile(
    rf"(?<![{_LATIN}._%+-])(?<![{_LATIN}]['’])"
    rf"[{_LATIN}_%+-](?:[{_LATIN}._%+'’-]*[{_LATIN}_%+-])?"
    rf"@[{_LATIN}](?:[{_LATIN}-]*[{_LATIN}])?(?:\.[{_LATIN}](?:[{_LATIN}-]*[{_LATIN}])?)*"
    r"\.(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]+)(?![A-Za-z0-9-])"
)
_DOT = r"(?:\.|\s*[(\[{]dot[)\]}]\s*|\s+dot\s+)"
_AT = r"(?:\s*[(\[{]at[)\]}]\s*|\s+at\s+)"
# "jane dot doe at gmail dot com", "jane(at)example.com": spelled out to dodge filters
_EMAIL_SPELLED = re.compile(
    rf"(?<![\w.])[A-Za-z0-9_%+-]{{1,64}}(?:{_DOT}[A-Za-z0-9_%+-]{{1,64}}){{0,6}}{_AT}"
    rf"[A-Za-z0-9-]{{1,63}}(?:{_DOT}[A-Za-z0-9-]{{1,63}}){{0,4}}?{_DOT}"
    r"(?:com|net|org|edu|gov|io|co|me|info|biz|uk|de|fr|es|it|nl|ie|ca|au|cn|hk|jp|kr|in|eu)"
    r"\b",
    re.IGNORECASE,
)
_SPELLED_MARK = re.compile(r"[(\[{](?:at|dot)[)\]}]|\sdot\s", re.IGNORECASE)


def _check_spelled(found: str) -> int:
    return len(found) if _SPELLED_MARK.search(found) else 0


# ---------------------------------------------------------------------------- phones
# +CC then groups, e.g. +44 20 7946 0958, +1 (303) 555-0142, +8613800138000.
_PHONE_INTL = re.compile(r"(?<![\dA-Za-z+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){1,7}" + _E)
# North America: (303) 555-0142, 303-555-0142, 303.555.0142, 1-800-555-0199.
_PHONE_US = re.compile(
    _B + r"(?:1[ .-])?(?:\(\s?[2-9]\d{2}\s?\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}" + _E
)
# China mobile: 13800138000, 138 0013 8000, 138-0013-8000, (+86) 138...
_PHONE_CN_MOBILE = re.compile(
    _B + r"(?:\(\+?86\)\s?|(?:\+|00)?86[ -]?)?1[3-9]\d(?:([ -]?)\d{4}\1\d{4})" + _E
)
# China landline: 010-12345678, (0755) 1234567, 021 61234567.
_PHONE_CN_LAND = re.compile(_B + r"(?:\(0[1-9]\d{1,2}\)\s?|0[1-9]\d{1,2}[- ])[2-9]\d{6,7}" + _E)
# A national number with a trunk 0, in groups (UK 020 7946 0958 and 07700 900123, FR 06 12
# 34 56 78, AU 0412 345 678); all in one piece only a UK mobile (07700900123).
_PHONE_TRUNK = re.compile(_B + r"(?:0[1-9]\d{0,3}(?:[ .-]\d{2,8}){1,4}|07[1-9]\d{8})" + _E)
_PHONE_WORDS = (
    r"phone|telephone|tel|mobile|cell|cellphone|whats\s?app|call\s+me|text\s+me|ring\s+me|"
    r"reach\s+me|contact\s+number|电话|手机|手机号|联系方式|联系电话|座机|固话"
)
# A number the customer calls a phone number: "call me at 6175550123", "my cell is 555-0142"
_PHONE_LABELLED = re.compile(
    rf"(?:{_PHONE_WORDS})(?:\s*(?:number|no\.?|#|is|at|on|[:：]|号码|是|为)){{0,3}}\s*"
    r"(?P<v>(?<![\dA-Za-z])\+?\(?\d[\d ().-]{5,18}\d)" + _E,
    re.IGNORECASE,
)


def _longest_prefix(found: str, cuts: Iterable[int], valid: Callable[[str], bool]) -> int:
    for cut in sorted(set(cuts), reverse=True):
        if valid(found[:cut]):
            return cut
    return 0


def _check_intl_phone(found: str) -> int:
    cuts = [m.end() for m in re.finditer(r"\d+\)?", found)]
    return _longest_prefix(found, cuts, lambda part: 8 <= len(digits(part)) <= 15)


# North American toll-free and China's 400/800 service numbers belong to businesses
_HOTLINE = re.compile(
    r"^(?:\+?1[ .-]?)?\(?8(?:00|88|77|66|55|44|33)\)?[ .-]|^(?:400|800)[ -]?\d{3}[ -]?\d{4}$"
)


def _person_phone(check: Callable[[str], int]) -> Callable[[str], int]:
    return lambda found: 0 if _HOTLINE.search(found.strip()) else check(found)


def _count(low: int, high: int) -> Callable[[str], int]:
    return lambda found: len(found) if low <= len(digits(found)) <= high else 0


# ---------------------------------------------------------------------------- numbers
_CARD = re.compile(
    _B
    + r"(?:[2-69]\d{12,18}"  # contiguous
    + r"|[2-69]\d{3}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?"  # 4-4-4-4(-3)
    + r"|3\d{3}([ -])\d{6}\2\d{4,5})"  # Amex 4-6-5, Diners 4-6-4
    + _E
)
_IBAN = re.compile(
    r"(?<![\dA-Za-z])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?"
    r"(?![\dA-Za-z])"
)
_IPV4 = re.compile(r"(?<![\dA-Za-z.])\d{1,3}(?:\.\d{1,3}){3}(?![\dA-Za-z]|\.\d)")
_IPV6 = re.compile(r"(?<![\dA-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\dA-Za-z:])")
# 18 characters in one piece, or as 6-8-4 (region, birth date, sequence and check)
_ID_CN = re.compile(_B + r"(?:[1-9]\d{16}[\dXx]|[1-9]\d{5}[ -]\d{8}[ -]\d{3}[\dXx])" + _E)
_SSN = re.compile(_B + r"\d{3}([- ])\d{2}\1\d{4}" + _E)


def _check_iban(found: str) -> int:
    cuts = [m.end() for m in re.finditer(r"[A-Za-z0-9]+", found)]
    return _longest_prefix(found, cuts, iban_valid)


def _whole(valid: Callable[[str], bool]) -> Callable[[str], int]:
    return lambda found: len(found) if valid(found) else 0


def _id_cn(found: str) -> bool:
    compact = re.sub(r"[ -]", "", found)
    return id_cn_valid(compact)


# ---------------------------------------------------------------------------- by label
_IS = r"(?:\s*(?:is|was|[:：=#]|是|为|号码|號碼|号|號|number|no\.?)){0,3}\s*"
_ID_LABEL = re.compile(
    r"(?:passport|driver[’']?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e\s+(?:number|no)"
    r"|social\s+security|ssn|national\s+(?:id|insurance)|ni\s+number|tax\s+(?:id|number)"
    r"|id\s+(?:card\s+)?(?:number|no)|bank\s+account|account\s+(?:number|no|#)|account|acct"
    r"|wechat(?:\s+id)?|护照|驾驶证|驾照|社保卡?|港澳通行证|台胞证|军官证|银行账号|账号|账户"
    r"|微信号?|QQ号?)"
    + _IS
    + r"(?P<v>(?<![A-Za-z0-9])[A-Za-z0-9](?:[A-Za-z0-9_-]{3,28})[A-Za-z0-9])(?![A-Za-z0-9@.]\w)",
    re.IGNORECASE,
)


def _check_id(found: str) -> int:
    """An identifier has at least 3 digits ("K1234567", "zhang_san_1990"; not "under")."""
    return len(found) if sum(ch.isdigit() for ch in found) >= 3 else 0


_SECRET_WORDS = (
    r"password|passcode|passwd|pwd|pin(?:\s+(?:code|number))?|cvv2?|cvc2?|security\s+code|"
    r"verification\s+code|one[- ]time\s+(?:pass)?code|otp|auth(?:entication)?\s+code|"
    r"2fa\s+code|login\s+code|sms\s+code|(?:gate|door|entry|access|lockbox|alarm|entrance)\s+code|"
    r"门禁码|支付密码|登录密码|密码|验证码|校验码|安全码|动态码|口令"
)
# After a connector ("is", ":", "是") any token; right after the label only a number, so
# "password reset" and "pin the order" are not secrets. Up to three words may come between
# ("security code on the back is 7389").
_SECRET = re.compile(
    rf"(?:{_SECRET_WORDS})(?:"
    r"(?:\s+[A-Za-z]+){0,4}?\s*(?:\bis\b|\bwas\b|[:：=]|是|为)\s*"
    r"(?P<v>[^\s，。,;；！？?、\"“”'()（）]{3,64}?)(?=[\s，。,;；！？?、\"“”'()（）]|[.](?:\s|$)|$)"
    r"|\s*(?P<n>\d{3,8})(?!\d))",
    re.IGNORECASE,
)


def _check_secret(found: str) -> int:
    """A password has a digit or a symbol in it (not "wrong", "invalid", "expired")."""
    return len(found) if any(not ch.isalpha() for ch in found) else 0


# ---------------------------------------------------------------------------- addresses
_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Close|Crescent|Cres|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Loop|"
    r"Alley|Plaza|Mews"
)
# 742 Evergreen Terrace, 1600 Pennsylvania Ave NW, 221B Baker Street, 55 Water St, Apt 4B
_ADDRESS_EN = re.compile(
    r"(?<![\w$£€¥.,-])\d{1,6}[A-Za-z]?(?:-\d{1,5})?\s+"
    r"(?:(?:[A-Z][A-Za-z'’.-]*|\d{1,3}(?:st|nd|rd|th))\s+){1,4}?"
    rf"(?:{_STREET_TYPES})\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|#)\.?\s*#?[A-Za-z0-9-]{1,6}"
    r"(?![\w-]))?"
    r"|\bP\.?\s?O\.?\s+Box\s+\d{1,6}\b",
)
_PARTICLES_ADDR = r"(?:de|du|des|de\s+la|la|le|del|della|di|da|do|dos|das)"
_TYPE_FIRST = (
    r"Rue|Avenue|Av\.|Boulevard|Bd|Place|Allée|Allee|Chemin|Impasse|Quai|Cours|Via|Viale|"
    r"Piazza|Corso|Calle|Avenida|Rua|Praça|Carrer|Paseo|Plaza"
)
_STREET_NAME = rf"(?:\s+(?:{_PARTICLES_ADDR}|[A-Z][a-zà-ÿ'’-]+|[dl][’'][A-Z][a-zà-ÿ'’-]+)){{1,5}}"
# 9 Rue de la Paix, Calle Mayor 12, Via Roma 10, Hauptstraße 5, Kerkstraat 12
_ADDRESS_EU = re.compile(
    rf"(?<![\w.,-])\d{{1,5}}(?:\s?(?:bis|ter))?,?\s+(?:{_TYPE_FIRST}){_STREET_NAME}(?![\w'’-])"
    rf"|\b(?:{_TYPE_FIRST}){_STREET_NAME},?\s+\d{{1,5}}[A-Za-z]?(?![\w-])"
    r"|\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|gasse|weg|platz|allee|ring|damm|ufer|straat"
    r"|laan|gracht|plein|vej|gatan|gata|veien)\s+\d{1,5}[a-z]?(?![\w-])"
)
# 北京市朝阳区建国路88号, 浙江省杭州市西湖区文三路90号东部软件园1号楼502室: a road and its
# number, after any provinces, cities and districts; a place name never starts with a word
# of the sentence around it (的, 是, 寄, 送...), nor at 成 of 改成.
_ZH_STOP = "的是在到我你他她址送寄请住收改为把往给了吗呢吧啊要想帮麻烦写填搬"
_ZH_PLACE_CHAR = rf"(?![{_ZH_STOP}])[{_CJK}]"
_ADDRESS_ZH = re.compile(  # one bounded run up to the road: no nested repeats to backtrack
    rf"(?<![改变换]){_ZH_PLACE_CHAR}(?:{_ZH_PLACE_CHAR}|[\dA-Za-z]){{0,39}}?"
    r"(?:大街|大道|路|街|巷|弄|胡同|道)(?:[一二三四五六七八九十]{1,3}段|\d{1,2}段)?"
    r"\d{1,5}(?:-\d{1,5})?[号號弄]"
    rf"(?:[{_CJK}A-Za-z\d]{{0,12}}?(?:\d{{1,5}}|[A-Za-z])(?:号楼|栋|幢|座|单元|层|楼|室|号)){{0,4}}"
)

# ---------------------------------------------------------------------------- names
_NAME_STOP = frozenset(
    "Not Sure Sorry Looking Trying Going Interested Very So Happy Still Here Back The A An It "
    "In On At For With From Just Also Really Writing Calling Contacting Having Getting Unable "
    "Able Glad Disappointed Confused Wondering Waiting Asking Now Done Ok Okay Fine Great "
    "Good Bad Ridiculous Unacceptable Frustrated Upset Angry Annoyed New Hoping Planning "
    "About Regarding Re Following Hello Hi Hey Thanks Thank Please Yes No My Your Our This "
    "That Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March "
    "April May June July August September October November December Customer Support Team "
    "Order Shipping Returns Refund Sir Madam All Everyone There Again I Me We You Same Someone "
    "Somebody Anyone Anybody Nobody Everybody Nothing Something Question Problem Issue Help "
    "Stuck Urgent Asap Mine".split()
)
_NAME_WORD = r"[A-Z][a-z'’-]+"
_NAME_CAPS = r"(?:[A-Z][a-z'’-]+|[A-Z]{2,}(?![a-z]))"  # "CHEN WEI", as printed on a card
_PARTICLE = r"(?:de|van|von|da|del|della|di|le|la|du|dos|bin|al|ter|ten)"
_RELATIONS = (
    r"husband|wife|partner|spouse|mother|mom|mum|father|dad|son|daughter|brother|sister|"
    r"friend|colleague|boss|manager|assistant|grandmother|grandfather|grandma|grandpa|aunt|"
    r"uncle|cousin|fianc[ée]e?|girlfriend|boyfriend|neighbou?r|flatmate|roommate"
)
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?"
# Labels that say a name follows; the name may be in capitals. Then cues that usually do,
# where only capitalised words count (so "I'm Sorry" is caught by the stop words, and "I'm
# sure" never matches).
_NAME_LABELS = (
    r"\bname(?:\s+on\s+(?:the\s+)?(?:account|card|order|parcel|package))?\s*[:：]?"
    r"|\bfull\s+name\s*[:：]?|\brecipient\s*[:：]?|\baddressee\s*[:：]?|\battn\.?\s*[:：]?"
    r"|\battention\s*[:：]|\bcontact\s+person\s*[:：]?|\b(?:account|card)\s*holder\s*[:：]?"
    r"|\bcardholder\s*[:：]?|\b(?:ship|deliver|send|post)\s+(?:it\s+)?to\s*[:：]"
)
_NAME_CUES = (
    r"\bmy\s+name\s+is|\bmy\s+name[’']s|\bname\s+is|\bthis\s+is|\bi\s+am|\bi[’']m|\bit[’']s"
    r"|\bit\s+is|\bunder\s+(?:the\s+)?name(?:\s+of)?"
    r"|\b(?:thanks|thank\s+you|cheers|regards|best|sincerely|love)\s*,"
    rf"|\bmy\s+(?:{_RELATIONS})(?:[’']s\s+name\s+is|\s+is\s+called|\s*,)?"
)
_NAME_EN = re.compile(
    rf"(?:(?i:{_NAME_LABELS})\s*(?P<v>{_NAME_CAPS}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_CAPS}){{0,2}})"
    rf"|(?i:{_NAME_CUES})\s*(?P<n>{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_WORD}){{0,2}})"
    rf"|(?P<t>\b{_TITLE}\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}))"
    r"(?![\w@])",
)
# "Carlos here": a name that opens the message or follows a greeting or a sentence's end
_NAME_HERE = re.compile(
    rf"(?:^|(?<=[.!?,;:])\s*|(?i:\b(?:hi|hello|hey)\b[!,.]?)\s+)"
    rf"(?P<v>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+here\b"
)


def _check_name_en(found: str) -> int:
    """Words that are names, not "I'm Sorry" or "Thanks, Team": the first stop word ends it."""
    words = found.split()
    if re.fullmatch(_TITLE, words[0]):
        return len(found)
    end = 0
    for word in words:
        if word.strip("’'").capitalize() in _NAME_STOP:
            break
        end = found.index(word, end) + len(word)
    return end


# The hundred or so most common Chinese surnames (about 85% of people) and the common
# compound ones: a given name after a label only counts when it starts with one.
_SURNAMES_2 = "欧阳 司马 上官 诸葛 东方 皇甫 令狐 慕容 司徒 夏侯 尉迟 长孙 宇文 公孙".split()
_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧"
    "耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙"
    "鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫"
)
_GIVEN_STOP = "想要的是在了吗呢啊吧和与说问买退换订收寄送发电手邮地身请您你我他她先女"
_SURNAME = rf"(?:{'|'.join(_SURNAMES_2)}|[{_SURNAMES_1}])"
# 李先生, 王女士, 张老师: a surname with how one addresses its bearer; 我姓王
_NAME_ZH_POLITE = re.compile(
    rf"(?<![{_CJK}]){_SURNAME}(?:先生|女士|小姐|太太|老师|师傅|阿姨|经理)"
    rf"|(?:我姓|免贵姓)(?P<v>{_SURNAME})"
)
_NAME_ZH = re.compile(
    r"(?:我叫|叫|我的名字(?:是|叫)|名字(?:是|叫)|姓名\s*[:：]?|收件人\s*[:：]?|收货人\s*[:：]?"
    r"|联系人\s*[:：]?|户名\s*[:：]?|持卡人\s*[:：]?|我是|本人|改成|改为)\s*"
    rf"(?P<v>(?:{'|'.join(_SURNAMES_2)}|[{_SURNAMES_1}])(?:(?![{_GIVEN_STOP}])[{_CJK}]){{1,2}})"
)

# ---------------------------------------------------------------------------- references
# A number right after one of these is that reference, not a card, ID or phone number.
_REFERENCE_EN = (
    r"order|orders|tracking|track|invoice|receipt|reference|ref|confirmation|transaction|txn|"
    r"shipment|parcel|package|waybill|consignment|awb|sku|item|model|part|serial|product|"
    r"barcode|ean|upc|isbn|gtin|asin|ticket|case|booking|reservation|rma|claim|batch|lot|"
    r"voucher|coupon|gift\s+card|member|membership|loyalty"
)
_REFERENCE_ZH_ALONE = "订单|运单|快递单|物流单|工单|售后单|退货单|退款单|发票|批次|条形码|条码"
_REFERENCE_ZH = "交易单|交易流水|交易|流水|货|商品|型|序列|会员卡?|退款|单|券|包裹"
_REFERENCE = re.compile(
    rf"(?:\b(?:{_REFERENCE_EN})(?:\s*(?:no|nr|number|num|id|code|ref|#))?\.?"
    r"(?:\s*(?:is|was|[:#=-]))?\s*[:#＃：]?\s*"
    rf"|(?:(?:{_REFERENCE_ZH_ALONE})(?:编?号|编码|号码|码|ID|id)?|(?:{_REFERENCE_ZH})"
    r"(?:编号|号码|编码|号|码))\s*(?:是|为)?\s*[:：#＃]?\s*)$",
    re.IGNORECASE,
)


def is_reference(before: str) -> bool:
    """Whether ``before`` (the text just before a number) ends with a reference label."""
    return bool(_REFERENCE.search(before[-40:]))


_always: Callable[[str], int] = len

#: every built-in form, in order of precedence when two find the very same span
DETECTORS: tuple[Detector, ...] = (
    Detector(EMAIL, _EMAIL, needs="@"),
    Detector(EMAIL, _EMAIL_SPELLED, _check_spelled, needs="at"),
    Detector(IBAN, _IBAN, _check_iban, needs="digit"),
    Detector(ID_CN, _ID_CN, _whole(_id_cn), reference=True, needs="digit"),
    Detector(CARD, _CARD, _whole(card_valid), reference=True, needs="digit"),
    Detector(PHONE, _PHONE_INTL, _person_phone(_check_intl_phone), reference=True, needs="digit"),
    Detector(PHONE, _PHONE_US, _person_phone(len), reference=True, needs="digit"),
    Detector(PHONE, _PHONE_CN_MOBILE, reference=True, needs="digit"),
    Detector(PHONE, _PHONE_CN_LAND, reference=True, needs="digit"),
    Detector(PHONE, _PHONE_TRUNK, _count(10, 11), reference=True, needs="digit"),
    Detector(PHONE, _PHONE_LABELLED, _person_phone(_count(7, 15)), reference=True, needs="digit"),
    Detector(ID, _SSN, _whole(ssn_valid), reference=True, needs="digit"),
    Detector(ID, _ID_LABEL, _check_id, needs="digit"),
    Detector(SECRET, _SECRET, _check_secret),
    Detector(IP, _IPV4, _whole(ipv4_valid), needs="digit"),
    Detector(IP, _IPV6, _whole(ipv6_valid)),
    Detector(ADDRESS, _ADDRESS_EN, needs="digit"),
    Detector(ADDRESS, _ADDRESS_EU, needs="digit"),
    Detector(ADDRESS, _ADDRESS_ZH, needs="digit"),
    Detector(NAME, _NAME_EN, _check_name_en, needs="upper"),
    Detector(NAME, _NAME_HERE, _check_name_en, needs="upper"),
    Detector(NAME, _NAME_ZH, needs="cjk"),
    Detector(NAME, _NAME_ZH_POLITE, needs="cjk"),
)

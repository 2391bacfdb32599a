"""The words product copy makes claims with: units, materials, certifications, features,
colours and marketing superlatives. The copy checker (:mod:`bot.commerce.copy_check`) asks
that each one it finds in generated copy is also in the product's own facts.

Terms are written in their normalised form (lower case, hyphens as spaces); the checker
normalises text the same way, so "PFC-free", "pfc free" and "PFC Free" are one term.
"""

from __future__ import annotations

#: unit spellings -> one canonical unit (numbers are compared together with their unit)
UNIT_ALIASES: dict[str, str] = {
    **dict.fromkeys(("g", "gr", "gram", "grams", "gramme", "grammes"), "g"),
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), "kg"),
    **dict.fromkeys(("mg", "milligram", "milligrams"), "mg"),
    **dict.fromkeys(("oz", "ounce", "ounces"), "oz"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "lb"),
    **dict.fromkeys(("mm", "millimetre", "millimetres", "millimeter", "millimeters"), "mm"),
    **dict.fromkeys(("cm", "centimetre", "centimetres", "centimeter", "centimeters"), "cm"),
    **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), "m"),
    **dict.fromkeys(("km", "kilometre", "kilometres", "kilometer", "kilometers"), "km"),
    **dict.fromkeys(("in", "inch", "inches", '"', "″"), "in"),
    **dict.fromkeys(("ft", "foot", "feet"), "ft"),
    **dict.fromkeys(("l", "litre", "litres", "liter", "liters"), "l"),
    **dict.fromkeys(("ml", "millilitre", "millilitres", "milliliter", "milliliters"), "ml"),
    **dict.fromkeys(("%", "percent", "pct"), "%"),
    **dict.fromkeys(("°c", "℃", "celsius"), "°c"),
    **dict.fromkeys(("°f", "℉", "fahrenheit"), "°f"),
    **dict.fromkeys(("d", "denier"), "d"),
    **dict.fromkeys(("mah",), "mah"),
    **dict.fromkeys(("wh",), "wh"),
    **dict.fromkeys(("w", "watt", "watts"), "w"),
    **dict.fromkeys(("v", "volt", "volts"), "v"),
    **dict.fromkeys(("hz",), "hz"),
    **dict.fromkeys(("khz",), "khz"),
    **dict.fromkeys(("mhz",), "mhz"),
    **dict.fromkeys(("ghz",), "ghz"),
    **dict.fromkeys(("mb",), "mb"),
    **dict.fromkeys(("gb",), "gb"),
    **dict.fromkeys(("tb",), "tb"),
    **dict.fromkeys(("mp", "megapixel", "megapixels"), "mp"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "min"),
    **dict.fromkeys(("sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("day", "days"), "day"),
    **dict.fromkeys(("week", "weeks"), "week"),
    **dict.fromkeys(("month", "months"), "month"),
    **dict.fromkeys(("yr", "yrs", "year", "years"), "year"),
    **dict.fromkeys(("g/m²", "g/m2", "gsm"), "g/m²"),
    **dict.fromkeys(("g/m²/24h", "g/m2/24h"), "g/m²/24h"),
}

#: spelled-out counts read as numbers ("two pockets"); "one" is left out (a pronoun too)
NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "hundred": 100,
}

MATERIALS = """
cotton|organic cotton|pima cotton|egyptian cotton|supima|merino|merino wool|wool|lambswool|
cashmere|alpaca|mohair|angora|silk|linen|hemp|bamboo|jute|leather|full grain leather|
top grain leather|genuine leather|faux leather|vegan leather|patent leather|suede|nubuck|
canvas|denim|corduroy|velvet|tweed|nylon|polyester|polyamide|spandex|elastane|lycra|acrylic|
rayon|viscose|modal|lyocell|tencel|fleece|sherpa|goose down|duck down|feather|feathers|
gore tex|primaloft|polartec|thinsulate|coolmax|cordura|dyneema|kevlar|neoprene|polyurethane|
pvc|tpu|eva|rubber|natural rubber|latex|silicone|vibram|memory foam|foam|plastic|abs|
polycarbonate|polypropylene|glass|tempered glass|crystal|ceramic|porcelain|stoneware|
cast iron|stainless steel|steel|carbon steel|aluminium|titanium|copper|brass|bronze|zinc|
gold|silver|sterling silver|platinum|chrome|carbon fibre|fibreglass|wood|solid wood|oak|
walnut|maple|teak|pine|cork|marble|granite|concrete|beeswax|soy wax|down fill|
"""

CERTIFICATIONS = """
rds|responsible down standard|bluesign|oeko tex|gots|fair trade|fairtrade|fsc|b corp|ce|fcc|
ul|rohs|energy star|iso|fda|fda approved|usda organic|uiaa|ansi|ipx4|ipx5|ipx6|ipx7|ipx8|
ip54|ip65|ip67|ip68|bpa free|pfc free|pfas free|phthalate free|lead free|non toxic|
hypoallergenic|dermatologist tested|dermatologically tested|clinically proven|
clinically tested|organic|recycled|recyclable|biodegradable|compostable|sustainable|
sustainably sourced|eco friendly|carbon neutral|climate neutral|vegan|cruelty free|certified|
approved|patented|patent pending|award winning|handmade|hand made|handcrafted|hand crafted|
made in|
"""

FEATURES = """
waterproof|water resistant|water repellent|windproof|wind resistant|breathable|insulated|
machine washable|hand wash|dishwasher safe|microwave safe|oven safe|uv protection|upf|spf|
anti slip|non slip|slip resistant|shockproof|scratch resistant|stain resistant|
wrinkle free|quick dry|quick drying|moisture wicking|odour resistant|anti bacterial|
antibacterial|antimicrobial|fire resistant|flame retardant|packable|ultralight|ultra light|
rechargeable|wireless|bluetooth|cordless|foldable|removable|reversible|adjustable|
noise cancelling|warranty|lifetime warranty|guarantee|guaranteed|money back|free shipping|
free delivery|free returns|in stock|out of stock|sold out|limited edition|exclusive|
on sale|discount|seam taped|fully taped|
"""

#: parts a product has or has not: nouns, so a plural is the same part ("zips", "zip")
PARTS = """
hood|zip|zipper|pocket|chest pocket|hand pocket|thigh pocket|strap|shoulder strap|
chest strap|buckle|drawcord|drawstring|lining|liner|cuff|collar|sole|outsole|midsole|insole|
lace|membrane|vent|pit zip|frame|hipbelt|hip belt|lid|cable|battery|charger|stuff sack|pole|
stake|footprint|hook|clip|thumb loop|toe cap|waistband|button|velcro|magnet|wheel|lens|
speaker|microphone|remote|spout|rain cover|kickstand|
"""

COLOURS = """
black|white|grey|red|blue|navy|green|olive|khaki|yellow|orange|pink|purple|violet|brown|
beige|tan|cream|ivory|teal|turquoise|burgundy|maroon|coral|lime|mint|lavender|charcoal|
camo|camouflage|
"""

#: claims of rank or fame: stated only when the store states them
SUPERLATIVES = """
best|best selling|bestselling|bestseller|best seller|top rated|top selling|top seller|
most popular|number one|no 1|world s|world class|leading|industry leading|market leading|
unbeatable|unmatched|unrivalled|unrivaled|ultimate|finest|revolutionary|best in class|
second to none|like no other|first ever|one of a kind|legendary|iconic|premium|luxury|
luxurious|professional grade|military grade|medical grade|customers love|rave reviews|
five star|highly rated|highly regarded|acclaimed|renowned|famous|world famous|popular|
trusted|beloved|favourite|fan favourite|masterpiece|top of the line|state of the art|
cutting edge|high end|top notch|top quality|highest quality|best quality|
最|第一|顶级|畅销|销量冠军|爆款|专利|认证|官方|正品|
"""

#: words ending in "est" that are not superlatives
NOT_SUPERLATIVE = frozenset(
    """rest test west nest vest zest pest jest chest crest guest quest request suggest protest
    contest interest forest honest modest harvest manifest invest digest arrest attest detest
    infest inquest conquest behest tempest earnest everest midwest northwest southwest priest
    unrest latest pretest retest""".split()
)

#: capitalised words that are no claim wherever they stand
NEUTRAL_NAMES = frozenset(
    """i i'm i've i'll i'd ok english chinese french german spanish italian japanese dutch
    portuguese korean""".split()
)


def vocabulary(block: str) -> tuple[str, ...]:
    """A ``|``-separated block as terms, longest first (so "goose down" wins over "down")."""
    terms = {t.strip() for t in block.replace("\n", "").split("|") if t.strip()}
    return tuple(sorted(terms, key=lambda t: (-len(t), t)))


#: kind -> its terms, longest first
TERMS: dict[str, tuple[str, ...]] = {
    "material": vocabulary(MATERIALS),
    "certification": vocabulary(CERTIFICATIONS),
    "feature": vocabulary(FEATURES),
    "colour": vocabulary(COLOURS),
    "part": vocabulary(PARTS),
}
SUPERLATIVE_TERMS = vocabulary(SUPERLATIVES)

#: spellings that are one word to the checker
SPELLINGS = {
    "aluminum": "aluminium",
    "fiber": "fibre",
    "fiberglass": "fibreglass",
    "gray": "grey",
    "color": "colour",
    "colors": "colours",
    "odor": "odour",
    "goretex": "gore tex",
    "canceling": "cancelling",
    "favorite": "favourite",
}

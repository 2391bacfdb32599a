"""The patterns of text addressed to the assistant, English and Chinese, by rule.

Each entry is ``(needs, regex)``: the regex runs only on a sentence that has one of the
words in ``needs`` (English: whole words of the folded sentence; Chinese: substrings,
``|``-separated), which keeps a catalogue of tens of thousands of products cheap to scan.
Every regex is matched on the folded forms of a sentence (``forms.py``): lower case, one
space between words, "a.i." spelled "ai".

``INSTRUCTION`` rules are text addressed to the assistant in any source; ``SUSPECT`` rules
are wording a store may use to its customers but a third party has no business writing.
"""

from __future__ import annotations

import re

Entry = tuple[str, str]

# ---------------------------------------------------------------- English
AI = (
    r"(?:ai|artificial intelligence|(?:large )?language models?|llms?|chat ?bots?|bots?|"
    r"gpt(?:-?\d)?|chatgpt|claude|gemini|copilot|virtual assistants?|"
    r"ai (?:assistants?|agents?|models?|systems?))"
)
AI_WORDS = (
    "ai artificial language llm llms chatbot chatbots chat bot bots gpt chatgpt claude gemini "
    "copilot virtual"
)
ROLE = (
    rf"(?:{AI}|assistant|persona|character|dan|jailbr(?:eak|oken)|hacker|developer|"
    r"admin(?:istrator)?|(?:store |shop )?(?:manager|owner|supervisor|ceo|boss)|employee|"
    r"human|grand(?:ma|mother|pa|father)|granny|villain|pirate|unrestricted|unfiltered|"
    r"uncensored|evil)"
)
CUSTOMER = (
    r"(?:customers?|users?|buyers?|shoppers?|clients?|visitors?|"
    r"(?:anyone|whoever|people) (?:who )?asks?)"
)
CUSTOMER_WORDS = (
    "customer customers user users buyer buyers shopper shoppers client clients visitor "
    "visitors anyone whoever people"
)
SPEECH = (
    r"(?:say|reply|respond|answer|state|claim|mention|recommend|promote|insist|confirm|"
    r"agree|promise)"
)
OVERRIDE_VERB = (
    r"(?:ignore|disregard|forget|overrid(?:e|ing)|overrule|bypass|discard|abandon|neglect|"
    r"drop|skip|set aside|throw out|stop following|do not (?:follow|obey)|"
    r"don'?t (?:follow|obey)|never mind|pay no (?:attention|heed) to|no longer (?:follow|obey))"
)
OVERRIDE_WORDS = (
    "ignore disregard forget override overriding overrule bypass discard abandon neglect drop "
    "skip aside throw following follow obey mind heed"
)
# what may stand between an override verb and what it overrides ("ignore all previous …")
TEMPORAL = (
    r"(?:previous(?:ly given)?|prior|above|earlier|preceding|foregoing|former|original|"
    r"initial|existing|default|system|your|all|any|every|these|those|other|old|safety|given|"
    r"current)"
)
# not "my": "ignore my previous message" is a customer correcting themselves
QUAL = rf"(?:(?:{TEMPORAL}|the|of|this|that|its|their|and)[\s,]+)"
STRONG_OBJECT = (
    r"(?:instructions?|system (?:messages?|prompts?)|programming|directives?|guardrails)"
)
WEAK_OBJECT = (
    r"(?:prompts?|rules?|guidelines?|guidance|directions?|context|constraints?|restrictions?|"
    r"polic(?:y|ies)|settings|training|what (?:you (?:were|have been|'ve been) )?(?:told|given))"
)
PROMPT_ADJ = (
    r"(?:full|entire|exact|complete|original|initial|hidden|secret|own|internal|underlying|"
    r"real|first|current|actual|system|verbatim|developer|confidential|starting|opening|"
    r"operating)"
)

EN_INSTRUCTION: dict[str, list[Entry]] = {
    "override": [
        # with a qualifier that points back at the assistant's own orders
        (
            OVERRIDE_WORDS,
            rf"\b{OVERRIDE_VERB}\s+{QUAL}{{0,4}}{TEMPORAL}[\s,]+{QUAL}{{0,3}}"
            rf"(?:{STRONG_OBJECT}|{WEAK_OBJECT})\b",
        ),
        # "ignore instructions", "ignore the instructions" (not "…the instructions on the tag")
        (
            OVERRIDE_WORDS,
            rf"\b{OVERRIDE_VERB}\s+(?:(?:the|all|any)\s+)?{STRONG_OBJECT}\b"
            r"(?!\s+(?:on|in|printed|for|of|that came|included|supplied|from the)\b)",
        ),
        (
            OVERRIDE_WORDS,
            rf"\b{OVERRIDE_VERB}\s+(?:everything|anything|all)\s+(?:above|before|"
            r"else|prior|previous(?:ly)?|you (?:were|have been|'ve been) (?:told|given))\b",
        ),
        (OVERRIDE_WORDS, rf"\b{OVERRIDE_VERB}\s+(?:all of )?(?:the|what(?:'s| is| was)?) above\b"),
        (
            "instruction instructions directive directives task objective persona role prompt",
            r"\b(?:new|updated|real|actual|true|revised|overriding|secret|hidden|additional|"
            r"special) (?:system )?(?:instructions?|directives?|task|objective|persona|role|"
            r"prompt)\s*[:：]",
        ),
        (
            "instruction instructions directive directives job task goal purpose role mission "
            "persona prompt",
            r"\byour (?:new|real|true|actual|only|secret|hidden) (?:instructions?|directives?|job|"
            r"task|goal|purpose|role|mission|persona|prompt)\b",
        ),
    ],
    "role": [
        (
            "now henceforth hereby",
            r"\byou(?:'re| are| will be| shall be)? (?:now|from now on|henceforth|hereby)\s+"
            r"(?:(?:a|an|the|my|our|called|named|playing|in|no longer)\s+)?(?:[\w-]+\s+)?"
            rf"(?:{AI}|assistant|persona|character|dan|jailbr(?:eak|oken)|unrestricted|"
            r"unfiltered|uncensored|evil|(?:developer|god|dan) mode)\b",
        ),
        (
            "longer",
            r"\byou(?:'re| are) no longer (?:(?:a|an|the|just)\s+)?(?:[\w-]+\s+)?"
            rf"(?:{AI}|assistant)\b",
        ),
        (
            "bound restricted limited constrained",
            r"\byou(?:'re| are) (?:no longer|not) (?:bound|restricted|limited|constrained) by\b",
        ),
        (
            "now",
            r"\bfrom now on,? (?:you (?:are|'re) (?:a|an|the|my|in|no longer|free to|allowed|"
            r"permitted|not)\b|(?:you (?:will|must|shall|should|'ll) )?(?:act|respond|reply|"
            r"answer|speak|talk|behave|pretend|ignore|obey|only (?:say|reply|respond|answer)|"
            r"(?:always |never )?(?:say|end|start|begin|finish|close|sign|add|append|include|"
            r"mention|use) (?:every|each|all|your|the)\b)\b)",
        ),
        (
            "act behave respond reply answer speak talk write",
            r"\b(?:act|behave|respond|reply|answer|speak|talk|write)\s+(?:only\s+)?(?:as|like)\s+"
            r"(?:if\s+you\s+(?:are|were)\s+)?(?:(?:a|an|the|my|your|our)\s+)?(?:[\w-]+\s+){0,2}"
            rf"{ROLE}\b",
        ),
        (
            "pretend",
            r"(?:^|\b(?:please|now|just|you must|you will|you should|want you to|let'?s|and|then)"
            r"\s+)pretend\s+(?:to\s+be|(?:that\s+)?you(?:'re| are| were)|you're)\b",
        ),
        (
            "imagine",
            r"\bimagine (?:that )?you(?:'re| are| were)\s+(?:(?:a|an|the|my)\s+)?(?:[\w-]+\s+){0,2}"
            rf"{ROLE}\b",
        ),
        (
            "role roleplay roleplaying",
            r"\brole[\s-]?play(?:ing)?\s+(?:as|with me|a scenario|a game|game with)\b|"
            r"\blet'?s role[\s-]?play\b",
        ),
        ("play", r"\bplay (?:the )?(?:role|part) of\b|\blet'?s play a game\b"),
        (
            # a rule for every reply to come: "end every answer with…", "每个回答都加上…"
            "every each all",
            r"(?:^|[.,;:!?]\s*|\b(?:and|then|please|now|always|also|just|on|"
            r"you (?:must|should|will|shall))\s+)(?:end|start|begin|finish|close|prefix|suffix|"
            r"append to) (?:every|each|all|any) (?:of your )?(?:answers?|repl(?:y|ies)|"
            r"responses?)\b",
        ),
        ("mode", r"\b(?:developer|god|jailbreak|dan|unrestricted|sudo) mode\b"),
        ("jailbreak jailbreaking jailbroken", r"\bjailbr(?:eak|eaking|oken)\b"),
        ("anything", r"\bdo anything now\b"),
    ],
    "marker": [
        (
            "im start end system user assistant endoftext eot header",
            r"<\|?\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|"
            r"end_header_id)\s*\|?>",
        ),
        ("inst", r"\[/?inst\]"),
        ("sys", r"<</?sys>>"),
        ("turn", r"<(?:start|end)_of_turn>"),
        (
            "system assistant admin developer",
            r"\[/?(?:system|assistant|admin|developer)(?: message| prompt| note)?\]",
        ),
        (
            "system instruction instructions admin developer prompt",
            r"</?(?:system|instructions?|admin|developer|prompt)>",
        ),
        (
            "system assistant",
            r"^\s*#{1,6}\s*(?:system|assistant)\s*(?:prompt|message|instructions?)?\s*:?\s*$",
        ),
        (
            "system assistant developer admin administrator operator ai",
            r"^\W*(?:system|assistant|developer|admin(?:istrator)?|operator|ai)\s*(?:message|"
            r"prompt|instructions?|override|notice|note|update|command|alert)s?\s*[:：]",
        ),
    ],
    "addressed": [
        (
            AI_WORDS,
            r"\bas an? (?:ai|artificial intelligence|(?:large )?language model|llm|chat ?bot|"
            r"virtual assistant|ai (?:assistant|model)|bot)\b",
        ),
        (
            AI_WORDS + " assistant assistants",
            r"\b(?:dear|attention|hey|hi|hello|note (?:to|for)|message (?:to|for)|"
            r"notice (?:to|for)|instructions? (?:to|for)|reminder (?:to|for)|"
            r"important (?:note |notice |message )?"
            rf"(?:to|for))\s*:?\s*(?:the |all |any |every )?(?:{AI}|assistants?)\b",
        ),
        (
            AI_WORDS + " assistant automated reading",
            rf"\b(?:if|when|since|because|while) you(?:'re| are) (?:an? )?(?:{AI}|assistant|"
            r"automated|reading this as)\b",
        ),
        (
            AI_WORDS,
            rf"\b{AI} (?:reading|processing|summari[sz]ing|parsing|seeing|indexing|answering|"
            r"handling|using) (?:this|these|the following)\b",
        ),
        (AI_WORDS, rf"\b(?:any|all|every) {AI}\b"),
        (
            AI_WORDS,
            rf"\b(?:the |an? )?{AI} (?:must|should|shall|needs? to|has to|have to|"
            r"(?:is|are) (?:required|instructed|expected|told) to)\b",
        ),
        # "…and tell the customer", "you must inform users", "Always assure buyers"
        (
            CUSTOMER_WORDS,
            r"(?:^|[.,;:!?]\s*|\b(?:and|then|please|must|should|always|also|just|simply|now|"
            r"you will|you'll|you should|you must|you need to|make sure (?:to|you)|be sure to|"
            r"remember to|don'?t forget to|never)\s+)(?:tell|inform|assure|promise|advise|notify|"
            r"remind|convince|persuade|let|reply to|respond to|answer|offer|give)\s+"
            rf"(?:the |every |each |all |any |a |your |our )?{CUSTOMER}\b",
        ),
        (
            "always only",
            rf"\b(?:always|only) {SPEECH}\s+(?:with|that|yes|no|by saying)\b|"
            rf"\b(?:always|only) {SPEECH}\s*[\"“']",
        ),
        (
            "when whenever",
            rf"\bwhen(?:ever)? (?:a |the |any |an? )?(?:{CUSTOMER}|someone|anyone|people)\s+"
            r"(?:asks?|inquires?|enquires?|writes?|says?|mentions?|wants?)\b[^.!?]{0,80}?,\s*"
            rf"(?:please\s+|you\s+(?:should|must|will)\s+|always\s+|just\s+)?(?:{SPEECH}|tell|"
            r"give|offer|inform)\b",
        ),
        ("must", rf"\byou must (?:{SPEECH}|tell|inform|reveal|obey|comply)\b"),
    ],
    "prompt": [
        (
            "prompt prompts preprompt pre message messages metaprompt meta developer",
            r"\b(?:system prompts?|system messages?|pre-?prompt|meta ?prompt|initial prompt|"
            r"hidden prompt|prompt you (?:were|have been) given|developer message)\b"
            r"(?!\s+(?:on|to|that appears?) (?:the )?(?:screen|display))",
        ),
        (
            "prompt instructions programming directives configuration rules guidelines context",
            r"\b(?:reveal|show|print|display|output|repeat|recite|echo|dump|leak|expose|share|"
            r"disclose|paste|copy|write (?:out|down)|spell out|list|give me|tell me|send me|"
            r"what (?:is|are|was|were)|what's|whats|translate|summari[sz]e|encode|"
            r"read (?:out|back))"
            rf"\b(?:\s+\w+){{0,4}}?\s+(?:your(?:\s+{PROMPT_ADJ})*|the(?:\s+{PROMPT_ADJ})+)\s+"
            r"(?:prompt|instructions|programming|directives|configuration|rules you (?:follow|"
            r"were given)|guidelines you (?:follow|were given)|context window)\b"
            r"(?!\s+(?:for|on|about|to|regarding|of|when|if)\b)",
        ),
        (
            "told instructed programmed configured prompted set",
            # past tense: "what are you programmed to do" asks what the bot can do
            r"\b(?:what|how) (?:were|have) you (?:been )?(?:told|instructed|programmed|"
            r"configured|prompted|set up)\b",
        ),
        (
            "above before preceding prior verbatim word",
            r"\b(?:repeat|print|output|copy|recite|echo|return|translate|summari[sz]e|write|show)"
            r"\b[^.?!]{0,40}?\b(?:(?:text|words|messages?|everything|content|all|what(?:'s| is| "
            r"was)?|lines?|instructions)\s+(?:above|before (?:this|my)|preceding|prior to)|"
            r"verbatim|word for word)\b",
        ),
        (
            "begin beginning start starting",
            r"\b(?:begin|start)(?:ning|ing)? (?:your (?:reply|answer|response) )?with "
            r"[\"“']?you are\b",
        ),
    ],
}
EN_SUSPECT: dict[str, list[Entry]] = {
    "directive": [
        (
            "must should need have",
            rf"\b(?:you|we|staff) (?:must|should|have to|need to|are to) (?:{SPEECH}|tell)\b",
        ),
        (
            "override overrides supersede supersedes replace replaces precedence official",
            r"\b(?:this|these|the following) (?:text|note|description|statement|information|"
            r"review|message|policy|section) (?:overrides?|supersedes?|replaces?|takes? "
            r"precedence|is the official)\b",
        ),
        (
            "override overrides supersede supersedes precedence",
            r"\b(?:overrides?|supersedes?|takes? precedence over) (?:all |any |the )?(?:other |"
            r"previous |existing |store |official )?(?:polic(?:y|ies)|rules|instructions|"
            r"information|terms)\b",
        ),
    ],
    "marker": [("system assistant", r"^\W*(?:system|assistant)\s*[:：]")],
}

# ---------------------------------------------------------------- Chinese
ZH_OVERRIDE_VERB = (
    "(?:忽略|忽视|无视|忘记|忘掉|忘了|不要理会|不要理睬|别理会|不用理会|不要管|别管|不用管|"
    "不必遵守|不要遵守|不用遵守|别遵守|停止遵守|不再遵守|跳过|抛开|抛弃|丢掉|放弃|撇开|推翻)(?:掉)?"
)
ZH_OVERRIDE_NEEDS = "忽|无视|忘|理会|理睬|管|遵守|跳过|抛|丢掉|放弃|撇开|推翻"
ZH_CORE = (
    "(?:之前|以前|先前|此前|刚才|上面|上述|前面|以上|原来|原有|原先|原始|初始|所有|全部|一切|"
    "你的|你收到的|给你的|系统|其他|任何|这些|那些)"
)
ZH_QUAL = rf"(?:{ZH_CORE}|的|和|与|、|\s)"
ZH_STRONG = "(?:指令|指示|命令|提示词|系统消息|系统提示)"
ZH_WEAK = "(?:提示|规则|设定|约束|程序|要求|说明|内容|对话|安排|限制|规定|设置)"
ZH_AI = "(?:ai|人工智能|语言模型|大模型|智能助手|ai助手|聊天机器人|机器人|助手|模型|gpt|chatgpt)"
#: the narrow set, where "模型" or "机器人" would be a product (a scale model, a robot vacuum)
ZH_AI_STRICT = "(?:ai|人工智能|语言模型|大模型|智能助手|ai助手|聊天机器人|gpt|chatgpt)"
ZH_ROLE = (
    f"(?:{ZH_AI}|角色|dan|黑客|管理员|经理|老板|店长|店主|开发者|奶奶|外婆|爷爷|主管|"
    "没有限制|不受限制|无限制|自由的|邪恶)"
)
ZH_CUSTOMER = "(?:客户|用户|顾客|买家|访客|提问者|问的人|消费者)"
ZH_PROMPT_VERB = (
    "(?:输出|打印|显示|告诉我|说出|重复|复述|透露|泄露|给我看|展示|发给我|发我|翻译|写出|列出|"
    "总结|念出|背诵|贴出)"
)

ZH_INSTRUCTION: dict[str, list[Entry]] = {
    "override": [
        (ZH_OVERRIDE_NEEDS, f"{ZH_OVERRIDE_VERB}{ZH_QUAL}*{ZH_STRONG}"),
        (ZH_OVERRIDE_NEEDS, f"{ZH_OVERRIDE_VERB}{ZH_QUAL}*{ZH_CORE}{ZH_QUAL}*{ZH_WEAK}"),
        ("新", r"新(?:的)?(?:指令|指示|任务|规则|设定|身份)\s*(?:[:：]|是|如下)"),
        ("任务|工作|目标|身份", "你(?:的)?(?:真正|新|唯一)的?(?:任务|工作|目标|身份)是"),
    ],
    "role": [
        ("你现在", f"你现在(?:是|就是|扮演|成为|作为)(?:一个|一名|一位|我的)?.{{0,8}}?{ZH_ROLE}"),
        ("从现在", r"从现在(?:开始|起)[，,\s]*你(?:是|将扮演|必须|只能|只|不再|扮演|就是|要扮演)"),
        ("假装|假扮|冒充", "(?:假装|假扮|冒充)(?:你是|成为?|为|一个|一名|一位)"),
        ("扮演", "(?:你|请|现在)(?:来)?扮演|扮演(?:一个|一名|一位|我的)|角色扮演"),
        ("不再是", f"你(?:已经)?不再是(?:一个)?.{{0,6}}?{ZH_ROLE}"),
        ("模式", "(?:开发者|上帝|越狱|无限制|调试|管理员|dan)模式"),
        ("越狱", "越狱"),
        (
            "每|所有",
            "(?:每|所有)(?:一)?(?:个|条|次)?(?:回答|回复|答复)(?:的)?(?:都要?|末尾|结尾|开头|最后)"
            "(?:都)?(?:要)?(?:加上|加|附上|带上|写上|包含|注明|说|提到)",
        ),
    ],
    "marker": [
        ("【", "【(?:系统|指令|管理员|助手|开发者)(?:消息|提示|通知)?】"),
        ("系统|指令|管理员", r"[\[（(](?:系统|指令|管理员)(?:消息|提示)?[\]）)]"),
        ("助手|管理员|开发者", r"^\W*(?:助手|管理员|开发者)\s*[:：]"),
        ("系统", r"系统(?:提示|指令|消息|设定|通知)\s*[:：]"),
    ],
    "addressed": [
        ("作为", f"作为(?:一个|一名)?{ZH_AI}"),
        (
            "告诉|通知|告知|回复|回答|答复|转告",
            r"(?:^|[，,。；;：:！!]|请|并|然后|就|要|必须|务必|一定要|始终|总是|永远|只|直接|记得)\s*"
            f"(?:告诉|通知|告知|回复|回答|答复|转告)(?:每个|每位|所有|任何|该|这位|那位)?{ZH_CUSTOMER}",
        ),
        ("对", f"对(?:每个|每位|所有|任何|该|这位|那位)?{ZH_CUSTOMER}(?:说|表示|声称)"),
        (
            "当|如果|若|只要|一旦",
            f"(?:当|如果|若|只要|一旦)(?:有)?(?:{ZH_CUSTOMER}|有人|任何人)(?:问|询问|咨询|提到|问到|问起)"
            r".{0,30}?[，,]\s*(?:请|就|你就|你要|必须|一律)?\s*(?:回答|回复|告诉|说|答复|推荐|确认)",
        ),
        (
            "ai|人工智能|模型|助手|机器人|gpt",
            f"{ZH_AI_STRICT}(?:们)?(?:请|必须|应该|需要|务必|一定要)",
        ),
        ("你必须", "你必须(?:告诉|回答|回复|说|确认|同意|承认|给|遵守|服从|按照|透露)"),
        ("亲爱|致|注意|提醒", rf"(?:亲爱的|致|注意|提醒)[，,\s]*(?:所有的?|各位)?{ZH_AI}"),
        ("如果你是", f"如果你是(?:一个)?{ZH_AI}"),
    ],
    "prompt": [
        # "按照系统提示操作" (follow the on-screen prompts) is a manual's, not a prompt
        (
            "系统|提示词|指令",
            "(?<!按照)(?<!根据)(?<!依照)(?<!按)系统提示(?!操作|进行|完成|填写|输入)|提示词|系统指令|"
            "系统设定|初始指令|隐藏指令|内部指令|系统消息",
        ),
        (
            ZH_PROMPT_VERB[3:-1],
            f"{ZH_PROMPT_VERB}(?:一下|一遍|出)?(?:你的|你收到的|你被给的|给你的|上面的?|以上的?|"
            "前面的?|最初的?|原始的?|完整的?|全部的?|系统的?|隐藏的?|内部的?)+(?:系统)?(?:提示|指令|"
            "指示|设定|规则|内容|文字|消息|配置|prompt)",
        ),
        ("你的", "你的(?:提示|指令|设定|规则|prompt)(?:是什么|是啥|有哪些|内容|原文)"),
        (
            "你被|你是怎么被|你是如何被",
            "你(?:被|是怎么被|是如何被)(?:设定|设置|编程|要求|指示|告知|训练)",
        ),
    ],
}
ZH_SUSPECT: dict[str, list[Entry]] = {
    "directive": [
        ("以此|以本", "以(?:此|本(?:条|段|页|说明))为准"),
        (
            "覆盖|取代|优先于",
            "(?:覆盖|取代|优先于)(?:所有|其他|之前的?|原有的?|店铺的?)?(?:政策|规则|规定|说明|指令)",
        ),
    ],
    "marker": [("系统", r"^\W*系统\s*[:：]")],
}

#: case matters here: "SYSTEM:" is a marker, "System: Android 14" a product's spec
UPPER_MARKER = re.compile(r"^\W*(?:SYSTEM|ASSISTANT|DEVELOPER|ADMIN|OPERATOR)\s*[:：]")

#: phrases matched on the squashed form, every non-letter removed ("i g n o r e", "忽 略")
SQUASHED: dict[str, list[str]] = {
    "override": [
        r"(?:ignore|disregard|forget|bypass)(?:all|any|the|your|previous|prior|above|earlier|"
        r"system|my|of|these)+(?:instructions?|prompts?|rules|directives|programming)",
        f"{ZH_OVERRIDE_VERB}(?:之前|以前|先前|上面|上述|前面|以上|所有|全部|一切|你的|系统|的)+"
        f"{ZH_STRONG}",
    ],
    "role": [r"youarenow(?:an?|the)?(?:ai|bot|dan|assistant|unrestricted|evil)", "你现在是"],
    "prompt": [
        r"systemprompt",
        r"(?:reveal|print|show|repeat)your(?:instructions|prompt)",
        "提示词",
    ],
    "addressed": [r"tellthecustomer", "告诉客户"],
}


class Rule:
    """One compiled entry: its prefilter and its regex."""

    __slots__ = ("cjk", "pattern", "words")

    def __init__(self, needs: str, pattern: str, *, cjk: bool) -> None:
        self.cjk = cjk
        self.words = tuple(needs.split("|")) if cjk else frozenset(needs.split())
        self.pattern = re.compile(pattern, re.I | re.M)

    def search(self, form: str, words: frozenset[str]) -> bool:
        if self.cjk:
            if not any(w in form for w in self.words):
                return False
        elif words.isdisjoint(self.words):
            return False
        return self.pattern.search(form) is not None


def _compile(en: dict[str, list[Entry]], zh: dict[str, list[Entry]]) -> dict[str, list[Rule]]:
    table: dict[str, list[Rule]] = {}
    for cjk, source in ((False, en), (True, zh)):
        for rule, entries in source.items():
            table.setdefault(rule, []).extend(Rule(n, p, cjk=cjk) for n, p in entries)
    return table


STRONG = _compile(EN_INSTRUCTION, ZH_INSTRUCTION)
WEAK = _compile(EN_SUSPECT, ZH_SUSPECT)
SQUASHED_RULES = {rule: re.compile("|".join(ps), re.I) for rule, ps in SQUASHED.items()}

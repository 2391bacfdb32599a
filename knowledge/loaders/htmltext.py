"""Product descriptions written in HTML (Shopify's ``Body (HTML)``, WooCommerce, feeds) as
readable text: paragraphs separated by a blank line, list items and table rows one per
line, entities decoded, scripts, styles and comments dropped. Standard library only."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_LOOKS_LIKE_HTML = re.compile(
    r"<(?:/?(?:p|br|div|span|ul|ol|li|strong|b|i|em|u|h[1-6]|table|thead|tbody|tr|td|th|a|img"
    r"|section|article|blockquote|pre|dl|dt|dd|hr|script|style|meta|font|small|sup|sub)\b"
    r"[^>]*|!--)>?|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]{1,31});",
    re.IGNORECASE,
)

PARAGRAPHS = frozenset(
    "p div section article blockquote pre h1 h2 h3 h4 h5 h6 table ul ol dl hr header".split()
)
LINES = frozenset(("li", "tr", "dt", "dd", "br"))
CELLS = frozenset(("td", "th"))
_LINE, _PARAGRAPH = "\x01", "\x02"  # break markers, resolved once the text is complete
SKIP = frozenset(("script", "style", "noscript", "template", "iframe", "svg", "head", "object"))


def looks_like_html(text: str) -> bool:
    """Does the text use HTML tags or character entities (so it should be converted)?"""
    return bool(_LOOKS_LIKE_HTML.search(text))


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment."""
    parser = _Reader()
    parser.feed(html)
    parser.close()
    return parser.text()


def description_text(text: str) -> str:
    """A description as plain text: converted when it is HTML, else only stripped."""
    text = text.strip()
    return html_to_text(text) if looks_like_html(text) else text


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip = 0
        self._cells = 0  # cells so far in the current table row

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self._skip += 1
        elif tag in PARAGRAPHS:
            self._break("\n\n")
        elif tag in LINES:
            self._break("\n")
            self._cells = 0
            if tag == "li":
                self._out.append("- ")
        elif tag in CELLS:
            if self._cells:
                self._out.append(" | ")
            self._cells += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self._break("\n" if tag == "br" else "\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in PARAGRAPHS:
            self._break("\n\n")
        elif tag in LINES:
            self._break("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._out.append(re.sub(r"\s+", " ", data.replace("\u00a0", " ")))

    def _break(self, kind: str) -> None:
        self._out.append(_LINE if kind == "\n" else _PARAGRAPH)

    def text(self) -> str:
        joined = "".join(self._out)
        # a run of breaks is one break: a paragraph break if any in it is one
        joined = re.sub(
            f"[ {_LINE}{_PARAGRAPH}]*[{_LINE}{_PARAGRAPH}][ {_LINE}{_PARAGRAPH}]*",
            lambda m: "\n\n" if _PARAGRAPH in m.group() else "\n",
            joined,
        )
        text = "\n".join(re.sub(" {2,}", " ", line.strip()) for line in joined.split("\n"))
        # entities the parser left (e.g. a stray "&amp;amp;" double-encoded by an exporter)
        return unescape(text).strip() if "&" in text and ";" in text else text.strip()

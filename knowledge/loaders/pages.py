"""Page loaders: Markdown (with optional YAML front matter), HTML and plain text.

A page's id is ``page:`` + its path relative to the source folder, so it is stable when the
folder moves. Pages are chunked later (see ``knowledge.chunking``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from knowledge.documents import Document
from knowledge.errors import LoadError
from knowledge.loaders.common import iter_files, read_text
from knowledge.text import detect_language

PAGE_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt")
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def load_pages(path: str | Path, *, kind: str = "page") -> list[Document]:
    """Load one page or every page under a folder."""
    root = Path(path)
    base = root.parent if root.is_file() else root
    return [load_page(file, base=base, kind=kind) for file in iter_files(root, PAGE_SUFFIXES)]


def load_page(path: Path, *, base: Path, kind: str = "page") -> Document:
    text = read_text(path)
    suffix = path.suffix.lower()
    meta: dict[str, Any] = {}
    if suffix in (".html", ".htm"):
        title, body = _html_text(text)
        fmt = "html"
    elif suffix in (".md", ".markdown"):
        meta, body = _front_matter(path, text)
        heading = H1.search(body)
        title = meta.pop("title", None) or (heading.group(1) if heading else None)
        fmt = "markdown"
    else:
        title, body, fmt = None, text, "text"
    body = body.strip()
    if not body:
        raise LoadError(path, "the page is empty: remove it or add its text")
    rel = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
    metadata: dict[str, Any] = {
        "kind": meta.pop("kind", None) or kind,
        "title": str(title or path.stem.replace("-", " ").replace("_", " ").title()),
        "format": fmt,
        "lang": meta.pop("lang", None) or detect_language(body[:2000]),
        "source": str(path),
    }
    metadata.update({k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)})
    return Document(id=f"page:{rel}", text=body, metadata=metadata)


def _front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        raise LoadError(path, f"front matter is not valid YAML: {exc}", line=line) from None
    if not isinstance(meta, dict):
        raise LoadError(path, "front matter must be a mapping (title: ..., url: ...)", line=2)
    return meta, text[match.end() :]


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per paragraph; title and first h1."""

    BLOCKS = frozenset("p div section article li h1 h2 h3 h4 h5 h6 tr br table ul ol".split())
    SKIP = frozenset(("script", "style", "noscript", "template", "nav", "footer", "head"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self._skip = 0
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._in.append(tag)
        if tag in self.SKIP and tag != "head":
            self._skip += 1
        if tag in self.BLOCKS:
            self.parts.append("\n\n" if tag.startswith("h") or tag == "p" else "\n")
            if tag in ("h2", "h3"):
                self.parts.append("## ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and tag != "head" and self._skip:
            self._skip -= 1
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "title":
            self.title += data
            return
        if self._skip:
            return
        if current == "h1":
            self.h1 += data
        self.parts.append(data)


def _html_text(html: str) -> tuple[str | None, str]:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\n\s*\n\s*", "\n\n", text)
    title = (parser.h1 or parser.title).strip() or None
    return title, text.strip()

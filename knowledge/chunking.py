"""Documents into chunks. FAQ entries and products stay whole; pages are split by their
Markdown sections, then by LangChain's recursive splitter with separators that also cut
Chinese text at sentence ends."""

from __future__ import annotations

from functools import lru_cache

from knowledge.documents import Chunk, Document, Key

# Paragraphs, lines, then sentence ends in Chinese and English, then clauses, then words.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ", ""]
HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        keep_separator="end",
        strip_whitespace=True,
    )


def chunk_document(
    doc: Document,
    *,
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    faq_answer_as_key: bool = True,
) -> list[Chunk]:
    """Split one document into chunks, each with the keys that find it.

    An FAQ entry's keys are its question variants and (unless ``faq_answer_as_key`` is
    off) its answer, so a question worded like the answer ("do you take Amex?") finds it.
    """
    if doc.kind == "faq":
        keys = [Key(q, "question") for q in doc.metadata.get("questions", [])]
        if faq_answer_as_key or not keys:
            keys.append(Key(doc.text, "answer"))
        return [Chunk(doc.id, doc.id, doc.text, dict(doc.metadata), tuple(keys))]
    if doc.kind == "product":
        return [Chunk(doc.id, doc.id, doc.text, dict(doc.metadata), (Key(doc.text, "text"),))]
    return _chunk_page(doc, chunk_size, chunk_overlap)


def _sections(doc: Document) -> list[tuple[str, str]]:
    """(section path, text) pairs; a non-Markdown page is one section."""
    if doc.metadata.get("format") != "markdown":
        return [("", doc.text)]
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    splitter = MarkdownHeaderTextSplitter(headers_to_split_on=HEADERS, strip_headers=True)
    out = []
    for part in splitter.split_text(doc.text):
        path = [part.metadata[name] for _, name in HEADERS[1:] if name in part.metadata]
        out.append((" › ".join(path), part.page_content))
    return out or [("", doc.text)]


def _chunk_page(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    splitter = _splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for section, text in _sections(doc):
        for piece in splitter.split_text(text):
            if not piece.strip():
                continue
            n = len(chunks)
            meta = dict(doc.metadata)
            meta["chunk"] = n
            if section:
                meta["section"] = section
            heading = f"{doc.title} › {section}" if section else doc.title
            chunks.append(
                Chunk(f"{doc.id}#{n}", doc.id, piece, meta, (Key(f"{heading}\n{piece}", "text"),))
            )
    return chunks

"""Streaming readers for past customer-service conversations (transcripts) replayed offline.

``read_transcripts(path)`` yields one :class:`Conversation` at a time, or a :class:`Malformed`
record for a conversation that cannot be used, and carries on with the next one. Files are
read as a stream: JSON Lines and CSV line by line, the two JSON-array formats element by
element in 64 KiB chunks, so a 1 GB file is never held in memory (only the current
conversation, and the set of conversation ids already seen, which is how a repeated id is
caught). Text is kept exactly as given: no trimming, no unescaping of HTML entities, no
redaction (the caller redacts).

Four formats are read. ``detect_format(path)`` tells them apart by their content (the first
non-blank characters, the first line, the keys of the first array element); the file
extension (``.jsonl``, ``.csv``, ``.json``) is only a hint when the content is ambiguous.
When it cannot tell, pass the format: ``shopbot ... --format jsonl``, or
``read_transcripts(path, format="jsonl")`` from Python.

Every file must be UTF-8 (a byte-order mark is allowed and ignored).

jsonl: shopbot's own format (JSON Lines)
----------------------------------------
One conversation per line, a JSON object::

    {"conversation_id": "c-1001", "meta": {"channel": "email"}, "turns": [
      {"role": "customer", "text": "Where is my order?", "timestamp": "2024-05-01T09:30:00Z"},
      {"role": "agent", "text": "It left our warehouse this morning."}]}

(shown over three lines here; in the file it is one line). Fields:

- ``conversation_id`` (required): a non-empty string; an integer is accepted and read as its
  decimal string.
- ``turns`` (required): a non-empty list of turns, in order. Each turn has ``role``
  (required), ``text`` (required, a string that is not blank) and ``timestamp`` (optional:
  an ISO-8601 string, kept as given; missing, ``null`` or ``""`` means none). Other keys of a
  turn are ignored.
- ``meta`` (optional): any JSON object, passed through as ``Conversation.meta``.

Blank lines are skipped. Line numbers in messages count every line from 1.

Roles (jsonl and csv) are ``customer``, ``agent`` and ``system``, and these synonyms, in
any letter case:

==================  ============
written             read as
==================  ============
``user``            ``customer``
``assistant``       ``agent``
``bot``             ``agent``
``human_agent``     ``agent``
==================  ============

``human`` is refused on purpose: some exports use it for the customer, others for a human
agent.

csv: one row per turn
---------------------
Comma-separated, fields quoted with double quotes when they hold a comma, a quote (written
twice) or a line break (RFC 4180). The header names the columns, in any order::

    conversation_id,role,text,timestamp,company
    c-1001,customer,Where is my order?,2024-05-01T09:30:00Z,Kestrel
    c-1001,agent,"It left our warehouse this morning, tracking follows.",,Kestrel
    c-1002,user,Do you ship to Canada?,,Kestrel

``conversation_id``, ``role`` and ``text`` are required; ``timestamp`` is optional (an empty
cell means none). Any other column goes into the conversation's ``meta``, taken from the
conversation's first row, as the string in the cell (here ``{"company": "Kestrel"}``);
columns with an empty name (such as the index column pandas writes) are ignored. The rows of
one conversation must be contiguous and in turn order. The file is read row by row, so an id
that comes back after another conversation has started cannot be merged: those rows are
reported as a :class:`Malformed` naming their line (the part read earlier has already been
returned, incomplete). Sort such a file by ``conversation_id`` with a stable sort first.

twitter: IBM Twitter Customer Care (Conversational Document Prediction)
------------------------------------------------------------------------
The layout of ``dev.json``/``train.json`` from github.com/IBM/twitter-customer-care-document-
prediction: one JSON array; each element is a conversation between customers and a brand's
support account::

    [{"dialogHeader": {"company": "TeamYouTube", "sessionID": "LgwAXtbbEm0mBvDrGmjk",
                       "conversationDateTime": "2020-04-01T17:31:32.000Z", ...},
      "dialogContent": [
        {"client": "CinVakas", "message": "@TeamYouTube my channel ...",
         "datetime": "2020-04-01T17:31:32.000Z", "tweet_ID": "1245403438755852288"},
        {"agent": "TeamYouTube", "message": "@CinVakas Could you ...", "datetime": "...",
         "tweet_ID": "..."}],
      "agentURL": {"url_utterance": "@CinVakas Thanks for the tag ... https://...",
                   "url": "https://...", "doc_id": "1770", "turn": "2", "tweet_ID": "..."}}]

- The conversation id is ``dialogHeader.sessionID``; ``meta`` holds ``company`` (from the
  header) and ``url`` and ``doc_id`` (from ``agentURL``: the support page the final reply
  links to).
- Who wrote a tweet is marked by which key it has: ``agent`` (the value is the support
  account) makes it an ``agent`` turn; ``client``, or ``client1``, ``client2``, … (a second
  customer joining the thread; the value is their handle) makes it a ``customer`` turn. A
  tweet needs exactly one of these. ``message`` is the text and ``datetime`` the timestamp.
- ``agentURL.url_utterance`` is the final agent reply, which is *not* in ``dialogContent``;
  it is appended as the last ``agent`` turn, without a timestamp (the data has none for it).
  A conversation without ``agentURL`` simply has no such turn.

abcd: ASAPP Action-Based Conversations Dataset
----------------------------------------------
The layout of ``abcd_sample.json`` from github.com/asappresearch/abcd: one JSON array of
conversations::

    [{"convo_id": 3592,
      "scenario": {"flow": "product_defect", "subflow": "return_size", "personal": {...}, ...},
      "original": [["agent", "How can I help you?"],
                   ["customer", "I need to return an item."],
                   ["action", "Account has been pulled up for Crystal Minh."]],
      "delexed": [...]}]

- The conversation id is ``convo_id`` (an integer in the data, read as its decimal string).
- Turns come from ``original``, a list of ``[speaker, text]`` pairs: ``customer`` and
  ``agent`` keep their role; ``action`` (what the agent did in the agent tools, written as a
  sentence) becomes a ``system`` turn, kept in place so a replay can see what happened
  between the messages (skip ``system`` turns if you only want the dialogue). There are no
  timestamps. ``delexed`` (lower-cased, delexicalised copies) is ignored.
- ``meta`` holds ``flow`` and ``subflow`` from ``scenario`` when present; the rest of the
  scenario (the customer's personal and order details) is not copied.
- The full dataset file ``abcd_v1.1.json`` is one JSON *object* of ``train``/``dev``/
  ``test`` arrays, not an array: extract one split into its own file first.

Problems
--------
A conversation that cannot be used is yielded as :class:`Malformed`: a line or array
element that is not valid JSON, a missing or blank text, an unknown role, no turns, no
customer turn, a conversation id already used earlier in the file. ``Malformed.where`` names
the line (jsonl, csv) or the array element counted from 1 (``"dev.json, conversation 7"``).
Reading continues with the next conversation.

Problems with the whole file raise :class:`TranscriptError` with what is wrong and the fix:
a missing or unreadable file, text that is not UTF-8 (with the byte offset), a format that
cannot be detected or is unknown, a CSV header without the required columns, a JSON object
where an array belongs, broken JSON between array elements. ``read_transcripts`` checks the
file and its format when called; bytes that are not UTF-8 or broken structure further on are
found when reading reaches them, after the conversations before them have been yielded. A
file that ends in the middle of an array (truncated) yields a :class:`Malformed` for the cut
element or the missing ``]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.transcripts.detect import check_explicit_format, first_char, sniff_format
from connectors.transcripts.model import (
    CHUNK_SIZE,
    FORMAT_HELP,
    FORMATS,
    Conversation,
    Item,
    Malformed,
    Role,
    TranscriptError,
    TranscriptTurn,
    check_file,
    not_utf8,
    repeated_id,
)
from connectors.transcripts.readers import (
    check_csv_header,
    read_abcd,
    read_csv,
    read_jsonl,
    read_twitter,
)

__all__ = [
    "CHUNK_SIZE",
    "FORMATS",
    "Conversation",
    "Malformed",
    "Role",
    "TranscriptError",
    "TranscriptTurn",
    "detect_format",
    "read_transcripts",
]


def detect_format(path: str | Path) -> str:
    """The format of a transcript file, one of :data:`FORMATS`, told from its content.

    Raises :class:`TranscriptError` when the file cannot be read or its format cannot be
    told; the message names the known formats and how to pass one explicitly.
    """
    p = check_file(path)
    fmt, why = sniff_format(p)
    if fmt is not None:
        return fmt
    first = first_char(p)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson") and first in (None, "{"):
        return "jsonl"  # an empty file, or a first line that is broken JSON
    if suffix == ".csv" and first not in ("[", "{"):
        return "csv"  # the header check says precisely what is missing
    raise TranscriptError(f"{p}: cannot tell which transcript format this is: {why}. {FORMAT_HELP}")


def read_transcripts(
    path: str | Path, format: str | None = None, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[Conversation | Malformed]:
    """Conversations from a transcript file, one at a time, in file order.

    ``format`` is one of :data:`FORMATS`; when None it is detected (:func:`detect_format`).
    The file, its format and (for csv) its header are checked now, so whole-file problems
    raise :class:`TranscriptError` from this call; the conversations are read lazily.
    ``chunk_size`` is how many characters of a JSON-array file are read at a time.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    p = check_file(path)
    if format is None:
        fmt = detect_format(p)
    else:
        fmt = format.strip().lower()
        if fmt not in FORMATS:
            raise TranscriptError(f"unknown transcript format {format!r}. {FORMAT_HELP}")
        check_explicit_format(p, fmt)
    if fmt == "csv":
        check_csv_header(p)
    return _stream(p, fmt, chunk_size)


def _stream(p: Path, fmt: str, chunk_size: int) -> Iterator[Item]:
    readers = {"jsonl": read_jsonl, "csv": read_csv, "twitter": read_twitter, "abcd": read_abcd}
    unit = "line" if fmt in ("jsonl", "csv") else "conversation"
    seen: dict[str, int] = {}  # conversation id -> the line or element where it first appeared
    try:
        for location, item in readers[fmt](p, chunk_size):
            if item.id is None:
                yield item
                continue
            first = seen.setdefault(item.id, location)
            if first != location and isinstance(item, Conversation):
                yield repeated_id(p.name, fmt, unit, item.id, first, location)
            else:
                yield item
    except UnicodeDecodeError:
        raise not_utf8(p) from None

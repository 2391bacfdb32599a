"""Embedder behaviour shared by the backends: quiet on texts longer than the model reads."""

import logging

from knowledge.embedders.sentence_transformer import SentenceTransformerEmbedder

LONG_WARNING = "sequence-length-is-longer-than-the-specified-maximum"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_coverage_of_a_long_text_logs_no_tokenizer_warning(
    st_embedder: SentenceTransformerEmbedder,
):
    """Indexing a page chunk longer than 256 word pieces used to print transformers'
    'Token indices sequence length is longer than ...' (coverage counts every piece)."""
    tokenizer = st_embedder.model.tokenizer
    tokenizer.deprecation_warnings.pop(LONG_WARNING, None)  # it warns once per tokenizer
    records = Records()
    logger = logging.getLogger("transformers")  # transformers' loggers do not propagate to root
    logger.addHandler(records)
    try:
        coverage = st_embedder.coverage(["waterproof tent " * 200, "可以退货吗"])
    finally:
        logger.removeHandler(records)
    assert coverage[0] == 1.0 and coverage[1] < 0.5
    assert not [m for m in records.messages if "Token indices sequence length" in m]

"""Log records redacted like everything else: a message or a traceback that quotes a
customer's text (an exception raised on their message, say) is logged with placeholders."""

from __future__ import annotations

import logging

from bot.privacy.redactor import Redactor


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message and traceback (it never drops a
    record). Put it on handlers, not loggers, so records from every logger pass it."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the formatter to report
            return True
        record.msg, record.args = self.redactor.redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


def redact_logs(redactor: Redactor | None = None) -> RedactingFilter:
    """Put one ``RedactingFilter`` on every handler of the root logger; returns it."""
    found = RedactingFilter(redactor)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(found)
    return found

"""Structured logging: one JSON object per line, with the request id, never a token."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is now (Lambda ships stdout to CloudWatch)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def get_logger(level: str = "INFO") -> logging.Logger:
    logger = logging.getLogger("invoiceflow")
    if not any(isinstance(h.formatter, _JsonFormatter) for h in logger.handlers):
        handler = _StdoutHandler(sys.stdout)
        handler.setFormatter(_JsonFormatter())
        logger.handlers[:] = [handler]
        logger.propagate = False
    logger.setLevel(level.upper())
    return logger

"""Structured JSON logs: one JSON object per line on stderr.

Each record has time (UTC, ms), level, logger, message, and any `extra={...}` fields
the caller attached. py-libp2p's loggers are routed into the same handler
(LIBP2P.md pitfall 11: the library turns propagation off and prints warnings itself).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | str | bool | None) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def setup_logging(level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (ours and libp2p's) to one JSON handler at `level`."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    route_libp2p_logs()
    # httpx says every request at info: one line per transaction handed to CometBFT's RPC,
    # most of a loaded CometBFT node's log. A failed call is raised, and logged by its caller.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


def route_libp2p_logs() -> None:
    """libp2p sets propagate=False and its own stderr handlers: undo both, errors only."""
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "libp2p"]:
        lib_logger = logging.getLogger(name)
        lib_logger.propagate = True
        lib_logger.handlers.clear()
        lib_logger.setLevel(logging.NOTSET)
    logging.getLogger("libp2p").setLevel(logging.ERROR)

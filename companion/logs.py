"""Logging set-up: the human format, or one JSON object per line (`--log-format json`).

A JSON line holds time, level, logger, event (the message), and the community and command
when the code logging it names them (``extra={"community": ..., "command": ...}``), plus
the outcome and duration of a command and an error's traceback. What goes into a message
follows the README's privacy section: commands, rooms, schedules, errors; never member text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("human", "json")
FIELDS = ("community", "command", "outcome", "ms")
HUMAN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str = "human", level: int = logging.WARNING) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(HUMAN))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiosqlite logs every statement with its parameters at debug level: member text.
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))

"""Logging: one structured line per event on stderr (journald keeps them).

Format: ``2026-01-01T12:00:00.123Z INFO firmware.runtime: message key=value ...``.
Under systemd (``JOURNAL_STREAM`` set) the timestamp is left out (journald adds its
own) and the level is given as a ``<N>`` syslog prefix so ``journalctl -p`` works.

Rules: idTags are masked at INFO and above with ``mask_id_tag``; secrets are never
passed to a logger at all; OCPP frames are logged at DEBUG by ``firmware.ocpp.session``.
"""

from __future__ import annotations

import logging
import os
import sys
import time

_SYSLOG_LEVELS = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                  logging.CRITICAL: 2}


def mask_id_tag(id_tag: str | None) -> str:
    """``04A2B3C4D5`` → ``04A2******``: enough to match a driver's complaint, not to clone."""
    if not id_tag:
        return "-"
    keep = min(4, max(1, len(id_tag) // 3))
    return id_tag[:keep] + "*" * (len(id_tag) - keep)


class _LineFormatter(logging.Formatter):
    def __init__(self, journald: bool):
        super().__init__()
        self._journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().replace("\n", "\\n")
        if record.exc_info:
            message += " | " + self.formatException(record.exc_info).replace("\n", "\\n")
        if not message.isascii():
            # A lone surrogate from the CSMS (a \u escape in its JSON) cannot be written
            # as UTF-8; the stream would print a traceback instead of the line.
            message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        if self._journald:
            return f"<{_SYSLOG_LEVELS.get(record.levelno, 6)}>{record.name}: {message}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        return f"{stamp}.{millis:03d}Z {record.levelname} {record.name}: {message}"


def configure(level: str = "INFO", stream=None) -> None:
    """Install the line formatter on the root logger (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_LineFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The ocpp and websockets libraries log every frame at INFO/DEBUG themselves; we
    # log frames once, redacted, in firmware.ocpp.session.
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.WARNING)

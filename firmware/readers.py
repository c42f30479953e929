"""Card readers → ``CardPresented`` events with the canonical idTag and local knowledge.

The reader yields UID bytes; the idTag is the canonical form (uppercase hex in the
order the reader delivered, by default) so one physical card is one idTag whatever
reader saw it. The authorization store is consulted here (it is I/O) and its answer
travels with the event, keeping the core free of I/O.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from firmware.core import events as ev
from firmware.core.idtag import canonical_id_tag
from firmware.logs import mask_id_tag
from hal.errors import HalError
from hal.interfaces import CardRead

log = logging.getLogger(__name__)

READER_RETRY_S = 2.0


def id_tag_rule(options: dict[str, Any]):
    """The reader's UID → canonical idTag (uppercase hex, anticollision order).

    ``uid_reversed`` undoes readers that deliver the UID last byte first;
    ``uid_zero_pad_to`` strips the trailing 00 padding some readers add. Raises
    ``ValueError`` for a UID that cannot be an idTag (empty, or over 10 bytes).
    """
    reverse = bool(options.get("uid_reversed", False))
    pad_to = int(options.get("uid_zero_pad_to", 0) or 0)

    def to_id_tag(card: CardRead) -> str:
        uid = bytes(card.uid)
        if reverse:
            uid = uid[::-1]
        if pad_to and len(uid) == pad_to:
            # A 4-byte card read as 6 bytes: drop the padding, but never below 4 bytes
            # (a UID may itself end in 00).
            stripped = uid.rstrip(b"\x00")
            uid = stripped if len(stripped) >= 4 else stripped.ljust(4, b"\x00")
        return canonical_id_tag(uid)

    return to_id_tag


default_id_tag = id_tag_rule({})


class ReaderTask:
    def __init__(self, reader: Any, options: dict[str, Any], runtime: Any,
                 to_id_tag=default_id_tag):
        self.reader = reader
        self.options = options
        self.runtime = runtime
        self.to_id_tag = to_id_tag
        self.last_card: tuple[str, str] | None = None  # (raw, idTag) for diagnostics

    async def run(self) -> None:
        name = self.options.get("name", "reader")
        while True:
            try:
                async for card in self.reader.cards():
                    self.present(card)
            except HalError as e:
                log.error("reader %s failed: %s; retrying in %.0f s", name, e, READER_RETRY_S)
            await asyncio.sleep(READER_RETRY_S)

    def present(self, card: CardRead) -> None:
        try:
            id_tag = self.to_id_tag(card)
        except ValueError as e:
            log.warning("reader %s: card %s cannot be an idTag: %s", card.reader, card.raw, e)
            return
        self.last_card = (card.raw, id_tag)
        now = self.runtime.clock.now()
        list_entry, cache_entry, negative = self.runtime.auth.lookup(id_tag, now)
        log.info("card %s on reader %s", mask_id_tag(id_tag), card.reader)
        self.runtime.dispatch(ev.CardPresented(id_tag, card.reader, list_entry, cache_entry,
                                               negative))

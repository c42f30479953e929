"""Card readers → ``CardPresented`` events with the canonical idTag and local knowledge.

The reader yields UID bytes; the idTag is the canonical form (uppercase hex in the
order the reader delivered, by default) so one physical card is one idTag whatever
reader saw it. The authorization store is consulted here (it is I/O) and its answer
travels with the event, keeping the core free of I/O.

Diversion (console ``test rfid``): ``next_card(readers, timeout_s)`` hands the next
card presented on any reader to its caller *instead of* the station — no
``CardPresented``, so no authorization, no session — together with its canonical
idTag (or why it cannot be one). Exactly one card is diverted; later cards go to the
station as usual, also when the wait times out or is cancelled.

Health (console ``hw``): the reader task is the owner of its reader's errors. A failure
of ``cards()`` (a serial port that vanished, a reader that stopped answering) or of the
reopen that follows is recorded with its time in ``health``, and the task retries every
``retry_s`` (``READER_RETRY_S``). A reader is back when it reopens (``open()``) and, for a reader
whose port can be open while the reader is silent (``ReadinessProbe``: a PN532), when
it answers its probe; the recovery is recorded then, not at the next card.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable

from firmware.core import events as ev
from firmware.core.idtag import ReaderFormat, id_tag_from_uid
from firmware.errors import AgentError
from firmware.logs import mask_id_tag
from hal.errors import HalError
from firmware.device_health import DeviceHealth
from hal.interfaces import CardRead, ReadinessProbe

log = logging.getLogger(__name__)

READER_RETRY_S = 2.0
# The 2.0.1 idToken.type of a driver's cards when the board config names none: 125 kHz
# EM4100 (rdm6300) has no ISO type; the others read ISO 14443 cards.
DRIVER_TOKEN_TYPES = {"rdm6300": "Local"}


def id_tag_rule(options: dict[str, Any]) -> Callable[[CardRead], str]:
    """The reader's ``to_id_tag``: its board options (``uid_reversed``,
    ``uid_zero_pad_to``) as a ``ReaderFormat`` for ``firmware.core.idtag``, which owns
    the canonical form. Raises ``IdTagError`` (a ``ValueError``) for a UID that cannot
    be an idTag (empty, or over 10 bytes)."""
    fmt = ReaderFormat(reversed_bytes=bool(options.get("uid_reversed", False)),
                       zero_pad_to=int(options.get("uid_zero_pad_to", 0) or 0) or None)
    return lambda card: id_tag_from_uid(bytes(card.uid), fmt)


default_id_tag = id_tag_rule({})


@dataclass(frozen=True)
class DivertedCard:
    """A card taken by ``next_card``: as read, its idTag, or why it is not one."""

    card: CardRead
    id_tag: str | None
    problem: str = ""


class DiversionBusy(AgentError, RuntimeError):
    """Another ``next_card`` is already waiting."""


class ReaderTask:
    def __init__(self, reader: Any, options: dict[str, Any], runtime: Any,
                 to_id_tag=default_id_tag, clock: Callable[[], float] | None = None,
                 retry_s: float = READER_RETRY_S):
        self.reader = reader
        self.options = options
        self.runtime = runtime
        self.to_id_tag = to_id_tag
        self.last_card: tuple[str, str] | None = None  # (raw, idTag) for diagnostics
        self._diversion: asyncio.Future[DivertedCard] | None = None
        self.health = DeviceHealth(clock or runtime.clock.now)   # agent clock, epoch s
        self.retry_s = retry_s

    @property
    def token_type(self) -> str:
        """How this reader's cards identify themselves (2.0.1 IdTokenEnumType): the
        board config's ``token_type``, else the driver's."""
        configured = str(self.options.get("token_type") or "")
        return configured or DRIVER_TOKEN_TYPES.get(str(self.options.get("driver", "")),
                                                    "ISO14443")

    @property
    def diverting(self) -> bool:
        """The next card on this reader goes to a ``next_card`` waiter, not the station."""
        return self._diversion is not None and not self._diversion.done()

    async def run(self) -> None:
        name = self.options.get("name", "reader")
        while True:
            try:
                if self.health.failing:
                    await self._reopen()
                    log.warning("reader %s answers again", name)
                async for card in self.reader.cards():
                    self.health.succeeded()
                    self.present(card)
            except HalError as e:
                first = self.health.failed(e)
                log.log(logging.ERROR if first else logging.DEBUG,
                        "reader %s failed: %s; retrying every %g s", name, e, self.retry_s)
            await asyncio.sleep(self.retry_s)

    async def _reopen(self) -> None:
        """After a failure: reacquire the reader and, where it can be silent behind an
        open port, check that it answers. Raises ``HalError`` while it cannot."""
        await self.reader.open()
        if isinstance(self.reader, ReadinessProbe):
            await self.reader.probe()
        self.health.succeeded()

    def present(self, card: CardRead) -> None:
        try:
            id_tag, problem = self.to_id_tag(card), ""
        except ValueError as e:
            id_tag, problem = None, str(e)
        if self.diverting:
            assert self._diversion is not None
            self._diversion.set_result(DivertedCard(card, id_tag, problem))
            log.info("card on reader %s diverted to the console (not presented to the "
                     "station)", card.reader)
            if id_tag is not None:
                self.last_card = (card.raw, id_tag)
            return
        if id_tag is None:
            log.warning("reader %s: a card cannot be an idTag: %s", card.reader, problem)
            log.debug("reader %s: card %s refused", card.reader, card.raw)
            return
        self.last_card = (card.raw, id_tag)
        now = self.runtime.clock.now()
        list_entry, cache_entry, negative = self.runtime.auth.lookup(id_tag, now)
        log.info("card %s on reader %s", mask_id_tag(id_tag), card.reader)
        self.runtime.dispatch(ev.CardPresented(id_tag, card.reader, list_entry, cache_entry,
                                               negative,
                                               int(self.options.get("connector", 0)),
                                               self.token_type))


async def next_card(readers: list[ReaderTask], timeout_s: float) -> DivertedCard:
    """Wait up to ``timeout_s`` for the next card on any of ``readers`` and return it
    instead of presenting it to the station.

    Raises ``TimeoutError`` when no card comes, ``DiversionBusy`` when another wait is
    already armed, ``LookupError`` when there is no reader. Whatever happens (timeout,
    cancellation), the readers are back to normal when this returns.
    """
    if not readers:
        raise LookupError("this board has no card reader")
    if any(r.diverting for r in readers):
        raise DiversionBusy("another `test rfid` is already waiting for a card")
    future: asyncio.Future[DivertedCard] = asyncio.get_running_loop().create_future()
    for r in readers:
        r._diversion = future
    try:
        async with asyncio.timeout(timeout_s):
            return await future
    finally:
        for r in readers:
            if r._diversion is future:
                r._diversion = None

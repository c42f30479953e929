"""A PN532 in HSU mode on the master side of a pty: answers the driver's commands
(SAMConfiguration, RFConfiguration, GetFirmwareVersion, InListPassiveTarget) as the
NXP user manual UM0701-02 describes. ``await tap(uid)`` is one whole presentation: the
card is in the field for a few polls, then away for ``away_polls`` polls — longer than
the reader's ``debounce_s`` when ``away_polls * poll_interval_s`` exceeds it — so the
next tap of the same card is a new presentation. Counting polls, not sleeping: the
driver paces its polls itself."""

from __future__ import annotations

import asyncio
import collections

from drivers.rfid import pn532_codec as codec


class Pn532Peer:
    def __init__(self, pty) -> None:
        self.pty = pty
        self.polls = 0                         # InListPassiveTarget commands answered
        self._field: collections.deque[bytes] = collections.deque()
        self._polled = asyncio.Event()

    async def tap(self, uid: bytes, polls: int = 3, away_polls: int = 8,
                  timeout_s: float = 20.0) -> None:
        """The card is in the field for ``polls`` InListPassiveTarget polls, then away
        for ``away_polls`` more."""
        self._field.extend([uid] * polls)
        async with asyncio.timeout(timeout_s):
            while self._field:
                await self._next_poll()
            for _ in range(away_polls):
                await self._next_poll()

    async def _next_poll(self) -> None:
        self._polled.clear()
        await self._polled.wait()

    def _respond(self, data: bytes) -> None:
        self.pty.write(codec.ACK + codec.encode_frame(data, tfi=codec.TFI_PN532))

    def _answer(self, data: bytes) -> None:
        code = data[0]
        if code == codec.CMD_IN_LIST_PASSIVE_TARGET:
            self.polls += 1
            self._polled.set()
            if not self._field:
                self._respond(bytes([code + 1, 0x00]))          # no target
                return
            uid = self._field.popleft()
            sak = 0x00 if len(uid) == 7 else 0x08                # Ultralight / Classic 1K
            atqa = b"\x00\x44" if len(uid) == 7 else b"\x00\x04"
            self._respond(bytes([code + 1, 0x01, 0x01]) + atqa + bytes([sak, len(uid)]) + uid)
        elif code == codec.CMD_GET_FIRMWARE_VERSION:
            self._respond(bytes.fromhex("0332010607"))            # PN532 v1.6
        else:
            self._respond(bytes([code + 1]))

    async def run(self) -> None:
        decoder = codec.FrameDecoder(tfi=codec.TFI_HOST)
        while True:
            for event in decoder.feed(await self.pty.read(timeout_s=3600)):
                if isinstance(event, codec.Frame):
                    self._answer(event.data)

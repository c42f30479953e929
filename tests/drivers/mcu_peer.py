"""The real MCU firmware logic (firmware/mcu McuApp + SafetyController, run in CPython) on the
far end of a pseudo-terminal, with a simulated pilot circuit, EV, contactor and RCD.

Time is the event loop's clock in ms, shared with the host driver. Each loop turn feeds the
controller one pilot sample, mirror and RCD reading per ``sample_period_ms`` slot that
passed (as the firmware's 5 ms loop would have), then the host's bytes, then polls; a
loaded test machine thus delays the MCU's answers but never starves its pilot sampling.

Knobs a test turns: ``ev`` (pilot state the EV shows), ``diode_ok``, ``rcd``, ``welded``,
``stuck_open``, ``output_stage_broken``, ``deaf`` (host bytes are read and thrown away: the host "falls silent"),
``mute`` (nothing is written: the MCU falls silent), ``corrupt_rx`` (flip a bit in that
many incoming chunks), ``line_noise(rate, seed)`` (every byte either way has a ``rate``
chance of a flipped bit), ``restart()`` (a fresh McuApp: the MCU rebooted).
"""

from __future__ import annotations

import asyncio
import os
import random

from firmware.mcu import pilot as cp
from firmware.mcu.app import McuApp
from firmware.mcu.safety import SafetyController

LEVEL_MV = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0, "F": -12000}


class SimulatedMcu:
    def __init__(self, peer, sample_period_ms: int = 5, contactor_delay_ms: int = 20,
                 **controller_kw: int) -> None:
        self.peer = peer
        self.sample_period_ms = sample_period_ms
        self.contactor_delay_ms = contactor_delay_ms
        self.controller_kw = controller_kw
        self.ev = "A"
        self.diode_ok = True
        self.rcd = False
        self.welded = False
        self.stuck_open = False
        self.output_stage_broken = False   # the -12 V never reaches the pilot (self-test fails)
        self.deaf = False
        self.mute = False
        self.corrupt_rx = 0
        self.noise_rate = 0.0             # per-byte chance of a flipped bit, both directions
        self._noise = random.Random(0)
        self.mirror = False
        self.rx_bytes = 0
        self.last_host_rx_ms = -1
        self.opened_at_ms: list[int] = []      # MCU times at which the coil went off
        self.closed_at_ms: list[int] = []
        self._coil = False
        self._coil_changed_ms = 0
        self._last_sample_ms = 0
        self.restart()

    def now_ms(self) -> int:
        return int(asyncio.get_running_loop().time() * 1000)

    def restart(self) -> None:
        now = self.now_ms()
        self.ctl = SafetyController(now_ms=now, **self.controller_kw)
        self.app = McuApp(self.ctl, now_ms=now)
        self._last_sample_ms = now
        self._coil = False
        self._coil_changed_ms = now

    # the pilot circuit as the ADC sees it
    def _line_mv(self) -> tuple[int, int | None]:
        duty = self.ctl.duty_permyriad
        ev_mv = LEVEL_MV[self.ev]
        if duty == cp.DUTY_STATE_F and not self.output_stage_broken:
            return -12000, None
        low = None
        if duty < cp.DUTY_FULL:
            low = -12000 if self.diode_ok else -ev_mv
        return ev_mv, low

    def _sample(self, now: int) -> None:
        ctl = self.ctl
        high, low = self._line_mv()
        ctl.pilot_sample(high, low, now)
        if ctl.contactor != self._coil:
            self._coil = ctl.contactor
            self._coil_changed_ms = now
            (self.closed_at_ms if self._coil else self.opened_at_ms).append(now)
        if self.welded:
            self.mirror = True
        elif self.stuck_open:
            self.mirror = False
        elif now - self._coil_changed_ms >= self.contactor_delay_ms:
            self.mirror = self._coil
        ctl.mirror_reading(self.mirror, now)
        ctl.rcd_reading(self.rcd, now)
        if ctl.contactor != self._coil:        # a reading opened it (mirror, RCD)
            self._coil = ctl.contactor
            self._coil_changed_ms = now
            self.opened_at_ms.append(now)

    def _read_host(self) -> bytes:
        data = bytearray()
        while self.peer.master >= 0:
            try:
                chunk = os.read(self.peer.master, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def line_noise(self, rate: float, seed: int = 0) -> None:
        self.noise_rate = rate
        self._noise = random.Random(seed)

    def _noisy(self, data: bytes) -> bytes:
        if not self.noise_rate or not data:
            return data
        rng = self._noise
        return bytes(b ^ (1 << rng.randrange(8)) if rng.random() < self.noise_rate else b
                     for b in data)

    def step(self) -> None:
        now = self.now_ms()
        slot = self._last_sample_ms + self.sample_period_ms
        while slot <= now:
            self._sample(slot)
            self._last_sample_ms = slot
            slot += self.sample_period_ms
        rx = self._noisy(self._read_host())
        out = b""
        if rx and not self.deaf:
            self.rx_bytes += len(rx)
            if self.corrupt_rx:
                self.corrupt_rx -= 1
                rx = bytes([rx[0], rx[1] ^ 0x10]) + rx[2:] if len(rx) > 1 else b"\x00"
            self.last_host_rx_ms = now
            out = self.app.feed(rx, now)
        out += self.app.poll(now)
        if ctl_coil := self.ctl.contactor:      # a host command may have closed it
            if not self._coil:
                self._coil, self._coil_changed_ms = ctl_coil, now
                self.closed_at_ms.append(now)
        elif self._coil:
            self._coil, self._coil_changed_ms = False, now
            self.opened_at_ms.append(now)
        if out and not self.mute and self.peer.master >= 0:
            try:
                os.write(self.peer.master, self._noisy(out))
            except OSError:
                pass

    async def run(self) -> None:
        # the peer's own reader would steal our bytes: we read the master ourselves
        loop = asyncio.get_running_loop()
        if self.peer.master >= 0:
            loop.remove_reader(self.peer.master)
        while True:
            self.step()
            await asyncio.sleep(self.sample_period_ms / 1000)

    def inject(self, data: bytes) -> None:
        """Raw bytes from the MCU's side of the line (noise, forged frames)."""
        os.write(self.peer.master, data)

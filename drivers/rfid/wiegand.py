"""Wiegand 26/34 reader on two GPIO inputs (D0, D1), decoded from kernel-timestamped
falling edges.

D0 and D1 idle high; a 0 is a 20-100 µs low pulse on D0, a 1 on D1. Pulses are far too
short to poll from Python, so the driver asks the GPIO backend for falling-edge events
(gpiod: kernel timestamps) and the codec rebuilds the frame from the timestamps; a
frame ends after ``gap_s`` of silence. Readers run at 5 V: level-shift D0/D1 to 3.3 V
(see board_configs/README.md).

``CardRead.uid``: W26 → facility + card number (3 bytes), W34 → the 32 data bits
(4 bytes), MSB first in transmission order; ``raw`` is the bit string with parity bits;
``technology`` is "Wiegand26"/"Wiegand34". Frames with a wrong bit count or parity,
and single noise pulses, are logged and dropped.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable

from drivers.registry import BuildContext, DriverSpec
from drivers.rfid.debounce import CardDebouncer
from drivers.rfid.wiegand_codec import FORMATS, Rejected, WiegandDecoder
from hal.errors import DeviceOpenError, DeviceUnavailable
from hal.gpio import BIAS_CHOICES, Bias, Edge, GpioLines, InputConfig
from hal.interfaces import CardRead, DeviceInfo
from hal.options import optional, required

log = logging.getLogger(__name__)


class WiegandReader:
    """``RfidReader`` for a Wiegand reader.

    :param gpio: the board's GPIO factory
    :param d0_pin / d1_pin: input lines of DATA0 / DATA1 (BCM numbers on a Pi)
    :param gap_s: silence that ends a frame (> the 20 ms maximum pulse interval)
    :param formats: accepted bit counts (subset of 26, 34)
    :param debounce_s: the same card within this time counts once
    :param bias: input bias ("pull-up" suits open-collector outputs)
    """

    def __init__(self, gpio: Any, *, d0_pin: int, d1_pin: int, gap_s: float = 0.025,
                 formats: tuple[int, ...] = FORMATS, debounce_s: float = 1.0,
                 bias: str = "pull-up", name: str = "rfid",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._gpio = gpio
        self.name = name
        self.d0_pin = d0_pin
        self.d1_pin = d1_pin
        self.gap_s = gap_s
        self.bias = Bias(bias)
        self._decoder = WiegandDecoder(int(gap_s * 1e9), tuple(formats))
        self._debouncer = CardDebouncer(debounce_s, clock)
        self._lines: GpioLines | None = None
        self._last_error = ""
        self.rejected = 0

    async def open(self) -> None:
        if self._lines is not None:
            return
        if self._gpio is None:
            raise DeviceOpenError(f"{self.name}: driver 'wiegand' needs GPIO but the board "
                                  f"config has no [gpio] table: add [gpio] factory = \"gpiod\"")
        if self.d0_pin == self.d1_pin:
            raise DeviceOpenError(f"{self.name}: d0_pin and d1_pin are both {self.d0_pin}: "
                                  f"DATA0 and DATA1 need two different lines")
        cfg = InputConfig(bias=self.bias, edge=Edge.FALLING)
        self._lines = self._gpio.request(self.name, {self.d0_pin: cfg, self.d1_pin: cfg})

    async def close(self) -> None:
        lines, self._lines = self._lines, None
        if lines is not None:
            lines.close()

    def info(self) -> DeviceInfo:
        port = ""
        if self._lines is not None:
            port = f"D0 {self._lines.describe(self.d0_pin)}, D1 {self._lines.describe(self.d1_pin)}"
        return DeviceInfo(role="rfid", name=self.name, backend="wiegand", port=port,
                          last_error=self._last_error,
                          details={"rejected_frames": str(self.rejected),
                                   "gap_s": f"{self.gap_s:g}"})

    async def cards(self) -> AsyncIterator[CardRead]:
        lines = self._lines
        if lines is None:
            raise DeviceUnavailable(f"{self.name}: reader used before open()")
        while True:
            event = await lines.read_edge(self.gap_s if self._decoder.pending else None)
            if event is None:
                if self._lines is None:
                    return                      # closed
                frames = self._decoder.flush()
            elif event.rising or event.pin not in (self.d0_pin, self.d1_pin):
                continue
            else:
                frames = self._decoder.push(1 if event.pin == self.d1_pin else 0,
                                            event.timestamp_ns)
            for frame in frames:
                if isinstance(frame, Rejected):
                    self.rejected += 1
                    self._last_error = f"rejected {len(frame.bits)}-bit frame: {frame.reason}"
                    log.info("%s: %s", self.name, self._last_error)
                    continue
                if self._debouncer.seen(frame.uid):
                    yield CardRead(uid=frame.uid, raw=frame.bits, reader=self.name,
                                   technology=f"Wiegand{len(frame.bits)}")


def _formats_check(value: list) -> str | None:
    if not value or any(v not in FORMATS for v in value):
        return f"must be a non-empty list of {list(FORMATS)}, got {value!r}"
    return None


OPTIONS = (
    required("d0_pin", int, "input line of DATA0 (green wire), BCM number; level-shift 5 V "
             "readers to 3.3 V", minimum=0, maximum=1023),
    required("d1_pin", int, "input line of DATA1 (white wire), BCM number", minimum=0,
             maximum=1023),
    optional("gap_s", float, 0.025, "silence that ends a frame (must exceed the reader's 20 ms "
             "maximum pulse interval)", minimum=0.021, maximum=0.5),
    optional("formats", list, [26, 34], "accepted frame lengths in bits", item_kind=int,
             check=_formats_check),
    optional("debounce_s", float, 1.0, "the same card within this time counts once",
             minimum=0.0, maximum=60.0),
    optional("bias", str, "pull-up", "bias of both inputs", choices=BIAS_CHOICES),
)


def build(ctx: BuildContext, options: dict[str, Any]) -> WiegandReader:
    opts = dict(options)
    opts["formats"] = tuple(opts["formats"])
    return WiegandReader(ctx.gpio, name=ctx.name, **opts)


SPEC = DriverSpec(role="rfid", name="wiegand", options=OPTIONS, build=build, uses_gpio=True,
                  doc="Wiegand 26/34 reader on two GPIO inputs; needs a [gpio] table.")

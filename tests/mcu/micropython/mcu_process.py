"""The MCU firmware logic (firmware/mcu McuApp + SafetyController) as a process that serves
one request line per loop turn (run under MicroPython by run.mjs --serve; also runs under
CPython). A simulated pilot circuit, EV and contactor stand in for the Pico's pins.

Request:  "NOW_MS RX_HEX|- EV_LETTER RCD(0/1)"   (RX = bytes the host sent since last turn)
Answer:   "TX_HEX|- COIL(0/1) PILOT_LETTER FAULT_BITS"
Pilot samples are fed for every 5 ms slot since the previous turn, as the firmware's own
loop would have taken them; the mirror follows the coil after 20 ms.
"""

from firmware.mcu import pilot as cp
from firmware.mcu.app import McuApp
from firmware.mcu.safety import SafetyController

LEVEL_MV = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0, "F": -12000}
SAMPLE_MS = 5
MIRROR_DELAY_MS = 20

_state = {}


def _hex(data):
    return "".join("%02x" % b for b in data) or "-"


def _unhex(text):
    if text == "-":
        return b""
    return bytes([int(text[i:i + 2], 16) for i in range(0, len(text), 2)])


def _boot(now):
    ctl = SafetyController(now_ms=now)
    _state.update(ctl=ctl, app=McuApp(ctl, now_ms=now), last=now, coil=False,
                  coil_ms=now, mirror=False)


def _sample(now, ev, rcd):
    s = _state
    ctl = s["ctl"]
    duty = ctl.duty_permyriad
    if duty == cp.DUTY_STATE_F:
        high, low = -12000, None
    else:
        high = LEVEL_MV[ev]
        low = -12000 if duty < cp.DUTY_FULL else None
    ctl.pilot_sample(high, low, now)
    if ctl.contactor != s["coil"]:
        s["coil"], s["coil_ms"] = ctl.contactor, now
    if now - s["coil_ms"] >= MIRROR_DELAY_MS:
        s["mirror"] = s["coil"]
    ctl.mirror_reading(s["mirror"], now)
    ctl.rcd_reading(rcd, now)


def handle(line):
    parts = line.split()
    now = int(parts[0])
    if not _state:
        _boot(now)
    ev, rcd = parts[2], parts[3] == "1"
    s = _state
    slot = s["last"] + SAMPLE_MS
    while slot <= now:
        _sample(slot, ev, rcd)
        s["last"] = slot
        slot += SAMPLE_MS
    app = s["app"]
    out = b""
    rx = _unhex(parts[1])
    if rx:
        out = app.feed(rx, now)
    out += app.poll(now)
    ctl = s["ctl"]
    print("%s %d %s %d" % (_hex(out), 1 if ctl.contactor else 0, ctl.pilot, ctl.faults))

"""Checks of firmware/mcu that run unchanged under MicroPython (WebAssembly, via run.mjs)
and CPython: the protocol codec's byte vectors and the SafetyController's timing rules on
the firmware's own simulated milliseconds. Prints one "ok NAME" line per check and a last
"wire HEX" line (McuApp's answer to a scripted host) that the CPython test decodes with
the host driver's codec. Any failed check raises (the runner exits 1)."""

import sys

from firmware.mcu import protocol as p
from firmware.mcu.app import McuApp
from firmware.mcu.safety import SafetyController

LEVEL_MV = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0, "F": -12000}


def check(name, condition):
    if not condition:
        raise AssertionError("check failed: " + name)
    print("ok " + name)


def unhex(text):
    return bytes([int(text[i:i + 2], 16) for i in range(0, len(text), 2)])


def tohex(data):
    return "".join("%02x" % b for b in data)


print("impl " + sys.implementation.name)
check("crc16 check value", p.crc16(b"123456789") == 0x29B1)
check("offer 16 A frame", p.encode(1, p.CMD_OFFER_CURRENT, p.encode_u16(160))
      == unhex("a504010100a06c64"))
good = unhex("a5020202e4dc")
dec = p.Decoder()
check("resync, bad crc dropped", dec.feed(b"\x00\xff" + unhex("a5020202e4dd") + good[:3]) == [])
check("resync, frame after garbage", dec.feed(good[3:]) == [p.Frame(2, p.CMD_ALLOW_ENERGY)])
payload = p.encode_state("C", True, True, True, 0, 160, 32, 300)
check("state frame", p.encode(7, p.MSG_STATE, payload) == unhex("a50b07814307000000a020012c37e8"))
big = p.Decoder()
big.feed(bytes([p.SOF, 0xFF]) + b"\x00" * 300)
check("decoder bounded", len(big._buf) <= p.MAX_LEN + 4)
link = p.Link(retry_ms=100, max_retries=2)
wire = link.send(p.CMD_ALLOW_ENERGY, b"", 0)
check("link retransmits", link.poll(100) == wire and link.poll(200) == wire)
check("link gives up", link.poll(300) == b"" and link.failed == 1)


class Bench:
    """The pilot circuit, an EV and a contactor around one SafetyController, 5 ms loop."""

    def __init__(self):
        self.now = 0
        self.sm = SafetyController(now_ms=0)
        self.ev = "A"
        self.mirror = False
        self.rcd = False
        self.host = True
        self.opened = []

    def step(self):
        self.now += 5
        sm, now = self.sm, self.now
        if self.host:
            sm.host_heard(now)
        duty = sm.duty_permyriad
        if duty == 0:
            high, low = -12000, None
        else:
            high, low = LEVEL_MV[self.ev], (-12000 if duty < 10000 else None)
        was = sm.contactor
        sm.pilot_sample(high, low, now)
        sm.mirror_reading(sm.contactor, now)
        sm.rcd_reading(self.rcd, now)
        sm.tick(now)
        if was and not sm.contactor:
            self.opened.append(now)

    def run(self, ms):
        end = self.now + ms
        while self.now < end:
            self.step()

    def charge(self):
        self.ev = "B"
        self.run(100)
        self.sm.offer_current(160, self.now)
        self.sm.allow_energy(self.now)
        self.ev = "C"
        self.run(100)
        return self.sm.contactor


b = Bench()
check("boots open", not b.sm.contactor)
check("no close without permission", (b.ev == "A") and not b.sm.contactor)
check("closes: allowed, offered, pilot C", b.charge())
cause = b.now
b.ev = "B"
b.run(200)
check("C->B opens within 100 ms", b.opened and b.opened[-1] - cause <= 100)

b = Bench()
b.charge()
cause = b.now
b.rcd = True
b.run(50)
check("RCD opens within 100 ms", b.opened and b.opened[-1] - cause <= 100)
check("RCD holds state F", b.sm.state_f and b.sm.duty_permyriad == 0)
b.rcd = False
b.run(400)
check("fault revokes the permission", not b.sm.energy_allowed and not b.sm.contactor)

b = Bench()
b.charge()
b.host = False
cause = b.now
b.run(2500)
check("host silence opens after the keep-alive timeout",
      b.opened and 0 < b.opened[-1] - cause <= b.sm.keepalive_timeout_ms + 10)
check("host silence drops the offer", b.sm.offer_da == 0 and b.sm.faults & p.FAULT_HOST_SILENT)

# a seeded random walk: the contactor is never closed outside the rule for longer than the
# 100 ms the MCU has to react (the pilot debounce takes part of it)
seed = 12345
b = Bench()
bad_since = -1
closed_steps = 0
for _ in range(3000):
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    r = seed % 100
    if r < 3:
        b.ev = "ABCDEF"[seed % 6]
    elif r < 5:
        b.rcd = not b.rcd
    elif r < 7:
        b.host = not b.host
    elif r < 9:
        b.sm.allow_energy(b.now)
    elif r < 10:
        b.sm.forbid_energy(b.now)
    elif r < 12:
        b.sm.offer_current((0, 60, 160, 320)[seed % 4], b.now)
    b.step()
    closed_steps += 1 if b.sm.contactor else 0
    allowed = b.sm.energy_allowed and b.ev in "CD" and not b.rcd and not b.sm.faults
    if allowed or not b.sm.contactor:
        bad_since = -1
    elif bad_since < 0:
        bad_since = b.now
    elif b.now - bad_since > 100:
        raise AssertionError("closed outside the rule for > 100 ms at %d ms" % b.now)
check("random walk keeps the interlock (and did close)", closed_steps > 0)

# McuApp answers a scripted host: VERSION, OFFER 16 A, READ_STATE
sm = SafetyController(now_ms=0)
app = McuApp(sm, now_ms=0)
host = p.Link()
script = (host.send_unacked(p.CMD_VERSION, b"") + host.send_unacked(p.CMD_OFFER_CURRENT,
          p.encode_u16(160)) + host.send_unacked(p.CMD_READ_STATE, b""))
out = app.feed(script, 10)
check("app answered", len(out) > 0)
print("wire " + tohex(out))

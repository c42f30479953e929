"""firmware/mcu/main.py's Firmware on the simulated Pico (sim.py, a stand-in `machine` and
`time` written in MicroPython-compatible Python), run unchanged under MicroPython
(WebAssembly, via run.mjs) and CPython. Prints "impl NAME", one "ok NAME" line per check and
"took NAME US" lines (simulated µs from a cause to the coil off); raises on a failed check."""

import sys

import sim
from firmware.mcu import main as fw
from firmware.mcu import protocol as p

LIMIT_US = 100000


def check(name, condition):
    if not condition:
        raise AssertionError("check failed: " + name)
    print("ok " + name)


def charging(seed):
    s = sim.Sim(seed=seed, noise_mv=15)
    s.run_ms(300)
    s.start_charging()
    return s


print("impl " + sys.implementation.name)
s = sim.Sim()
check("coil pin lowered first", s.world.pins_made[0] == (fw.Board.COIL_PIN, 1, 0))
check("pilot at +12 V at boot", s.world.pwm_duty == 65535)
s.run_ms(300)
check("idle: coil never on", s.world.coil_log == [])

for seed in (1, 2, 3):
    s = charging(seed)
    check("closes with ALLOW and C (seed %d)" % seed, s.world.coil == 1)
    s.world.advance(seed * 1234)
    cause = s.world.us
    s.world.ev = "B"
    s.run_ms(150)
    took = s.coil_off_after(cause)
    print("took c_to_b %d" % took)
    check("C->B opens within 100 ms (seed %d)" % seed, 0 <= took <= LIMIT_US)

s = charging(4)
cause = s.world.us
s.world.rcd_tripped = True
s.run_ms(50)
took = s.coil_off_after(cause)
print("took rcd %d" % took)
check("RCD opens within 100 ms", 0 <= took <= LIMIT_US and s.world.pwm_duty == 0)

s = charging(5)
s.host.alive = False
cause = s.world.us
s.run_ms(2500)
took = s.coil_off_after(cause)
print("took host_silent %d" % took)
check("host silence opens within the keep-alive timeout",
      0 <= took <= s.fw.controller.keepalive_timeout_ms * 1000 + 10000)

s = charging(6)
feeds = s.world.wdt_feeds
s.world.adc_stalled = True
raised = False
try:
    s.fw.step()
except OSError:
    raised = True
s.world.advance(150000)
check("stalled turn: no feed, WDT reset drops the coil",
      raised and s.world.wdt_feeds == feeds and s.world.reset_at_us >= 0 and s.world.coil == 0)

s = sim.Sim()
s.run_ms(300)
s.world.ev = "B"
s.host.send(p.CMD_OFFER_CURRENT, p.encode_u16(160))
s.run_ms(200)
s.world.ev = "C"
s.run_ms(1000)
check("no close without ALLOW", s.world.coil_log == [])

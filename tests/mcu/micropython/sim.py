"""A stand-in ``machine`` and ``time`` for firmware/mcu/main.py that simulate the Pico's
surroundings (runs unchanged under MicroPython and CPython: no typing, no dataclasses).

World: simulated time in microseconds and the circuit around the pins.
- Pilot: the PWM output drives +-12 V behind 1 kOhm (hardware.md §3.1); the EV is a diode
  (0.7 V forward) in series with its state's resistor to PE: A open, B 2.74 kOhm, C 882 Ohm,
  D 246 Ohm, E a short. A shorted diode passes the low phase through the resistor too. The
  ADC reads the node of the board's divider (main.Board constants) at the instant of the
  read, so a burst sees the high and the low PWM phases as the real one does; each
  read_u16 takes READ_US of simulated time, plus optional seeded noise.
- Contactor: the mirror contact follows the coil after mirror_delay_ms, unless welded or
  stuck open. RCD: rcd_tripped drives the RCD pin. PP: the cable's cable_ohm below the
  pull-up while an EV is plugged (state B..E), open in A.
- UART: host_rx (host -> MCU) and host_tx (MCU -> host) byte buffers.
- WDT: the RP2040 reset is simulated: when simulated time passes the timeout since the last
  feed, ``reset_at_us`` is set and the coil pin drops (reset = input with pull-down).
- coil_log: (us, value) for every change of the coil's output level.

SimHost speaks the protocol (firmware/mcu/protocol.py) to the firmware: acks what needs
acking, sends READ_STATE every 500 ms while ``alive``.
"""

from firmware.mcu import protocol as p

READ_US = 12  # one read_u16 on an RP2040 under MicroPython is of this order
TICKS_PERIOD = 1 << 30  # MicroPython's ticks wrap here
EV_OHM = {"B": 2740, "C": 882, "D": 246}


def ticks_diff(a, b):
    half = TICKS_PERIOD // 2
    return ((a - b + half) % TICKS_PERIOD) - half


class World:
    def __init__(self, board, start_us=0, seed=1, noise_mv=0):
        self.board = board
        self.us = start_us
        self.start_us = start_us
        self._rand = seed or 1
        self.noise_mv = noise_mv
        self.ev = "A"
        self.diode_ok = True
        self.rcd_tripped = False
        self.cable_ohm = 220  # PP coding resistor of the plugged cable (32 A); None = none
        self.mirror_delay_ms = 20
        self.welded = False
        self.stuck_open = False
        self.coil = 0
        self._coil_since_us = start_us
        self._mirror_before = False
        self.coil_pin = None
        self.pwm_duty = None  # duty_u16 of the pilot PWM, None before it exists
        self.pwm_freq = 1000
        self.host_rx = bytearray()
        self.host_tx = bytearray()
        self.wdt_timeout_ms = None
        self.wdt_fed_us = 0
        self.wdt_feeds = 0
        self.reset_at_us = -1
        self.maintenance_jumper = False
        self.adc_stalled = False  # read_u16 raises: a stalled or broken ADC path
        self.coil_log = []
        self.pins_made = []  # (pin id, mode, value) in construction order
        self._timers = []  # (at_us, action), soonest first

    # time
    def at(self, at_us, action):
        """Run action() when simulated time reaches at_us, even in the middle of a turn
        (between two ADC reads): a cause can land at any phase of the loop."""
        self._timers.append((at_us, action))
        self._timers.sort(key=lambda timer: timer[0])

    def advance(self, us):
        end = self.us + us
        while self._timers and self._timers[0][0] <= end:
            at_us, action = self._timers.pop(0)
            if at_us > self.us:
                self.us = at_us
            self._check_wdt()
            action()
        self.us = end
        self._check_wdt()

    def ms(self):
        return (self.us - self.start_us) // 1000

    def _check_wdt(self):
        if self.wdt_timeout_ms is None or self.reset_at_us >= 0:
            return
        if self.us - self.wdt_fed_us > self.wdt_timeout_ms * 1000:
            self.reset_at_us = self.wdt_fed_us + self.wdt_timeout_ms * 1000
            self.set_coil(0, self.reset_at_us)

    def _noise(self):
        if not self.noise_mv:
            return 0
        # xorshift32: the same sequence under MicroPython and CPython
        x = self._rand
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rand = x
        return x % (2 * self.noise_mv + 1) - self.noise_mv

    # circuit
    def set_coil(self, value, at_us=None):
        value = 1 if value else 0
        if self.reset_at_us >= 0 and at_us is None:
            value = 0  # the RP2040 is in reset: its pins are inputs
        if value == self.coil:
            return
        now = self.us if at_us is None else at_us
        self._mirror_before = self.mirror_closed(now)
        self.coil = value
        self._coil_since_us = now
        self.coil_log.append((now, value))

    def mirror_closed(self, now_us=None):
        if self.welded:
            return True
        if self.stuck_open:
            return False
        now = self.us if now_us is None else now_us
        if now - self._coil_since_us >= self.mirror_delay_ms * 1000:
            return self.coil == 1
        return self._mirror_before

    def pwm_high(self):
        duty = self.pwm_duty
        if duty is None or duty <= 0:
            return False
        if duty >= 65535:
            return True
        period_us = 1000000 // self.pwm_freq
        return (self.us % period_us) * 65535 < duty * period_us

    def cp_mv(self):
        source = 12000 if self.pwm_high() else -12000
        if self.ev == "A":
            return source
        if self.ev == "E":
            return 0
        ohm = EV_OHM[self.ev]
        if source > 0:
            return 700 + (source - 700) * ohm // (1000 + ohm)
        if self.diode_ok:
            return source
        return source * ohm // (1000 + ohm)

    def adc_u16(self, node_mv):
        vref = self.board.ADC_VREF_MV
        node_mv += self._noise()
        if node_mv < 0:
            node_mv = 0
        if node_mv > vref:
            node_mv = vref
        return (node_mv * 65535 + vref // 2) // vref

    def pilot_node_mv(self):
        b = self.board
        return b.ADC_VREF_MV // 2 + (self.cp_mv() * b.PILOT_R_BIAS_OHM
                                     // (2 * b.PILOT_R_SERIES_OHM + b.PILOT_R_BIAS_OHM))

    def pp_node_mv(self):
        b = self.board
        ohm = self.cable_ohm
        if self.ev == "A" or ohm is None:
            return b.ADC_VREF_MV  # nothing below the pull-up
        return b.ADC_VREF_MV * ohm // (ohm + b.PP_PULLUP_OHM)

    def pin_level(self, pin_id):
        b = self.board
        if pin_id == b.MIRROR_PIN:
            closed = self.mirror_closed()
            return b.MIRROR_CLOSED_LEVEL if closed else 1 - b.MIRROR_CLOSED_LEVEL
        if pin_id == b.MAINTENANCE_PIN:
            return 0 if self.maintenance_jumper else 1
        if pin_id == b.RCD_PIN:
            return b.RCD_TRIPPED_LEVEL if self.rcd_tripped else 1 - b.RCD_TRIPPED_LEVEL
        return 0


def make_machine(world):
    """A namespace with Pin, PWM, ADC, UART and WDT bound to `world`."""

    class Pin:
        IN = 0
        OUT = 1
        PULL_UP = 1
        PULL_DOWN = 2

        def __init__(self, pin_id, mode=-1, pull=-1, value=None):
            self.id = pin_id
            self.mode = mode
            world.pins_made.append((pin_id, mode, value))
            if pin_id == world.board.COIL_PIN and mode == Pin.OUT:
                world.coil_pin = self
                world.set_coil(value or 0)
            if pin_id == world.board.PILOT_PWM_PIN and mode == Pin.OUT:
                world.pwm_duty = 65535 if value else 0  # a plain output: steady level

        def value(self, level=None):
            if level is None:
                if self.id == world.board.COIL_PIN:
                    return world.coil
                return world.pin_level(self.id)
            if self.id == world.board.COIL_PIN and self.mode == Pin.OUT:
                world.set_coil(level)
            return None

    class PWM:
        def __init__(self, pin):
            self.pin = pin

        def freq(self, hz):
            world.pwm_freq = hz

        def duty_u16(self, duty):
            world.pwm_duty = duty

    class ADC:
        def __init__(self, pin):
            self.pin = pin

        def read_u16(self):
            if world.adc_stalled:
                raise OSError("ADC stalled")
            world.advance(READ_US)
            if self.pin.id == world.board.PILOT_ADC_PIN:
                return world.adc_u16(world.pilot_node_mv())
            return world.adc_u16(world.pp_node_mv())

    class UART:
        def __init__(self, uart_id, baudrate=9600, bits=8, parity=None, stop=1, tx=None,
                     rx=None):
            world.uart_baud = baudrate

        def any(self):
            return len(world.host_rx)

        def read(self, n=-1):
            if not world.host_rx:
                return None
            if n < 0:
                n = len(world.host_rx)
            data = bytes(world.host_rx[:n])
            world.host_rx = world.host_rx[n:]
            return data

        def write(self, data):
            world.host_tx.extend(data)
            return len(data)

    class WDT:
        def __init__(self, wdt_id=0, timeout=5000):
            world.wdt_timeout_ms = timeout
            world.wdt_fed_us = world.us

        def feed(self):
            world.wdt_feeds += 1
            world.wdt_fed_us = world.us

    class Machine:
        pass

    m = Machine()
    m.Pin = Pin
    m.PWM = PWM
    m.ADC = ADC
    m.UART = UART
    m.WDT = WDT
    return m


class SimTime:
    """ticks_ms/ticks_us wrap at 2**30 as MicroPython's do; sleeping advances the world."""

    def __init__(self, world):
        self.world = world

    def ticks_ms(self):
        return (self.world.us // 1000) % TICKS_PERIOD

    def ticks_us(self):
        self.world.advance(1)
        return self.world.us % TICKS_PERIOD

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)

    def sleep_ms(self, ms):
        self.world.advance(ms * 1000)


class SimHost:
    """The Pi's side: frames commands, acks the MCU's frames, keeps the link alive."""

    def __init__(self, world):
        self.world = world
        self.decoder = p.Decoder()
        self.seq = -1
        self.alive = True
        self.last_sent_us = -1  # when the host last wrote a frame
        self._last_command = -1
        self.frames = []
        self.acks = {}  # our seq -> status
        self.last_state = None
        self._next_keepalive_ms = 0

    def send(self, kind, payload=b""):
        seq = self.seq + 1
        if seq > 255:
            seq = 1
        self.seq = seq
        if kind in (p.CMD_ALLOW_ENERGY, p.CMD_FORBID_ENERGY):
            self._last_command = kind
        self.world.host_rx.extend(p.encode(seq, kind, payload))
        self.last_sent_us = self.world.us
        return seq

    def frames_sent_last_kind(self):
        """The last permission command sent (CMD_ALLOW_ENERGY / CMD_FORBID_ENERGY), or -1."""
        return self._last_command

    def service(self):
        """Read what the MCU wrote, ack it, send the periodic READ_STATE while alive."""
        w = self.world
        data = bytes(w.host_tx)
        w.host_tx = bytearray()
        for frame in self.decoder.feed(data):
            self.frames.append(frame)
            if frame.kind == p.MSG_ACK:
                self.acks[frame.payload[0]] = frame.payload[1]
                continue
            if frame.kind in (p.MSG_STATE, p.MSG_KEEPALIVE):
                self.last_state = p.decode_state(frame.payload)
            if self.alive:
                w.host_rx.extend(p.encode(frame.seq, p.MSG_ACK, bytes([frame.seq, p.ACK_OK])))
                self.last_sent_us = w.us
        if self.alive and w.ms() >= self._next_keepalive_ms:
            self._next_keepalive_ms = w.ms() + 500
            self.send(p.CMD_READ_STATE)


class Sim:
    """firmware/mcu/main.py booted (boot()) on the simulated world, stepped turn by turn."""

    def __init__(self, board=None, start_us=0, seed=1, noise_mv=0):
        from firmware.mcu import main as fw_main

        if board is None:
            board = fw_main.Board
        self.world = World(board, start_us=start_us, seed=seed, noise_mv=noise_mv)
        self.machine = make_machine(self.world)
        self.time = SimTime(self.world)
        self.fw = fw_main.boot(self.machine, self.time, board=board)
        self.host = SimHost(self.world)

    def turn(self):
        self.host.service()
        self.fw.turn()

    def run_ms(self, ms):
        end = self.world.us + ms * 1000
        while self.world.us < end:
            self.turn()

    def run_until(self, predicate, limit_ms):
        """Turns until predicate(); returns the simulated ms it took. Raises after limit_ms."""
        start = self.world.us
        while not predicate():
            if self.world.us - start > limit_ms * 1000:
                raise AssertionError("not reached within %d ms" % limit_ms)
            self.turn()
        return (self.world.us - start) // 1000

    def coil_off_after(self, since_us):
        """Simulated µs from since_us to the first coil-off at or after it (-1: none)."""
        for at_us, value in self.world.coil_log:
            if at_us >= since_us and value == 0:
                return at_us - since_us
        return -1

    def start_charging(self, offer_da=160):
        """EV plugged (B), host offers and allows, EV asks (C): ends with the coil on."""
        self.world.ev = "B"
        self.run_ms(200)
        self.host.send(p.CMD_OFFER_CURRENT, p.encode_u16(offer_da))
        self.host.send(p.CMD_ALLOW_ENERGY)
        self.run_ms(100)
        self.world.ev = "C"
        self.run_until(lambda: self.world.coil == 1 and self.world.mirror_closed(), 500)

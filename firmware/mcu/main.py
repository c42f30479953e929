"""MicroPython entry point of the safety MCU (Raspberry Pi Pico, RP2040): pins <-> McuApp.

Runs unchanged on MicroPython (as /main.py, firmware/mcu under /lib) and on CPython with a
stand-in ``machine`` module (tests/mcu): no typing, no dataclasses, integers only.

Boot order: the contactor coil pin is driven low before anything else is imported or
built (``boot()``); the RP2040 holds every GPIO as an input with its pull-down from reset
until then, and the board's gate pull-down keeps the coil driver off in that window. Then
the pilot PWM starts at 100 % (no energy offered), the UART opens and, last, the watchdog.

One loop turn (``Firmware.step()``, every LOOP_PERIOD_MS):
1. host bytes from the UART go to McuApp (any valid frame is the host's keep-alive);
2. the pilot is sampled: ADC reads for one full PWM period plus a margin
   (SAMPLE_WINDOW_US), the maximum is the high phase and the minimum the low phase
   (None when the PWM has no low phase: 100 % or state F), converted to pilot mV through
   the divider constants of Board; fed to SafetyController.pilot_sample;
3. mirror contact, RCD and (when wired) proximity pilot are read and fed;
4. McuApp.poll advances the timers; the coil and the PWM duty are set from the
   controller's outputs (coil first when it opens); bytes for the host go out;
5. the watchdog is fed, once, at the very end: a turn that raised or hung never feeds it.

Timing (hardware.md §3.3, IEC 61851-1 seq. 8.1: off within 100 ms of C->B):
- worst case C->B to coil off = debounce_ms (20) + one loop period (a change just after a
  burst is seen by the next one, LOOP_PERIOD_MS = 5) + the turn that sees it (<= 5 ms:
  a turn is ~1.2 ms of ADC burst plus a few ms of Python at most) = 30 ms (``make
  bench`` measures 30.8 ms worst in simulated time, causes at random microseconds); faults (RCD,
  mirror mismatch once its 50 ms settle time has run out) open in the turn that reads them
  (<= 2 loop periods = 10 ms after the input changed);
- a stalled loop: the watchdog (WDT_TIMEOUT_MS = 100) resets the RP2040, whose reset puts
  the coil pin back to input with pull-down: coil off within 100 ms of the stall, even
  when the stall began before the cause. (500 ms would leave a hung loop's contactor
  closed for 400 ms past the 100 ms rule.)
- host silence: the controller opens after keepalive_timeout_ms (2000) without a valid
  frame, at most one loop period late.

Flashing: ``make mcu`` compiles firmware/mcu to .mpy with mpy-cross; docs/mcu-protocol.md
("Building and flashing") shows the mpremote commands.
"""


class Board:
    """Raspberry Pi Pico wiring (GP numbers); docs/mcu-protocol.md ("The Pico's pins") has
    the same table, the board config pi5-pico-mcu-sdm630-pn532.toml the Pi's side.

    - COIL_PIN, output: high energises the contactor coil through a low-side MOSFET driver
      (gate pull-down on the board: off while the RP2040 is in reset or not yet booted).
    - PILOT_PWM_PIN, output: 1 kHz PWM into the +-12 V op-amp stage, non-inverting
      (GPIO high = +12 V on CP behind the 1 kOhm of hardware.md §3.1).
    - PILOT_ADC_PIN (ADC0): CP sensed through R_SERIES from CP to the node and two
      R_BIAS resistors from the node to 3V3 and to GND, so
      node = ADC_VREF/2 + CP * R_BIAS / (2 * R_SERIES + R_BIAS):
      with 140 kOhm and 40.2 kOhm (E96) CP +12 V -> 3156 mV, -12 V -> 144 mV.
    - PP_ADC_PIN (ADC1) or None: PP pulled up to 3V3 through PP_PULLUP_OHM, the cable's
      coding resistor to PE below it (hardware.md §3.4).
    - MIRROR_PIN, input with pull-up: the contactor's auxiliary NO contact to GND, so
      MIRROR_CLOSED_LEVEL = 0 means "main contacts closed".
    - RCD_PIN, input with pull-up: the RCD module's open-collector "healthy" output pulls it
      low; high (tripped, or a cut wire) is RCD_TRIPPED_LEVEL = 1: fails safe.
    - MAINTENANCE_PIN, input with pull-up: a jumper to GND at boot keeps the firmware (and
      its watchdog) from starting, for flashing (boot()).
    - UART_ID 0 on TX GP0 / RX GP1 to the Pi's UART (GPIO14 TXD -> GP1, GPIO15 RXD <- GP0),
      115200 8N1 (docs/mcu-protocol.md).
    """

    COIL_PIN = 15
    PILOT_PWM_PIN = 16
    PILOT_ADC_PIN = 26
    PP_ADC_PIN = 27
    MIRROR_PIN = 14
    RCD_PIN = 13
    MAINTENANCE_PIN = 22  # jumper to GND at boot: firmware not started (see boot())
    UART_ID = 0
    UART_TX_PIN = 0
    UART_RX_PIN = 1
    UART_BAUD = 115200

    MIRROR_CLOSED_LEVEL = 0
    RCD_TRIPPED_LEVEL = 1

    ADC_VREF_MV = 3300
    PILOT_R_SERIES_OHM = 140000
    PILOT_R_BIAS_OHM = 40200
    PP_PULLUP_OHM = 1000

    PWM_FREQ_HZ = 1000
    SAMPLE_WINDOW_US = 1200  # one 1 ms PWM period + 20 %: both phases are always seen
    SAMPLE_MAX_READS = 400  # bounds the burst if ticks_us were to stand still
    LOOP_PERIOD_MS = 5
    WDT_TIMEOUT_MS = 100
    MAX_CURRENT_DA = 320  # the station's own rating (32 A); the host's offer is capped to it


def pilot_mv(adc_u16, board=Board):
    """Pilot voltage (mV) from one read_u16 of the pilot ADC (inverse of the divider)."""
    node_mv = adc_u16 * board.ADC_VREF_MV // 65535
    return ((node_mv - board.ADC_VREF_MV // 2) * (2 * board.PILOT_R_SERIES_OHM
                                                 + board.PILOT_R_BIAS_OHM)
            // board.PILOT_R_BIAS_OHM)


def pp_ohm(adc_u16, board=Board):
    """PP coding resistance (ohm) from one read_u16 of the PP ADC; 1000000 when open."""
    node_mv = adc_u16 * board.ADC_VREF_MV // 65535
    headroom_mv = board.ADC_VREF_MV - node_mv
    if headroom_mv <= 10:  # within 10 mV of the rail: nothing below the pull-up
        return 1000000
    return board.PP_PULLUP_OHM * node_mv // headroom_mv


def duty_u16(duty_permyriad):
    """PWM compare value: 0 = steady low (state F, -12 V), 10000 = steady high (+12 V)."""
    if duty_permyriad >= 10000:
        return 65535
    if duty_permyriad <= 0:
        return 0
    return duty_permyriad * 65535 // 10000


def coil_off(machine, board=Board):
    """The first thing the firmware does: the coil pin as an output, low."""
    return machine.Pin(board.COIL_PIN, machine.Pin.OUT, value=0)


class Firmware:
    """The MCU's I/O around one McuApp. ``step()`` is one loop turn; ``run()`` loops forever.

    ``machine`` and ``time`` are the MicroPython modules (or stand-ins with the same API:
    Pin, PWM, ADC, UART, WDT; ticks_ms, ticks_us, ticks_diff, sleep_ms). ``coil`` is the
    already-lowered coil Pin when the caller did that first (main()); otherwise it is
    lowered here before anything else.
    """

    def __init__(self, machine, time, board=Board, coil=None):
        if coil is None:
            coil = coil_off(machine, board)
        self.coil = coil
        # the firmware modules come after the coil is low: importing them takes time
        from firmware.mcu.app import McuApp
        from firmware.mcu.safety import SafetyController

        self.machine = machine
        self.time = time
        self.board = board
        self._ticks = time.ticks_ms()
        self.now_ms = 0  # monotonic, does not wrap like ticks_ms
        self.coil_on = False
        pin = machine.Pin
        self.pwm = machine.PWM(pin(board.PILOT_PWM_PIN))
        self.pwm.freq(board.PWM_FREQ_HZ)
        self.duty_permyriad = 10000
        self.pwm.duty_u16(65535)  # no energy offered until the controller says otherwise
        self.pilot_adc = machine.ADC(pin(board.PILOT_ADC_PIN))
        self.pp_adc = None
        if board.PP_ADC_PIN is not None:
            self.pp_adc = machine.ADC(pin(board.PP_ADC_PIN))
        self.mirror = pin(board.MIRROR_PIN, pin.IN, pin.PULL_UP)
        self.rcd = pin(board.RCD_PIN, pin.IN, pin.PULL_UP)
        self.uart = machine.UART(
            board.UART_ID, baudrate=board.UART_BAUD, bits=8, parity=None, stop=1,
            tx=pin(board.UART_TX_PIN), rx=pin(board.UART_RX_PIN),
        )
        self.controller = SafetyController(
            now_ms=0, max_current_da=board.MAX_CURRENT_DA,
            pp_present=board.PP_ADC_PIN is not None,
        )
        self.app = McuApp(self.controller, now_ms=0)
        self.turns = 0
        self._apply()
        self.wdt = machine.WDT(timeout=board.WDT_TIMEOUT_MS)  # last: boot may be slow

    def clock(self):
        """Monotonic ms since boot from the wrapping ticks_ms."""
        ticks = self.time.ticks_ms()
        self.now_ms += self.time.ticks_diff(ticks, self._ticks)
        self._ticks = ticks
        return self.now_ms

    def sample_pilot(self):
        """(high_mv, low_mv or None) over one PWM period of ADC reads."""
        t = self.time
        read = self.pilot_adc.read_u16
        start = t.ticks_us()
        high = 0
        low = 65535
        reads = 0
        while reads < self.board.SAMPLE_MAX_READS:
            value = read()
            reads += 1
            if value > high:
                high = value
            if value < low:
                low = value
            if t.ticks_diff(t.ticks_us(), start) >= self.board.SAMPLE_WINDOW_US:
                break
        low_mv = None
        if 0 < self.duty_permyriad < 10000:
            low_mv = pilot_mv(low, self.board)
        return pilot_mv(high, self.board), low_mv

    def step(self):
        """One loop turn; the watchdog is fed at its end only."""
        ctl = self.controller
        board = self.board
        now = self.clock()
        out = bytearray()
        waiting = self.uart.any()
        if waiting:
            data = self.uart.read(waiting)
            if data:
                out.extend(self.app.feed(data, now))
                self._apply()
        high_mv, low_mv = self.sample_pilot()
        now = self.clock()
        ctl.pilot_sample(high_mv, low_mv, now)
        ctl.rcd_reading(self.rcd.value() == board.RCD_TRIPPED_LEVEL, now)
        ctl.mirror_reading(self.mirror.value() == board.MIRROR_CLOSED_LEVEL, now)
        if self.pp_adc is not None:
            ctl.pp_reading(pp_ohm(self.pp_adc.read_u16(), board), now)
        out.extend(self.app.poll(now))
        self._apply()
        if out:
            self.uart.write(bytes(out))
        self.turns += 1
        self.wdt.feed()

    def _apply(self):
        ctl = self.controller
        if not ctl.contactor and self.coil_on:
            self.coil.value(0)  # opening goes first, before the PWM changes
            self.coil_on = False
        if ctl.duty_permyriad != self.duty_permyriad:
            self.duty_permyriad = ctl.duty_permyriad
            self.pwm.duty_u16(duty_u16(ctl.duty_permyriad))
        if ctl.contactor and not self.coil_on:
            self.coil.value(1)
            self.coil_on = True

    def fail_safe(self):
        """Coil off and pilot at state F; used when a turn raised (the WDT then resets)."""
        self.coil.value(0)
        self.coil_on = False
        self.pwm.duty_u16(0)
        self.duty_permyriad = 0

    def turn(self):
        """One step, then sleep out the rest of LOOP_PERIOD_MS."""
        t = self.time
        started = t.ticks_ms()
        self.step()
        spent = t.ticks_diff(t.ticks_ms(), started)
        if spent < self.board.LOOP_PERIOD_MS:
            t.sleep_ms(self.board.LOOP_PERIOD_MS - spent)

    def run(self):
        """Loop forever; an exception ends in fail_safe and propagates: nothing feeds the
        watchdog any more, so the RP2040 resets (coil off, pilot F meanwhile)."""
        try:
            while True:
                self.turn()
        except BaseException:
            self.fail_safe()
            raise


def boot(machine, time, board=Board):
    """Coil low first; then the Firmware, or None with the maintenance jumper fitted.

    The RP2040's watchdog cannot be stopped once started, and it would reset the board
    under mpremote. With MAINTENANCE_PIN jumpered to GND at boot the firmware does not
    start: the coil stays low, the pilot PWM pin is held low (state F, -12 V: "EVSE not
    available") and the REPL is free for flashing.
    """
    coil = coil_off(machine, board)
    jumper = machine.Pin(board.MAINTENANCE_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
    if jumper.value() == 0:
        machine.Pin(board.PILOT_PWM_PIN, machine.Pin.OUT, value=0)
        print("borne mcu: maintenance jumper fitted, firmware not started (coil off, pilot F)")
        return None
    return Firmware(machine, time, board=board, coil=coil)


def main():
    import machine
    import time

    firmware = boot(machine, time)
    if firmware is not None:
        firmware.run()


if __name__ == "__main__":
    main()

"""A contactor on the sim GPIO chip: its coil on an output, its mirror contact on an
input (normally closed mirror to GND with pull-up: high = main contacts closed, the
README's recommended wiring). The main contacts follow the coil at once unless the
coil does not pull in (``pulls_in = False``) or they are welded."""

from __future__ import annotations


class MirrorContact:
    def __init__(self, gpio, coil_pin: int, feedback_pin: int) -> None:
        self.gpio = gpio
        self.feedback_pin = feedback_pin
        self.pulls_in = True
        self.welded = False
        self.closed = False
        self.switches = 0          # times the main contacts changed state
        gpio.drive(feedback_pin, False)
        gpio.on_output(coil_pin, self._coil_changed)

    def _coil_changed(self, level: bool) -> None:
        closed = (level and self.pulls_in) or (self.welded and self.closed)
        if closed != self.closed:
            self.closed = closed
            self.switches += 1
            self.gpio.drive(self.feedback_pin, closed)

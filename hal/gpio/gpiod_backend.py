"""libgpiod v2 backend (PyPI ``gpiod`` >= 2): Raspberry Pi 3/4/5 and any Linux board.

The chip is found by its label, not its number: the Pi 5 header moved from gpiochip4
to gpiochip0 with kernel 6.6.45 and some images add a gpiochip4 symlink, while the
label (``pinctrl-rp1`` on Pi 5, ``pinctrl-bcm2711`` on Pi 4, ``pinctrl-bcm2835`` on
older Pis) is stable. An explicit ``chip`` path overrides the search.

Each device gets one ``LineRequest`` held until it closes, so the lines stay claimed
(another process cannot flip the contactor coil) and edge events are kernel-stamped
on the monotonic clock. Edge events are read from the request's file descriptor with
``loop.add_reader``: no thread, no polling.

``gpiod`` is imported inside ``GpiodFactory`` methods so that importing ``hal.gpio`` on a
board without GPIO never loads it.
"""

from __future__ import annotations

import asyncio
import datetime
import errno
import glob
import logging
import os
from typing import Any, Mapping

from hal.errors import DeviceOpenError
from hal.gpio.base import Bias, Edge, EdgeEvent, InputConfig, LineConfig, LinesBase, OutputConfig

log = logging.getLogger(__name__)

# Header GPIO chip labels, newest board first.
PI_CHIP_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")

_INSTALL_HINT = "pip install 'gpiod>=2' (the v2 bindings from PyPI, not Debian's python3-libgpiod 1.x)"


def _import_gpiod() -> Any:
    try:
        import gpiod
    except ImportError as exc:
        raise DeviceOpenError(f"GPIO factory 'gpiod': the gpiod module is not installed: "
                              f"{_INSTALL_HINT}") from exc
    if not hasattr(gpiod, "request_lines"):
        raise DeviceOpenError(f"GPIO factory 'gpiod': the installed gpiod module is the old v1 "
                              f"API: {_INSTALL_HINT}")
    return gpiod


def list_chips(pattern: str = "/dev/gpiochip*") -> list[str]:
    """GPIO chip device paths, one per real device (symlinks such as gpiochip4 → gpiochip0
    on Pi 5 images are folded into their target)."""
    seen: dict[str, str] = {}
    for path in sorted(glob.glob(pattern)):
        seen.setdefault(os.path.realpath(path), path)
    return sorted(seen.values())


def line_settings(cfg: LineConfig) -> Any:
    """The ``gpiod.LineSettings`` for one of our line configs (values are logical: the
    kernel applies ``active_low``, and reports edges in logical terms too)."""
    gpiod = _import_gpiod()
    from gpiod.line import Bias as GBias, Direction, Edge as GEdge, Value

    if isinstance(cfg, OutputConfig):
        return gpiod.LineSettings(direction=Direction.OUTPUT, active_low=cfg.active_low,
                                  output_value=Value.ACTIVE if cfg.initial else Value.INACTIVE)
    bias = {Bias.AS_IS: GBias.AS_IS, Bias.PULL_UP: GBias.PULL_UP,
            Bias.PULL_DOWN: GBias.PULL_DOWN, Bias.DISABLED: GBias.DISABLED}[cfg.bias]
    edge = {Edge.NONE: GEdge.NONE, Edge.RISING: GEdge.RISING, Edge.FALLING: GEdge.FALLING,
            Edge.BOTH: GEdge.BOTH}[cfg.edge]
    settings: dict[str, Any] = dict(direction=Direction.INPUT, active_low=cfg.active_low,
                                    bias=bias, edge_detection=edge)
    if cfg.debounce_s > 0:
        settings["debounce_period"] = datetime.timedelta(seconds=cfg.debounce_s)
    return gpiod.LineSettings(**settings)


class GpiodFactory:
    """GPIO through libgpiod v2.

    ``chip``: explicit path ("/dev/gpiochip0"), or "" to search by ``chip_label``;
    ``chip_label``: "" = the first of ``PI_CHIP_LABELS`` present.
    """

    backend = "gpiod"

    def __init__(self, chip: str = "", chip_label: str = "", consumer: str = "borne") -> None:
        self.chip = chip
        self.chip_label = chip_label
        self.consumer = consumer
        self._path: str | None = None
        self._label = ""
        self._requests: list[GpiodLines] = []

    def resolve_chip(self) -> tuple[str, str]:
        """(path, label) of the chip to use; raises ``DeviceOpenError`` with the fix."""
        if self._path is not None:
            return self._path, self._label
        gpiod = _import_gpiod()
        if self.chip:
            try:
                with gpiod.Chip(self.chip) as chip:
                    label = chip.get_info().label
            except (OSError, ValueError) as exc:
                raise DeviceOpenError(
                    f"GPIO chip {self.chip} cannot be opened ({exc}): check [gpio] chip "
                    f"(see 'gpiodetect'), or leave it empty to find the chip by label") from exc
            if self.chip_label and label != self.chip_label:
                raise DeviceOpenError(
                    f"GPIO chip {self.chip} has label '{label}', not '{self.chip_label}': "
                    f"fix [gpio] chip or chip_label")
            self._path, self._label = self.chip, label
            return self._path, self._label
        wanted = (self.chip_label,) if self.chip_label else PI_CHIP_LABELS
        found: dict[str, str] = {}
        for path in list_chips():
            try:
                with gpiod.Chip(path) as chip:
                    found[chip.get_info().label] = path
            except (OSError, ValueError) as exc:
                log.debug("skipping %s: %s", path, exc)
        for label in wanted:
            if label in found:
                self._path, self._label = found[label], label
                return self._path, self._label
        seen = ", ".join(f"{p} '{l}'" for l, p in sorted(found.items())) or "no /dev/gpiochip* devices"
        raise DeviceOpenError(
            f"no GPIO chip labelled {' or '.join(repr(w) for w in wanted)} (found: {seen}): "
            f"set [gpio] chip_label or chip to your board's header chip (see 'gpiodetect'); "
            f"if there are no chips, the service user may lack access to /dev/gpiochip*")

    def request(self, consumer: str, lines: Mapping[int, LineConfig]) -> "GpiodLines":
        pins = ", ".join(str(p) for p in lines)
        try:
            gpiod = _import_gpiod()
            path, label = self.resolve_chip()
        except DeviceOpenError as exc:
            # the chip's problem, told as the device's: which lines could not be had
            raise DeviceOpenError(f"GPIO pin(s) {pins} for '{consumer}': {exc}") from exc
        config = {pin: line_settings(cfg) for pin, cfg in lines.items()}
        full_consumer = f"{self.consumer}:{consumer}" if consumer else self.consumer
        try:
            req = gpiod.request_lines(path, config=config, consumer=full_consumer[:31])
        except OSError as exc:
            raise DeviceOpenError(self._request_error(pins, path, label, exc)) from exc
        except ValueError as exc:  # offset out of range for this chip
            raise DeviceOpenError(f"GPIO pin(s) {pins} on {path} '{label}': {exc}: fix the "
                                  f"pin numbers (BCM numbering on a Raspberry Pi)") from exc
        lines_obj = GpiodLines(req, path, label, consumer, lines)
        self._requests.append(lines_obj)
        return lines_obj

    @staticmethod
    def _request_error(pins: str, path: str, label: str, exc: OSError) -> str:
        where = f"GPIO pin(s) {pins} on {path} '{label}'"
        if exc.errno == errno.EBUSY:
            return (f"{where} busy: another process or kernel driver holds the line "
                    f"(see 'gpioinfo'; a dtoverlay such as w1-gpio or a second agent)")
        if exc.errno in (errno.EACCES, errno.EPERM):
            return (f"{where}: permission denied: add the service user to the 'gpio' group")
        if exc.errno == errno.EINVAL:
            return (f"{where}: invalid line or setting ({exc}): check the pin numbers "
                    f"and that the chip supports the requested bias/debounce")
        return f"{where} cannot be requested: {exc}"

    def close(self) -> None:
        for req in self._requests:
            req.close()
        self._requests.clear()


class GpiodLines(LinesBase):
    backend = "gpiod"

    def __init__(self, request: Any, path: str, label: str, consumer: str,
                 configs: Mapping[int, LineConfig]) -> None:
        super().__init__(consumer, configs)
        self._req = request
        self._path = path
        self._label = label
        self._loop: asyncio.AbstractEventLoop | None = None
        from gpiod.edge_event import EdgeEvent as GEdgeEvent
        from gpiod.line import Value
        self._rising_type = GEdgeEvent.Type.RISING_EDGE
        self._active = Value.ACTIVE
        self._inactive = Value.INACTIVE

    def get(self, pin: int) -> bool:
        self._check_pin(pin)
        return bool(self._req.get_value(pin) == self._active)

    def set(self, pin: int, value: bool) -> None:
        self._check_pin(pin, output=True)
        self._req.set_value(pin, self._active if value else self._inactive)

    def describe(self, pin: int) -> str:
        return f"{self._label} ({self._path}) line {pin}"

    def _start_events(self) -> None:
        if not any(isinstance(c, InputConfig) and c.edge is not Edge.NONE
                   for c in self.configs.values()):
            return
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._req.fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            events = self._req.read_edge_events()
        except OSError as exc:
            log.error("reading edge events on %s: %s", self._path, exc)
            return
        for ev in events:
            self._push(EdgeEvent(ev.line_offset, ev.event_type == self._rising_type,
                                 ev.timestamp_ns))

    def _release(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._req.fd)
            self._loop = None
        try:
            self._req.release()
        except Exception as exc:  # already released
            log.debug("releasing %s: %s", self._path, exc)

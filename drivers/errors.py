"""Errors raised by drivers. Every one is a ``hal.errors.HalError`` so the runtime can
catch one root per device; protocol-level trouble that means "the device stopped
answering sensibly" is reported as ``DeviceUnavailable`` subclasses."""

from __future__ import annotations

from hal.errors import DeviceUnavailable, HalError


class DriverError(HalError):
    """Root of driver-specific failures."""


class ProtocolError(DriverError, DeviceUnavailable):
    """The peer answered, but not with a valid frame/reply (after retries)."""


class CommandRejected(DriverError):
    """The device understood the command and refused it (e.g. OpenEVSE ``$NK``)."""

    def __init__(self, message: str, reply: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reply = reply

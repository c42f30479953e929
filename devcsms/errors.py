"""The development CSMS's branch of Borne's error tree (``firmware.errors``)."""

from __future__ import annotations

from firmware.errors import BorneError


class DevCsmsError(BorneError):
    """Root of what the development CSMS raises to the tests and tools that drive it."""

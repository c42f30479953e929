"""The OCPP 1.6J adapter (``V16Adapter``); its payload mapping is ``firmware.ocpp.mapping``."""

from .adapter import V16Adapter

__all__ = ["V16Adapter"]

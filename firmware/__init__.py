"""Borne: the charge-point firmware agent (OCPP 1.6J)."""

__version__ = "0.1.0"

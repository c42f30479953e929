"""Contactor drivers. Importing this package registers them (see drivers.registry)."""

from drivers.contactor import gpio_contactor
from drivers.registry import register

register(gpio_contactor.SPEC)

"""Indicator drivers. Importing this package registers them (see drivers.registry)."""

from drivers.indicator import gpio_rgb
from drivers.registry import register

register(gpio_rgb.SPEC)

"""Cable lock drivers. Importing this package registers them (see drivers.registry)."""

from drivers.lock import gpio_lock
from drivers.registry import register

register(gpio_lock.SPEC)

"""Payment terminals (issue #12). Importing this package registers them (see
drivers.registry); pyserial is imported only when a serial terminal opens."""

from drivers.registry import register
from drivers.payment import spec

for _spec in spec.SPECS:
    register(_spec)

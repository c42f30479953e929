"""Card readers. Importing this package registers them (see drivers.registry); each
module imports pyserial/GPIO backends only when a device opens."""

from drivers.registry import register
from drivers.rfid import line, pn532, rdm6300, wiegand

for _module in (pn532, rdm6300, wiegand, line):
    register(_module.SPEC)

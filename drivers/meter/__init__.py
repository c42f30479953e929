"""Energy meters over Modbus RTU. Importing this package registers the drivers
(``sdm630``, ``sdm120``, ``sdm72dm_v2``, ``abb_b23`` and ``modbus`` with an inline map);
pymodbus itself is imported only when a meter opens."""

from drivers.meter import modbus_meter
from drivers.registry import register

for _spec in modbus_meter.specs():
    register(_spec)

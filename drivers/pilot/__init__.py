"""EVSE controllers (control pilot). Importing this package registers the OpenEVSE driver
(roles pilot, contactor and meter) and the Borne safety MCU driver "borne_mcu" (pilot and
contactor); pyserial loads only on open()."""

from drivers.pilot import mcu_pilot, openevse
from drivers.registry import register

for _spec in (openevse.PILOT_SPEC, openevse.CONTACTOR_SPEC, openevse.METER_SPEC,
              mcu_pilot.PILOT_SPEC, mcu_pilot.CONTACTOR_SPEC):
    register(_spec)

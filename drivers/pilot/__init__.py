"""EVSE controllers (control pilot). Importing this package registers the OpenEVSE
driver for the roles pilot, contactor and meter; pyserial loads only on open()."""

from drivers.pilot import openevse
from drivers.registry import register

for _spec in (openevse.PILOT_SPEC, openevse.CONTACTOR_SPEC, openevse.METER_SPEC):
    register(_spec)

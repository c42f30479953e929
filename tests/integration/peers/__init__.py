"""Devices played by the tests on the far side of real pseudo-terminals (and the sim
GPIO chip), for running the real agent on real drivers: a PN532, an OpenEVSE
controller with an EV behind it, an Eastron SDM630 served by pymodbus, a reader that
prints UIDs as text lines, a contactor's mirror contact. See ``rig.py``."""

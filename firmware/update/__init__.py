"""Firmware updates' I/O (issue 11 item 4): the CSMS's CALLs (``service``), download
(``download``), signing trust and signature (``signing``), the installer
(``installer``) and the worker executing the core's effects (``updater``). The
decisions are the core's (``firmware.core.firmware_update``)."""

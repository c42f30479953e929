"""sd_notify without a dependency: READY=1, WATCHDOG=1, STOPPING=1 over $NOTIFY_SOCKET.

The protocol is one datagram per message on the unix socket systemd names in
``NOTIFY_SOCKET`` (a leading '@' means the abstract namespace). Outside systemd every
call is a no-op. The watchdog task pings at half of ``WATCHDOG_USEC`` from the event
loop itself, so a stalled loop stops the pings and systemd restarts the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger(__name__)


def under_systemd() -> bool:
    return bool(os.environ.get("NOTIFY_SOCKET") or os.environ.get("INVOCATION_ID"))


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
    except OSError as e:
        log.warning("sd_notify %s failed: %s", message, e)
        return False
    return True


def watchdog_interval_s() -> float | None:
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None


async def watchdog_loop() -> None:
    interval_s = watchdog_interval_s()
    if interval_s is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval_s)

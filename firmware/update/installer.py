"""The site's installer command (``[firmware] install_command``), run on a verified image.

The command is executed directly (no shell) with the image's path appended and
``BORNE_FIRMWARE_IMAGE`` / ``BORNE_FIRMWARE_REQUEST_ID`` in its environment. Exit 0 means
installed: the agent then restarts into the new firmware. Any other exit, a command that
cannot be started, or one still running after ``timeout_s`` (killed) is a failure and
the old firmware keeps running — so an installer must not break the running install
before it has succeeded (``deploy/borne-install-wheel`` installs a wheel with pip into
the agent's venv, which replaces the package only once it is unpacked).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

OUTPUT_KEPT_CHARS = 400


@dataclass(frozen=True)
class InstallResult:
    ok: bool
    reason: str  # for the log: the exit status and the output's tail


async def run_installer(command: list[str], image: Path, request_id: int,
                        timeout_s: float) -> InstallResult:
    if not command:
        return InstallResult(False, "no [firmware] install_command configured")
    env = {**os.environ, "BORNE_FIRMWARE_IMAGE": str(image),
           "BORNE_FIRMWARE_REQUEST_ID": str(request_id)}
    try:
        process = await asyncio.create_subprocess_exec(
            *command, str(image), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
            start_new_session=True)
    except OSError as e:
        return InstallResult(False, f"cannot start {command[0]}: {e.strerror or e}")
    try:
        async with asyncio.timeout(timeout_s):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return InstallResult(False, f"installer killed after {timeout_s:.0f} s")
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    tail = output.decode("utf-8", "replace").strip()[-OUTPUT_KEPT_CHARS:]
    if process.returncode != 0:
        return InstallResult(False, f"installer exit {process.returncode}: {tail}")
    return InstallResult(True, tail)

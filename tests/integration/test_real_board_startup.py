"""`borne run` on a board whose GPIO chip does not exist: exit 1, and a message that
names the pins and the fix (a real process, as a technician starts it)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.integration.agent import REPO, write_site

BOARD = """\
[board]
name = "Pi 5 relay board, wrong GPIO chip"
mixed_sim = true               # a bench: only the contactor is real

[gpio]
factory = "gpiod"
{chip}

[[connector]]
id = 1
max_current_a = 16.0
phases = 1

[connector.pilot]
driver = "sim"

[connector.contactor]
driver = "gpio"
coil_pin = 17
feedback_pin = 27

[connector.meter]
driver = "sim"
"""


def borne() -> list[str]:
    """``borne`` from this checkout. Not the environment's ``bin/borne``: when the
    environment is shared (``.venv`` a symlink), that script imports whatever checkout
    it was installed from, which may be mid-edit; it failed this test at random."""
    return [sys.executable, "-m", "firmware"]


@pytest.mark.parametrize("chip, fix", [
    ('chip = "/dev/gpiochip99"', "check [gpio] chip"),
    ('chip_label = "pinctrl-nonexistent"', "set [gpio] chip_label or chip"),
])
async def test_missing_gpio_chip_stops_borne_run_naming_pins_and_fix(tmp_path, chip, fix):
    board = tmp_path / "board.toml"
    board.write_text(BOARD.format(chip=chip))
    site = write_site(tmp_path, "ws://127.0.0.1:9/ocpp", board=board)
    process = await asyncio.create_subprocess_exec(
        *borne(), "run", "--config", str(site), cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(30):
        _, stderr = await process.communicate()
    message = stderr.decode()
    assert process.returncode == 1, message
    line = next(line for line in message.splitlines() if "cannot start" in line)
    assert "connector 1 contactor" in line and "GPIO pin(s) 17, 27" in line
    assert fix in line and "gpiodetect" in line

"""check-config reports, as FILE: key: problem and exit 2, every board mistake that
`borne run` would refuse or that could never work, and never prints a traceback
(issue #8 item 7). Run through the real `borne` command, as a technician does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PI5 = (ROOT / "board_configs" / "pi5-relay-sdm120-rdm6300.toml").read_text("utf-8")
PI4 = (ROOT / "board_configs" / "pi4-openevse-sdm630-pn532.toml").read_text("utf-8")


def site_text(console: str = 'device = "none"', state_dir: str = "state") -> str:
    return (f'[station]\nid = "CP-1"\n[ocpp]\ncsms_url = "ws://127.0.0.1:9/ocpp"\n'
            f'[board]\nconfig = "board.toml"\n[storage]\nstate_dir = "{state_dir}"\n'
            f'[console]\n{console}\n')


def check(tmp_path: Path, board: str | bytes, env: dict[str, str] | None = None,
          **site: str) -> tuple[int, str]:
    (tmp_path / "board.toml").write_bytes(board if isinstance(board, bytes) else board.encode())
    (tmp_path / "site.toml").write_text(site_text(**site))
    done = subprocess.run([sys.executable, "-m", "firmware", "check-config", "--config",
                           str(tmp_path / "site.toml")], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                          timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout + done.stderr


def test_the_shipped_boards_pass(tmp_path):
    assert check(tmp_path, PI5)[0] == 0
    assert check(tmp_path, PI4)[0] == 0


@pytest.mark.parametrize("change, expected", [
    (lambda b: b.replace('[gpio]\nfactory = "gpiod"\nchip_label = "pinctrl-rp1"', ""),
     "board.toml: connector 1.contactor.driver: driver 'gpio' needs a [gpio] table"),
    (lambda b: b.replace("feedback_pin = 27", "feedback_pin = 17"),
     "connector 1.contactor.feedback_pin: GPIO line 17 is already used by "
     "connector 1.contactor.coil_pin"),
    (lambda b: b.replace('port = "/dev/ttyAMA0"',
                         'port = "/dev/serial/by-id/usb-1a86_USB_Serial_RS485-if00-port0"'),
     "reader front.port: /dev/serial/by-id/usb-1a86_USB_Serial_RS485-if00-port0 is already "
     "used by connector 1.meter"),
    (lambda b: b.replace("max_current_a = 32.0", "max_current_a = 99.0"),
     "connector 1.max_current_a:"),
    (lambda b: b.replace("baudrate = 9600", "baudrate = 12345"), "reader front.baudrate:"),
    (lambda b: b.replace("device_id = 1", "device_id = " + "9" * 5000), "board.toml: (syntax):"),
    (lambda b: b + "\nx = " + "[" * 5000 + "]" * 5000 + "\n",
     "board.toml: (syntax): nested too deeply"),
    (lambda b: b.encode() + b"\n# \xff\xfe\n", "board.toml: (file): not UTF-8 text"),
    (lambda b: b.replace("lock_pin = 22", "lock_pin = 17"),
     "connector 1.lock.lock_pin: GPIO line 17 is already used by connector 1.contactor.coil_pin"),
    (lambda b: b.replace("feedback_pin = 24", "feedback_pin = 22"),
     "connector 1.lock.lock_pin: GPIO line 22 is already used by connector 1.lock.feedback_pin"),
    (lambda b: b.replace("unlock_pin = 23\n", ""),
     'connector 1.lock.unlock_pin: required with actuator = "motor"'),
    (lambda b: b.replace('actuator = "motor"', 'actuator = "solenoid-hold"'),
     'connector 1.lock.unlock_pin: unused with actuator = "solenoid-hold"'),
    (lambda b: b.replace("lock_timeout_s = 1.0", "lock_timeout_s = 0.2"),
     "connector 1.lock.lock_timeout_s: 0.2 s is shorter than pulse_s = 0.5 s"),
    (lambda b: b.replace("blue_pin = 13", "blue_pin = 5"),
     "connector 1.indicator.red_pin: GPIO line 5 is already used by connector 1.indicator.blue_pin"),
    (lambda b: b.replace('driver = "gpio_rgb"', 'driver = "gpio_rgb"\nbrightness = 3'),
     "connector 1.indicator.brightness: unknown key"),
], ids=["gpio-without-table", "coil-equals-feedback", "two-devices-one-port",
        "out-of-range", "baudrate", "5000-digit-int", "5000-deep", "not-utf8",
        "lock-pin-on-the-coil", "lock-pin-on-its-feedback", "motor-without-unlock-pin",
        "solenoid-with-unlock-pin", "timeout-shorter-than-pulse", "indicator-pin-twice",
        "indicator-unknown-key"])
def test_board_mistakes(tmp_path, change, expected):
    code, out = check(tmp_path, change(PI5))
    assert code == 2 and expected in out, out


def test_serial_aliases_are_resolved_through_symlinks(tmp_path):
    alias = tmp_path / "serial0"
    alias.symlink_to("/dev/null")
    board = PI5.replace('port = "/dev/ttyAMA0"', f'port = "{alias}"').replace(
        'port = "/dev/serial/by-id/usb-1a86_USB_Serial_RS485-if00-port0"', 'port = "/dev/null"')
    code, out = check(tmp_path, board)
    assert code == 2 and f"reader front.port: {alias} is already used by connector 1.meter" in out


def test_a_shared_controller_link_needs_the_same_serial_settings(tmp_path):
    board = PI4.replace("baudrate = 115200", "baudrate = 57600", 1)
    if board == PI4:
        pytest.skip("the pi4 board declares no baudrate to change")
    code, out = check(tmp_path, board)
    assert code == 2 and "on the shared port" in out, out


def test_the_console_on_a_devices_port_or_on_no_device(tmp_path):
    board = PI5.replace('port = "/dev/ttyAMA0"', 'port = "/dev/null"')
    code, out = check(tmp_path, board, console='device = "/dev/null"\nlogin = "none"')
    assert code == 2 and "console.device: /dev/null is the serial port of reader front" in out
    code, out = check(tmp_path, PI5, console='device = "/dev/ttyNOPE9"\nlogin = "none"')
    assert code == 2 and "console.device: /dev/ttyNOPE9 does not exist" in out


def test_a_stdio_console_under_systemd_is_refused_before_it_fails(tmp_path):
    code, out = check(tmp_path, PI5, env={"INVOCATION_ID": "0123"}, console='device = "stdio"')
    assert code == 2 and "console.device: stdio has no terminal under systemd" in out


def test_a_state_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "afile").write_text("")
    code, out = check(tmp_path, PI5, state_dir="afile/state")
    assert code == 2 and "storage.state_dir:" in out and "is not a directory" in out


def test_sim_devices_next_to_real_ones_need_an_explicit_yes(tmp_path):
    # a real board with a simulated lock instead of its GPIO one
    start, end = PI5.index("[connector.lock]"), PI5.index("[connector.indicator]")
    board = PI5[:start] + '[connector.lock]\ndriver = "sim"\n\n' + PI5[end:]
    code, out = check(tmp_path, board)
    assert code == 2 and "board.mixed_sim: simulated devices (connector 1.lock)" in out
    code, _ = check(tmp_path, board.replace("[board]\n", "[board]\nmixed_sim = true\n"))
    assert code == 0

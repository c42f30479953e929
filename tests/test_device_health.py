"""The health record every device's owner keeps (issue 8 item 6: a vanished reader was
invisible in `hw`), and how `hw` prints it. Times come from an injected clock."""

from __future__ import annotations

import re

from firmware.console.hw_commands import device_line
from firmware.device_health import MAX_ERROR_CHARS, DeviceHealth
from hal.errors import DeviceUnavailable
from hal.interfaces import DeviceInfo

T0 = 1_796_292_133.0          # 2026-12-03T10:02:13Z


class Clock:
    def __init__(self, now_s: float = T0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def test_a_new_device_is_ok_with_nothing_recorded():
    health = DeviceHealth(Clock())
    assert (health.state, health.last_error, health.last_error_at_s, health.recovered_at_s,
            health.failing_since_s, health.failures) == ("ok", "", None, None, None, 0)
    assert health.succeeded() is False          # nothing to recover from


def test_a_failure_is_recorded_with_its_time_and_a_success_records_the_recovery():
    clock = Clock()
    health = DeviceHealth(clock)
    assert health.failed(DeviceUnavailable("serial port /dev/ttyUSB0 disappeared")) is True
    assert (health.state, health.last_error, health.last_error_at_s) == (
        "retrying", "serial port /dev/ttyUSB0 disappeared", T0)
    clock.now_s = T0 + 2
    # Retries failing with another message: the latest message and time, the episode's start.
    assert health.failed(DeviceUnavailable("serial port /dev/ttyUSB0 does not exist")) is False
    assert (health.last_error, health.last_error_at_s, health.failing_since_s,
            health.failures) == ("serial port /dev/ttyUSB0 does not exist", T0 + 2, T0, 2)
    clock.now_s = T0 + 32
    assert health.succeeded() is True
    assert (health.state, health.recovered_at_s, health.failures) == ("ok", T0 + 32, 0)
    # The error stays visible after the recovery: that is the point of the record.
    assert (health.last_error, health.last_error_at_s, health.failing_since_s) == (
        "serial port /dev/ttyUSB0 does not exist", T0 + 2, T0)
    clock.now_s = T0 + 40
    assert health.succeeded() is False and health.recovered_at_s == T0 + 32


def test_a_new_failure_after_a_recovery_starts_a_new_episode():
    clock = Clock()
    health = DeviceHealth(clock)
    health.failed("first")
    clock.now_s = T0 + 5
    health.succeeded()
    clock.now_s = T0 + 60
    assert health.failed("second") is True
    assert (health.state, health.failing_since_s, health.failures) == ("retrying", T0 + 60, 1)
    assert health.recovered_at_s == T0 + 5      # the last recovery, before this failure


def test_a_failure_nobody_retries_is_failed_not_retrying():
    health = DeviceHealth(Clock())
    health.failed("lock did not confirm", retrying=False)
    assert health.state == "failed"
    health.failed("the periodic check failed too")   # retrying by default
    assert health.state == "retrying"


def test_error_text_is_one_bounded_line_and_never_empty():
    health = DeviceHealth(Clock())
    health.failed(DeviceUnavailable("line one\nline two\r\n\x1b[31m" + "x" * 1000))
    assert "\n" not in health.last_error and "\x1b" not in health.last_error
    assert health.last_error.startswith("line one line two ")
    assert len(health.last_error) <= MAX_ERROR_CHARS and health.last_error.endswith("…")
    health.failed(TimeoutError())
    assert health.last_error == "TimeoutError"


def test_a_clock_set_back_never_shows_a_negative_age():
    clock = Clock()
    health = DeviceHealth(clock)
    health.failed("gone")
    line = device_line(DeviceInfo("rfid", "desk", "line"), health=health, now_s=T0 - 3600)
    assert "(0s ago)" in line


def test_hw_line_of_a_device_that_failed_and_recovered():
    clock = Clock()
    health = DeviceHealth(clock)
    health.failed(DeviceUnavailable("serial port /dev/ttyUSB0 disappeared (Input/output "
                                    "error): check the cable/USB adapter"))
    clock.now_s = T0 + 32
    health.succeeded()
    info = DeviceInfo("rfid", "desk", "line", "/dev/ttyUSB0 9600 8N1",
                      details={"format": "hex"})
    line = device_line(info, {"connector": "0"}, health=health, now_s=T0 + 185)
    assert line == (
        'rfid desk: backend=line port="/dev/ttyUSB0 9600 8N1" state=ok '
        'last_error="serial port /dev/ttyUSB0 disappeared (Input/output error): check the '
        "cable/USB adapter\" error_at=\"2026-12-03T10:02:13Z (3m05s ago)\" "
        'recovered_at="2026-12-03T10:02:45Z (2m33s ago)" format=hex connector=0')


def test_hw_line_of_a_device_failing_now():
    clock = Clock()
    health = DeviceHealth(clock)
    health.failed("serial port /dev/ttyUSB0 disappeared")
    clock.now_s = T0 + 30
    health.failed("serial port /dev/ttyUSB0 does not exist")
    line = device_line(DeviceInfo("rfid", "desk", "line"), health=health, now_s=T0 + 31)
    assert line == (
        'rfid desk: backend=line port=- state=retrying '
        'last_error="serial port /dev/ttyUSB0 does not exist" '
        'error_at="2026-12-03T10:02:43Z (1s ago)" failing_since="2026-12-03T10:02:13Z (31s ago)" '
        "failures=2")


def test_hw_line_of_a_healthy_device_and_the_backends_own_remark():
    info = DeviceInfo("rfid", "desk", "line", last_error="ignored line (not hex)")
    assert device_line(info, health=DeviceHealth(Clock()), now_s=T0) == (
        'rfid desk: backend=line port=- state=ok last_error=- '
        'driver_error="ignored line (not hex)"')
    # A device without an owner's record (never happens in the agent) still prints.
    assert re.fullmatch(r"rfid desk: backend=line port=- state=ok last_error=- "
                        r'driver_error="ignored line \(not hex\)"', device_line(info))


def test_the_backends_remark_is_not_repeated_when_the_owner_saw_the_same_error():
    health = DeviceHealth(Clock())
    health.failed("OpenEVSE on /dev/ttyAMA0 stopped answering")
    info = DeviceInfo("pilot", "p", "openevse",
                      last_error="OpenEVSE on /dev/ttyAMA0 stopped answering")
    assert "driver_error" not in device_line(info, health=health, now_s=T0)

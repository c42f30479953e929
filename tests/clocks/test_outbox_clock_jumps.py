"""Outbox retry waits run on the monotonic clock (issue 8 item 2).

A BootNotification/Heartbeat reply may move the agent's wall clock by any amount; a
10 s retry must still be due 10 s (monotonic) later, and a restart must not resume a
wait longer than the nominal one whatever the wall clock did meanwhile.
"""

import pytest

from firmware.ocpp.outbox import Outbox, RetryPolicy
from firmware.store import db
from firmware.store import repositories as repo

T0 = 1_767_225_600.0
JUMPS_S = [3600.0, -3600.0, 86400.0, -86400.0]


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def queued_outbox(tmp_path, mono, interval_s=10.0):
    conn = db.open_database(tmp_path)
    with db.atomic(conn):
        repo.outbox_append(conn, "StartTransaction", 1,
                           {"connectorId": 1, "idTag": "A", "meterStart": 0,
                            "timestamp": "2026-01-01T00:00:00.000Z"}, T0)
    outbox = Outbox(conn, lambda: RetryPolicy(attempts=5, interval_s=interval_s),
                    monotonic=mono)
    return conn, outbox


@pytest.mark.parametrize("jump_s", JUMPS_S)
def test_a_retry_is_due_after_its_interval_whatever_the_wall_clock_did(tmp_path, jump_s):
    mono = Monotonic()
    _, outbox = queued_outbox(tmp_path, mono)
    ready, _ = outbox.head(T0)
    assert outbox.failed(ready, T0, "timeout") is False
    wall = T0 + jump_s  # the CSMS moved the clock right after the failure
    ready, wait_s = outbox.head(wall)
    assert ready is None and wait_s == pytest.approx(10.0)
    mono.t += 9.9
    assert outbox.head(wall + 9.9)[0] is None
    mono.t += 0.1
    ready, wait_s = outbox.head(wall + 10.0)
    assert ready is not None and wait_s == 0.0


@pytest.mark.parametrize("jump_s", JUMPS_S)
def test_a_restart_resumes_a_retry_wait_no_longer_than_nominal(tmp_path, jump_s):
    mono = Monotonic()
    conn, outbox = queued_outbox(tmp_path, mono)
    ready, _ = outbox.head(T0)
    outbox.failed(ready, T0, "timeout")
    conn.close()

    mono = Monotonic()  # a new process: a new monotonic origin
    conn = db.open_database(tmp_path)
    again = Outbox(conn, lambda: RetryPolicy(attempts=5, interval_s=10.0), monotonic=mono)
    ready, wait_s = again.head(T0 + 4.0 + jump_s)
    assert ready is None or jump_s > 0
    # Back-jumps: never more than the nominal 10 s; forward jumps: due at once.
    assert wait_s == (pytest.approx(10.0) if jump_s < 0 else 0.0)
    mono.t += 10.0
    assert again.head(T0 + jump_s)[0] is not None


def test_a_restart_without_a_clock_jump_keeps_the_rest_of_the_wait(tmp_path):
    mono = Monotonic()
    conn, outbox = queued_outbox(tmp_path, mono)
    ready, _ = outbox.head(T0)
    outbox.failed(ready, T0, "timeout")
    conn.close()
    conn = db.open_database(tmp_path)
    again = Outbox(conn, lambda: RetryPolicy(attempts=5, interval_s=10.0),
                   monotonic=Monotonic())
    assert again.head(T0 + 4.0) == (None, pytest.approx(6.0))

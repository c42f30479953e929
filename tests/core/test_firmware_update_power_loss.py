"""Seeded random power cuts through a signed firmware update (L01; issue 11 item 4:
"an interrupted update (power loss at any step) leaves the old firmware running and
reports the failure").

A run is a random sequence of outcomes (download ok/failed, signature ok/bad, installer
ok/failed, timers, a session starting or ending) with power cuts between any two events;
a cut restarts the core from the record persisted last (each event's effects commit
together). Then every pending step succeeds. Checked: the statuses sent over all lives
follow the specified order and end in exactly one final status; nothing is installed
without SignatureVerified, never while a transaction runs; the version changes only
with Installed (after an install + restart)."""

from __future__ import annotations

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from hal.interfaces import PilotState

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.firmware_update import FirmwareUpdateRecord
from firmware.core.timers import FirmwareUpdateWake
from tests.core.harness import T0, Harness
from tests.core.test_firmware_update import signed

FINAL = {"DownloadFailed", "InvalidSignature", "InstallationFailed",
         "InstallVerificationFailed", "Installed"}
ORDER = ["DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified",
         "InstallScheduled", "Installing", "InstallRebooting"]

STEPS = st.sampled_from(["ok", "fail", "timer", "cut", "plug", "unplug", "wait"])


class Life:
    def __init__(self) -> None:
        self.version = "v1"
        self.record: FirmwareUpdateRecord | None = None
        self.statuses: list[str] = []
        self.installs = 0
        self.h = self._start()

    def _start(self) -> Harness:
        h = Harness(station_options={"firmware_version": self.version,
                                     "firmware_update": self.record})
        h.now = self.h.now if hasattr(self, "h") else h.now
        self._observe(h, h.log)
        before = len(h.log)
        h.boot()
        self._observe(h, h.log[before:])
        return h

    def _observe(self, h: Harness, effects: list[fx.Effect]) -> None:
        for e in effects:
            if isinstance(e, fx.PersistFirmwareUpdate):
                self.record = e.record
            elif isinstance(e, fx.SendFirmwareStatus):
                self.statuses.append(e.status)
            elif isinstance(e, fx.InstallFirmware):
                assert all(c.tx is None for c in h.station.connectors.values())
                assert "SignatureVerified" in self.statuses
                self.installs += 1

    def feed(self, event: ev.Event) -> list[fx.Effect]:
        before = len(self.h.log)
        self.h.handle(event)
        out = self.h.log[before:]
        self._observe(self.h, out)
        return out

    def cut(self) -> None:
        if self.record is not None and self.record.phase == "rebooting":
            self.version = "v2"  # the installer had finished: the new code starts
        self.h = self._start()

    def pending(self) -> str:
        return "done" if self.record is None else self.record.phase

    def outcome(self, ok: bool) -> None:
        phase, rid = self.pending(), 7
        if phase == "downloading":
            self.feed(ev.FirmwareDownloaded(rid, "/f") if ok else ev.FirmwareDownloadFailed(rid))
        elif phase == "verifying":
            self.feed(ev.FirmwareVerified(rid, ok))
        elif phase == "installing":
            self.feed(ev.FirmwareInstalled(rid, ok))
        elif phase == "rebooting":
            self.cut()
        elif phase in ("scheduled", "install_scheduled"):
            self.h.advance(3600)
            self.feed(ev.TimerFired(FirmwareUpdateWake()))


def check_order(statuses: list[str]) -> None:
    finals = [s for s in statuses if s in FINAL]
    assert len(finals) == 1, statuses
    assert statuses[-1] == finals[0], statuses
    progress = [ORDER.index(s) for s in statuses[:-1]]
    assert progress == sorted(progress), statuses  # never backwards
    assert len(set(progress)) == len(progress), statuses  # each status once


@seed(20261203)
@settings(max_examples=300, deadline=None)
@given(st.lists(STEPS, max_size=25), st.integers(0, 2), st.booleans())
def test_random_power_cuts_keep_the_order_and_report_exactly_one_end(steps, retries, later):
    life = Life()
    life.feed(ev.FirmwareUpdateRequested(life.h.ref(), signed(
        retries=retries, retrieve_at_s=T0 + (600 if later else 0))))
    for step in steps:
        if life.pending() == "done":
            break
        if step in ("ok", "fail"):
            life.outcome(step == "ok")
        elif step == "timer":
            life.h.advance(3600)
            life.feed(ev.TimerFired(FirmwareUpdateWake()))
        elif step == "cut":
            life.cut()
        elif step == "plug" and life.h.station.connectors[1].is_idle():
            before = len(life.h.log)
            life.h.start_session()
            life._observe(life.h, life.h.log[before:])
        elif step == "unplug":
            life.feed(ev.PilotChanged(1, PilotState.A))
    for _ in range(20):  # then everything succeeds and every session ends
        if life.pending() == "done":
            break
        life.feed(ev.PilotChanged(1, PilotState.A))
        life.outcome(True)
    assert life.pending() == "done"
    check_order(life.statuses)
    assert life.installs <= 1 or "InstallationFailed" in life.statuses
    assert (life.version == "v2") == (life.statuses[-1] == "Installed")

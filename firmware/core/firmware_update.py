"""Firmware updates as a sans-I/O state machine (security-whitepaper.md §9, L01; 1.6 plain
UpdateFirmware; 2.0.1 UpdateFirmware = the signed one).

One update at a time. Each step is persisted (``PersistFirmwareUpdate``) in the same
commit as the status it reports, and every status of the sequence is queued durably
(``SendFirmwareStatus(queued=True)``), so after a power cut at any step the agent
resumes the update or reports its failure, in order, with the update's requestId
(L01.FR.01/.10). The I/O (download, signature check, installer) happens outside the
core: the part asks for it with ``FirmwareWork`` effects and hears the outcome as events
carrying the request id; an outcome of an update that is no longer current is ignored.

Phases and statuses (signed; a plain 1.6 update sends only Downloading, Downloaded,
DownloadFailed, Installing, Installed, InstallationFailed):
- ``scheduled``: retrieveDateTime not reached (DownloadScheduled, L01.FR.13; 2.0.1
  downloads only once it has passed, [E201] 2.31), or waiting ``retry_interval_s``
  between attempts (no status: nothing changed).
- ``downloading``: Downloading (first attempt) → Downloaded | after the last of
  1 + ``retries`` attempts, DownloadFailed.
- ``verifying``: SignatureVerified | InvalidSignature + security event
  InvalidFirmwareSignature (L01.FR.03, .12); an unsigned image is never installed.
- ``install_scheduled``: installDateTime not reached (InstallScheduled).
- ``waiting_idle``: transactions run (InstallScheduled): every connector is held
  (``Connector.held_for_update``: idle ones show Unavailable, no new session starts,
  L01.FR.06/.07); the install starts when the last transaction has ended. Running
  transactions are never stopped and the agent never restarts during one.
- ``installing``: Installing → InstallationFailed (installer failed) | InstallRebooting
  (L01.FR.15) and ``RestartAgent``.
- ``rebooting``: at the next start, a running version different from the one before
  the install → Installed + security event FirmwareUpdated (critical); the same
  version → InstallVerificationFailed (plain: InstallationFailed).
- ``done``: the last status is kept for a triggered FirmwareStatusNotification (Idle
  after Installed, else the last status, L01.FR.28/.29).

Power loss (``resume`` at start-up): ``scheduled``/``install_scheduled`` re-arm their
timer; ``downloading`` counts as a failed attempt (retried if attempts are left);
``verifying`` verifies the complete file again; ``waiting_idle`` holds the connectors
again; ``installing`` is reported InstallationFailed (the installer was cut: the old
firmware runs; an installer must leave it intact until it succeeds, README).

A new request during one (L01.FR.26/.27): AcceptedCanceled, cancelling the current one
(``AbandonFirmware``), unless it is installing or rebooting: Rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import effects as fx
from . import events as ev
from . import security_events
from .connector import Connector
from .timers import FirmwareUpdateWake

WAKE = FirmwareUpdateWake()

# Phases in which nothing irreversible has started: a new request may cancel them.
CANCELLABLE = frozenset({"scheduled", "downloading", "verifying", "install_scheduled",
                         "waiting_idle"})
PLAIN_STATUSES = frozenset({"Downloading", "Downloaded", "DownloadFailed", "Installing",
                            "Installed", "InstallationFailed", "Idle"})


@dataclass(frozen=True)
class FirmwareRequest:
    """An update as the CSMS asked for it. Times are UTC epoch s; ``retries``: attempts
    after the first; ``signed`` False: a plain 1.6 UpdateFirmware (no signature; only
    when the site allows unsigned updates)."""

    request_id: int
    location: str
    retrieve_at_s: float
    retries: int
    retry_interval_s: float
    signed: bool = True
    install_at_s: float | None = None
    signature: str = ""
    signing_certificate: str = ""


@dataclass(frozen=True)
class FirmwareUpdateRecord:
    """The persisted state of the current (or last) update. ``attempts``: downloads
    started; ``wake_at_s``: the moment a scheduled phase waits for (UTC epoch s);
    ``old_version``: the version running when the install started."""

    request: FirmwareRequest
    phase: str
    last_status: str = "Idle"
    attempts: int = 0
    path: str = ""
    wake_at_s: float | None = None
    old_version: str = ""


class FirmwareUpdate:
    """The station's firmware update part. ``connectors``: the station's (read for
    running transactions, ``held_for_update`` set); ``running_version``: the firmware
    version of this process; ``restored``: the record the last run persisted."""

    def __init__(self, connectors: dict[int, Connector], running_version: str = "",
                 restored: FirmwareUpdateRecord | None = None) -> None:
        self._connectors = connectors
        self._version = running_version
        self.record = restored

    # ------------------------------------------------------------------ queries
    @property
    def phase(self) -> str:
        return "done" if self.record is None else self.record.phase

    @property
    def blocks_restart(self) -> bool:
        """An install runs: a restart now would cut it."""
        return self.phase == "installing"

    def triggered_status(self) -> fx.SendFirmwareStatus:
        """The answer to a triggered FirmwareStatusNotification (L01.FR.28/.29)."""
        r = self.record
        if r is None or (r.phase == "done" and r.last_status == "Installed"):
            return fx.SendFirmwareStatus("Idle", signed=r is not None and r.request.signed)
        return fx.SendFirmwareStatus(r.last_status, r.request.request_id, r.request.signed)

    # ------------------------------------------------------------------ CSMS request
    def request(self, event: ev.FirmwareUpdateRequested, now: float) -> list[fx.Effect]:
        update: FirmwareRequest = event.update
        current = self.record
        out: list[fx.Effect] = []
        status = "Accepted"
        if current is not None and current.phase in ("installing", "rebooting"):
            return [fx.Reply(event.ref, self._answer(update, "Rejected"))]  # L01.FR.27
        if current is not None and current.phase in CANCELLABLE:
            status = "AcceptedCanceled"  # L01.FR.26
            out += [fx.CancelTimer(WAKE), fx.AbandonFirmware(current.request.request_id)]
            self._release()
        self.record = FirmwareUpdateRecord(update, "scheduled")
        out = [fx.Reply(event.ref, self._answer(update, status)), *out]
        if update.retrieve_at_s > now:
            out += self._report("DownloadScheduled", phase="scheduled",
                                wake_at_s=update.retrieve_at_s)
            out.append(fx.StartTimer(WAKE, update.retrieve_at_s - now))
            return out
        return out + self._download()

    @staticmethod
    def _answer(update: FirmwareRequest, status: str) -> dict[str, object]:
        # A plain 1.6 UpdateFirmware.conf is empty ([16] §6.52).
        return {"status": status} if update.signed else {}

    # ------------------------------------------------------------------ outcomes
    def on_timer(self, now: float) -> list[fx.Effect]:
        r = self.record
        if r is None:
            return []
        if r.phase == "scheduled":
            return self._download()
        if r.phase == "install_scheduled":
            return self._install_when_idle(now)
        return []

    def downloaded(self, event: ev.FirmwareDownloaded, now: float) -> list[fx.Effect]:
        r = self._current(event.request_id, "downloading")
        if r is None:
            return []
        out = self._report("Downloaded", phase="verifying" if r.request.signed else
                           "install_scheduled", path=event.path)
        if r.request.signed:
            return out + [fx.VerifyFirmware(r.request.request_id, event.path,
                                            r.request.signature, r.request.signing_certificate)]
        return out + self._schedule_install(now)

    def download_failed(self, event: ev.FirmwareDownloadFailed, now: float) -> list[fx.Effect]:
        r = self._current(event.request_id, "downloading")
        if r is None:
            return []
        return self._attempt_failed(r, now)

    def _attempt_failed(self, r: FirmwareUpdateRecord, now: float) -> list[fx.Effect]:
        if r.attempts <= r.request.retries:
            wake = now + r.request.retry_interval_s
            self.record = replace(r, phase="scheduled", wake_at_s=wake)
            return [fx.PersistFirmwareUpdate(self.record),
                    fx.StartTimer(WAKE, r.request.retry_interval_s)]
        return self._finish("DownloadFailed")

    def verified(self, event: ev.FirmwareVerified, now: float) -> list[fx.Effect]:
        r = self._current(event.request_id, "verifying")
        if r is None:
            return []
        if not event.ok:
            out = self._finish("InvalidSignature")
            out += security_events.report(ev.SecurityEventOccurred(
                "InvalidFirmwareSignature", f"request {r.request.request_id}: {event.reason}"),
                now)
            return out
        return self._report("SignatureVerified", phase="install_scheduled") \
            + self._schedule_install(now)

    def installed(self, event: ev.FirmwareInstalled, now: float) -> list[fx.Effect]:
        r = self._current(event.request_id, "installing")
        if r is None:
            return []
        if not event.ok:
            self._release()
            return self._finish("InstallationFailed")
        if r.request.signed:
            out = self._report("InstallRebooting", phase="rebooting")
        else:
            self.record = replace(r, phase="rebooting")
            out = [fx.PersistFirmwareUpdate(self.record)]
        return out + [fx.RestartAgent("Hard", firmware_update=True)]

    # ------------------------------------------------------------------ start-up, sync
    def resume(self, now: float) -> list[fx.Effect]:
        """At start-up: carry on with, or report the end of, the restored update."""
        r = self.record
        if r is None or r.phase == "done":
            return []
        if r.phase in ("scheduled", "install_scheduled"):
            wake = r.wake_at_s if r.wake_at_s is not None else now
            return [fx.StartTimer(WAKE, max(0.0, wake - now))]
        if r.phase == "downloading":
            return self._attempt_failed(r, now)  # the attempt was cut
        if r.phase == "verifying":
            return [fx.VerifyFirmware(r.request.request_id, r.path, r.request.signature,
                                      r.request.signing_certificate)]
        if r.phase == "waiting_idle":
            self._hold()
            return []
        if r.phase == "installing":
            return self._finish("InstallationFailed")  # cut by a power loss
        # rebooting: the installer succeeded and the agent restarted.
        if self._version and self._version != r.old_version:
            out = self._finish("Installed")
            out += security_events.report(ev.SecurityEventOccurred(
                "FirmwareUpdated", f"{r.old_version} -> {self._version}"[:255]), now)
            return out
        return self._finish("InstallVerificationFailed" if r.request.signed
                            else "InstallationFailed")

    def on_sync(self, now: float) -> list[fx.Effect]:
        """After every event: start a waiting install once no transaction runs."""
        if self.phase != "waiting_idle" or self._busy():
            return []
        return self._install()

    def on_clock_stepped(self, now: float) -> list[fx.Effect]:
        r = self.record
        if r is None or r.phase not in ("scheduled", "install_scheduled") \
                or r.wake_at_s is None:
            return []
        return [fx.StartTimer(WAKE, max(0.0, r.wake_at_s - now))]

    # ------------------------------------------------------------------ steps
    def _download(self) -> list[fx.Effect]:
        r = self.record
        assert r is not None
        first = r.attempts == 0
        self.record = replace(r, phase="downloading", attempts=r.attempts + 1, wake_at_s=None)
        if first:
            out = self._report("Downloading", phase="downloading")
        else:
            out = [fx.PersistFirmwareUpdate(self.record)]
        return out + [fx.DownloadFirmware(r.request.request_id, r.request.location)]

    def _schedule_install(self, now: float) -> list[fx.Effect]:
        r = self.record
        assert r is not None
        at = r.request.install_at_s
        if at is not None and at > now:
            self.record = replace(r, phase="install_scheduled", wake_at_s=at)
            out = self._report("InstallScheduled", phase="install_scheduled")
            return out + [fx.StartTimer(WAKE, at - now)]
        return self._install_when_idle(now)

    def _install_when_idle(self, now: float) -> list[fx.Effect]:
        r = self.record
        assert r is not None
        if not self._busy():
            return self._install()
        self._hold()
        if r.request.signed and r.last_status != "InstallScheduled":
            return self._report("InstallScheduled", phase="waiting_idle")
        self.record = replace(r, phase="waiting_idle", wake_at_s=None)
        return [fx.PersistFirmwareUpdate(self.record)]

    def _install(self) -> list[fx.Effect]:
        r = self.record
        assert r is not None
        self._hold()
        self.record = replace(r, old_version=self._version)
        return self._report("Installing", phase="installing") \
            + [fx.InstallFirmware(r.request.request_id, r.path)]

    def _finish(self, status: str) -> list[fx.Effect]:
        r = self.record
        assert r is not None
        self._release()
        return self._report(status, phase="done") + [fx.AbandonFirmware(r.request.request_id)]

    def _report(self, status: str, *, phase: str, **changes: object) -> list[fx.Effect]:
        r = self.record
        assert r is not None
        self.record = replace(r, phase=phase, last_status=status, **changes)  # type: ignore[arg-type]
        out: list[fx.Effect] = [fx.PersistFirmwareUpdate(self.record)]
        if r.request.signed or status in PLAIN_STATUSES:
            out.append(fx.SendFirmwareStatus(status, r.request.request_id, r.request.signed,
                                             queued=True))
        return out

    def _current(self, request_id: int, phase: str) -> FirmwareUpdateRecord | None:
        r = self.record
        if r is None or r.request.request_id != request_id or r.phase != phase:
            return None  # a cancelled update's late outcome
        return r

    def _busy(self) -> bool:
        return any(c.tx is not None or c.stopping is not None
                   for c in self._connectors.values())

    def _hold(self) -> None:
        for c in self._connectors.values():
            c.held_for_update = True

    def _release(self) -> None:
        for c in self._connectors.values():
            c.held_for_update = False

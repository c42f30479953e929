"""The state of the log upload the CSMS asked for, and its status notifications.

The upload itself (building the file, HTTP, retries) is I/O and runs in the log
service (``firmware.diagnostics``); it reports each status change as
``ev.LogUploadProgressed`` and the core turns it into the notification, so the
notification goes through the same ordering and registration gate as every other
message. The core remembers the upload still running to answer a trigger:
TriggerMessage(DiagnosticsStatusNotification) says Uploading while one runs, else Idle
([16] §6.17); (Extended)TriggerMessage(LogStatusNotification) repeats the running
upload's status with its requestId, else Idle without one (N01.FR.12).
"""

from __future__ import annotations

from . import effects as fx
from . import events as ev

# Statuses that end an upload (LogStatusNotification, N01.FR.09/.10; 1.6
# DiagnosticsStatusNotification Uploaded / UploadFailed).
FINAL = frozenset({"Uploaded", "UploadFailure", "UploadFailed", "BadMessage",
                   "PermissionDenied", "NotSupportedOperation"})


class LogUploads:
    def __init__(self) -> None:
        self.running: ev.LogUploadProgressed | None = None

    def progressed(self, event: ev.LogUploadProgressed, now: float) -> list[fx.Effect]:
        self.running = None if event.status in FINAL else event
        if event.diagnostics:
            return [fx.SendDiagnosticsStatus(event.status)]
        return [fx.SendLogStatus(event.status, event.request_id)]

    def log_status(self) -> fx.SendLogStatus:
        """What a triggered LogStatusNotification says (N01.FR.12)."""
        running = self.running
        if running is None or running.diagnostics:
            return fx.SendLogStatus("Idle")
        return fx.SendLogStatus(running.status, running.request_id)

    def diagnostics_status(self) -> fx.SendDiagnosticsStatus:
        """What a triggered DiagnosticsStatusNotification says ([16] §6.17)."""
        running = self.running
        if running is None or not running.diagnostics:
            return fx.SendDiagnosticsStatus("Idle")
        return fx.SendDiagnosticsStatus(running.status)

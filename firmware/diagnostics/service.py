"""GetLog (1.6 security whitepaper and 2.0.1 N01) and 1.6 GetDiagnostics: a
``CallService`` (``firmware.ocpp.services``) that answers the CALL, then uploads the
bundle in a task it owns and reports every status through the core.

Rules (security-whitepaper.md §8, [16] §5.9/§6.33):
- GetLog{logType DiagnosticsLog|SecurityLog, requestId, retries?, retryInterval?,
  log{remoteLocation, oldestTimestamp?, latestTimestamp?}} → {status Accepted, filename}
  (N01.FR.01-04); AcceptedCanceled when it cancels an upload still running (N01.FR.11);
  Rejected for a location we cannot upload to (not http/https: FTP is not supported),
  negative retries/retryInterval or unparseable timestamps.
- LogStatusNotification with the GetLog's requestId (N01.FR.07): Uploading when the
  upload starts (.08), then Uploaded (.09) or one failure (.10): PermissionDenied,
  BadMessage, NotSupportedOperation for an answer a retry cannot fix, UploadFailure
  once every attempt failed.
- GetDiagnostics{location, retries?, retryInterval?, startTime?, stopTime?} → {fileName},
  then DiagnosticsStatusNotification Uploading → Uploaded | UploadFailed. A
  schema-valid request we cannot serve (bad URL, negative retries) is a CALLERROR
  PropertyConstraintViolation: the 1.6 reply has no status to refuse with.
- ``retries``: attempts after the first (absent: ``DEFAULT_RETRIES``, at most
  ``RETRIES_MAX``); ``retryInterval`` s between attempts (absent: ``DEFAULT_RETRY_S``).

The statuses go to the core as ``ev.LogUploadProgressed`` (``dispatch``), which emits
the notification effect: the notification is ordered with the station's other messages
and passes the link's registration gate, and a trigger reports the running upload.

Tasks: ``run()`` belongs to the agent's TaskGroup; each upload is a child task of its
inner TaskGroup, cancelled by a newer request. An exception other than a failed
upload is a bug and ends the agent's TaskGroup (crash policy).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from firmware.core import events as ev
from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.mapping import parse_time
from firmware.ocpp.services import Continuation

from .upload import UnsupportedLocation, UploadFailed, UploadRefused, target, upload

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 2
RETRIES_MAX = 10
DEFAULT_RETRY_S = 30.0
RETRY_S_MAX = 3600.0


class Bundles(Protocol):
    """What the service uploads (``firmware.diagnostics.bundle.BundleBuilder``)."""

    async def diagnostics(self, oldest_s: float | None = None,
                          latest_s: float | None = None) -> str: ...

    def security(self, oldest_s: float | None = None,
                 latest_s: float | None = None) -> str: ...


@dataclass(frozen=True)
class UploadJob:
    filename: str
    location: str
    security: bool  # SecurityLog, else the diagnostics bundle
    request_id: int | None  # GetLog's; None for GetDiagnostics
    retries: int
    retry_interval_s: float
    oldest_s: float | None
    latest_s: float | None

    @property
    def diagnostics(self) -> bool:
        """A 1.6 GetDiagnostics (DiagnosticsStatusNotification), not a GetLog."""
        return self.request_id is None


class LogService:
    def __init__(self, protocol: str, bundles: Bundles, dispatch: Callable[[ev.Event], object],
                 station_id: str, upload_timeout_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        """``protocol``: the OCPP subprotocol (GetDiagnostics exists in 1.6 only);
        ``dispatch``: the runtime's (status facts to the core); ``upload_timeout_s``
        bounds one attempt."""
        self._bundles = bundles
        self._dispatch = dispatch
        self._station_id = station_id
        self._timeout_s = upload_timeout_s
        self._clock = clock
        self.actions = frozenset({"GetLog", "GetDiagnostics"} if protocol == "ocpp1.6"
                                 else {"GetLog"})
        self._jobs: asyncio.Queue[UploadJob] = asyncio.Queue()
        self._current: asyncio.Task[None] | None = None

    @property
    def uploading(self) -> bool:
        return self._current is not None and not self._current.done()

    # ------------------------------------------------------------------ the CALLs
    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        if action == "GetLog":
            return self._get_log(payload)
        return self._get_diagnostics(payload)

    def _get_log(self, payload: dict[str, Any]) -> tuple[dict[str, Any], Continuation | None]:
        security = payload["logType"] == "SecurityLog"
        kind = "security" if security else "diagnostics"
        try:
            job = self._job(payload["log"]["remoteLocation"], security, payload["requestId"],
                            payload.get("retries"), payload.get("retryInterval"),
                            payload["log"].get("oldestTimestamp"),
                            payload["log"].get("latestTimestamp"), kind)
        except ValueError as e:
            log.warning("GetLog %s refused: %s", payload["requestId"], e)
            return {"status": "Rejected"}, None
        status = "AcceptedCanceled" if self.uploading else "Accepted"
        return {"status": status, "filename": job.filename}, self._start(job)

    def _get_diagnostics(self, payload: dict[str, Any]
                         ) -> tuple[dict[str, Any], Continuation | None]:
        try:
            job = self._job(payload["location"], False, None, payload.get("retries"),
                            payload.get("retryInterval"), payload.get("startTime"),
                            payload.get("stopTime"), "diagnostics")
        except ValueError as e:
            raise CallErrorReply("PropertyConstraintViolation", str(e)) from None
        return {"fileName": job.filename}, self._start(job)

    def _job(self, location: str, security: bool, request_id: int | None,
             retries: int | None, retry_interval: int | None, oldest: str | None,
             latest: str | None, kind: str) -> UploadJob:
        """The upload a request asks for; ValueError says why it cannot be done."""
        if retries is not None and retries < 0 or retry_interval is not None and retry_interval < 0:
            raise ValueError("retries and retryInterval must not be negative")
        oldest_s, latest_s = parse_time(oldest), parse_time(latest)
        if oldest is not None and oldest_s is None or latest is not None and latest_s is None:
            raise ValueError("unparseable timestamp")
        filename = (f"{self._station_id}-{kind}-"
                    f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(self._clock()))}.log")
        filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)[-255:]
        try:
            target(location, filename)
        except UnsupportedLocation as e:
            raise ValueError(str(e)) from None
        return UploadJob(filename, location, security, request_id,
                         DEFAULT_RETRIES if retries is None else min(retries, RETRIES_MAX),
                         DEFAULT_RETRY_S if retry_interval is None
                         else min(float(retry_interval), RETRY_S_MAX),
                         oldest_s, latest_s)

    def _start(self, job: UploadJob) -> Continuation:
        async def start() -> None:  # after the CALLRESULT went out
            if self._current is not None and not self._current.done():
                log.info("a new log request cancels the running upload (N01.FR.11)")
                self._current.cancel()
            self._jobs.put_nowait(job)
        return start

    # ------------------------------------------------------------------ the uploads
    async def run(self) -> None:
        """Run in the agent's TaskGroup for the agent's life."""
        async with asyncio.TaskGroup() as uploads:
            while True:
                job = await self._jobs.get()
                if self._current is not None and not self._current.done():
                    self._current.cancel()
                self._current = uploads.create_task(self._upload(job))

    def _report(self, job: UploadJob, status: str) -> None:
        if job.diagnostics and status not in ("Uploading", "Uploaded"):
            status = "UploadFailed"  # the 1.6 DiagnosticsStatus has no other failure
        self._dispatch(ev.LogUploadProgressed(status, job.request_id, job.diagnostics))

    async def _upload(self, job: UploadJob) -> None:
        self._report(job, "Uploading")
        if job.security:
            text = self._bundles.security(job.oldest_s, job.latest_s)
            text = f"# security log of {self._station_id}\n" + text
        else:
            text = await self._bundles.diagnostics(job.oldest_s, job.latest_s)
        body = text.encode("utf-8")
        attempts = 1 + job.retries
        for attempt in range(1, attempts + 1):
            try:
                await upload(job.location, job.filename, body, self._timeout_s)
            except UploadRefused as refused:
                log.warning("upload of %s refused: %s", job.filename, refused)
                self._report(job, refused.status)
                return
            except UploadFailed as failed:
                log.warning("upload of %s failed (attempt %d of %d): %s", job.filename,
                            attempt, attempts, failed)
                if attempt < attempts:
                    await asyncio.sleep(job.retry_interval_s)
                continue
            log.info("uploaded %s (%d bytes)", job.filename, len(body))
            self._report(job, "Uploaded")
            return
        self._report(job, "UploadFailure")

"""The firmware updater: executes the core's ``FirmwareWork`` effects.

The core (``firmware.core.firmware_update``) decides; this part does the I/O one effect
at a time per update — download into ``<state_dir>/firmware/``, signature check in a
thread, the installer — and dispatches each outcome as the event the core expects.
``run()`` is a task of the agent's TaskGroup and owns every work task (an inner
TaskGroup); ``AbandonFirmware`` cancels the update's running work and deletes its files.
A ``FirmwareUpdateError`` (or an OSError of the state dir) is an outcome, reported as
the step's failure; anything else is a bug and ends the agent (runtime crash policy).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.errors import FirmwareUpdateError

from .download import DownloadLimits, download, safe_url
from .installer import run_installer
from .signing import FirmwareSigningTrust, verify_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdaterSettings:
    work_dir: Path
    limits: DownloadLimits
    install_command: tuple[str, ...]
    install_timeout_s: float


class FirmwareUpdater:
    """``dispatch``: the runtime's (outcome events in); ``clock``: UTC epoch s now."""

    def __init__(self, settings: UpdaterSettings, trust: FirmwareSigningTrust,
                 dispatch: Callable[[ev.Event], object], clock: Callable[[], float]) -> None:
        self._settings = settings
        self._trust = trust
        self._dispatch = dispatch
        self._clock = clock
        self._queue: asyncio.Queue[fx.FirmwareWork] = asyncio.Queue()
        self._running: dict[int, asyncio.Task[None]] = {}

    def execute(self, effect: fx.FirmwareWork) -> None:
        """Called by the runtime inside a dispatch: queued, never awaited there."""
        self._queue.put_nowait(effect)

    def image_path(self, request_id: int) -> Path:
        return self._settings.work_dir / f"{request_id}.img"

    async def run(self) -> None:
        work_dir = self._settings.work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        for part in work_dir.glob("*.part"):  # a download a power cut interrupted
            part.unlink(missing_ok=True)
        async with asyncio.TaskGroup() as tasks:
            while True:
                effect = await self._queue.get()
                rid = effect.request_id
                if isinstance(effect, fx.AbandonFirmware):
                    task = self._running.pop(rid, None)
                    if task is not None:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                    self._delete(rid)
                    continue
                previous = self._running.get(rid)
                if previous is not None and not previous.done():
                    log.error("firmware update %d: %s while a step runs, ignored", rid,
                              type(effect).__name__)
                    continue
                self._running[rid] = tasks.create_task(self._work(effect))

    def _delete(self, request_id: int) -> None:
        for path in (self.image_path(request_id),
                     self.image_path(request_id).with_suffix(".img.part")):
            path.unlink(missing_ok=True)

    async def _work(self, effect: fx.FirmwareWork) -> None:
        if isinstance(effect, fx.DownloadFirmware):
            await self._download(effect)
        elif isinstance(effect, fx.VerifyFirmware):
            await self._verify(effect)
        elif isinstance(effect, fx.InstallFirmware):
            await self._install(effect)

    async def _download(self, effect: fx.DownloadFirmware) -> None:
        rid = effect.request_id
        log.info("firmware update %d: downloading %s", rid, safe_url(effect.location))
        try:
            size = await download(effect.location, self.image_path(rid), self._settings.limits)
        except (FirmwareUpdateError, OSError) as e:
            log.warning("firmware update %d: download failed: %s", rid, e)
            self._dispatch(ev.FirmwareDownloadFailed(rid, str(e)[:200]))
            return
        log.info("firmware update %d: downloaded %d bytes", rid, size)
        self._dispatch(ev.FirmwareDownloaded(rid, str(self.image_path(rid))))

    async def _verify(self, effect: fx.VerifyFirmware) -> None:
        rid = effect.request_id
        # Checked at the request too; again here: a root may have been removed since.
        verdict = self._trust.check(effect.signing_certificate, self._clock())
        problem = None if verdict.status == "ok" else f"signing certificate {verdict.status}: " \
            f"{verdict.reason}"
        if problem is None:
            problem = await asyncio.to_thread(verify_image, Path(effect.path), effect.signature,
                                              effect.signing_certificate)
        if problem is not None:
            log.warning("firmware update %d: not installed: %s", rid, problem)
        else:
            log.info("firmware update %d: signature verified", rid)
        self._dispatch(ev.FirmwareVerified(rid, problem is None, problem or ""))

    async def _install(self, effect: fx.InstallFirmware) -> None:
        rid = effect.request_id
        log.warning("firmware update %d: installing %s", rid, effect.path)
        result = await run_installer(list(self._settings.install_command), Path(effect.path),
                                     rid, self._settings.install_timeout_s)
        if result.ok:
            log.warning("firmware update %d: installed; restarting", rid)
        else:
            log.error("firmware update %d: installation failed: %s", rid, result.reason)
        self._dispatch(ev.FirmwareInstalled(rid, result.ok, result.reason[:200]))

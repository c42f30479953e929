"""The CSMS's firmware update CALLs (a ``firmware.ocpp.services.CallService``).

- 1.6 ``SignedUpdateFirmware`` (security whitepaper) and 2.0.1 ``UpdateFirmware`` (the
  signed one): the signing certificate is checked against the manufacturer roots first
  (L01.FR.23): invalid ⇒ InvalidCertificate and security event
  InvalidFirmwareSigningCertificate (.24, .02), revoked ⇒ RevokedCertificate (.25); a
  2.0.1 request without a certificate is InvalidCertificate (the CSMS SHALL send it,
  .11). Otherwise the core decides (Accepted / AcceptedCanceled / Rejected,
  ``firmware.core.firmware_update``). A site without an installer command answers
  Rejected: it could never install.
- 1.6 ``UpdateFirmware`` (plain, unsigned): CALLERROR NotSupported (L01.FR.20) unless
  the site sets ``[firmware] allow_unsigned = true``; then it is downloaded and
  installed without a signature check, with the 1.6 statuses. Its conf is empty.

retries / retryInterval the CSMS leaves out take the site's defaults; a time that is
not RFC 3339 is a CALLERROR (TypeConstraintViolation / FormatViolation in 2.0.1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from firmware.core import events as ev
from firmware.core.firmware_update import FirmwareRequest
from firmware.ocpp import mapping
from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.services import Continuation

from .signing import FirmwareSigningTrust

log = logging.getLogger(__name__)


class FirmwareRuntime(Protocol):
    """What the service needs of ``firmware.runtime.Runtime``."""

    async def request(self, event: ev.Request, timeout_s: float = 30.0
                      ) -> tuple[dict[str, Any], Callable[..., Any]]: ...

    def dispatch(self, event: ev.Event, *, hold_messages: bool = False) -> Any: ...

    def release(self, held: Any) -> None: ...


@dataclass(frozen=True)
class ServicePolicy:
    allow_unsigned: bool
    can_install: bool  # an installer command is configured
    default_retries: int
    default_retry_interval_s: float


class FirmwareService:
    """Answers the firmware CALLs of ``subprotocol`` ("ocpp1.6" or "ocpp2.0.1")."""

    def __init__(self, subprotocol: str, runtime: FirmwareRuntime, trust: FirmwareSigningTrust,
                 policy: ServicePolicy, clock: Callable[[], float]) -> None:
        self._v16 = subprotocol == "ocpp1.6"
        self._runtime = runtime
        self._trust = trust
        self._policy = policy
        self._clock = clock
        self._plain_seq = 0

    @property
    def actions(self) -> frozenset[str]:
        if self._v16:
            return frozenset({"UpdateFirmware", "SignedUpdateFirmware"})
        return frozenset({"UpdateFirmware"})

    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        if self._v16 and action == "UpdateFirmware":
            return await self._plain(payload)
        return await self._signed(payload)

    # ------------------------------------------------------------------ plain 1.6
    async def _plain(self, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        if not self._policy.allow_unsigned:
            raise CallErrorReply("NotSupported", "unsigned firmware updates are disabled: use "
                                 "SignedUpdateFirmware (security whitepaper L01.FR.20)")
        if not self._policy.can_install:
            raise CallErrorReply("NotSupported", "no installer configured on this station")
        # The plain request has no requestId: a local one (negative, never sent).
        self._plain_seq += 1
        request_id = -(int(self._clock()) % 1_000_000_000 * 100 + self._plain_seq % 100) - 1
        update = FirmwareRequest(
            request_id, payload["location"], self._time(payload, "retrieveDate"),
            self._retries(payload), self._interval(payload), signed=False)
        return await self._to_core(update, {})

    # ------------------------------------------------------------------ signed
    async def _signed(self, payload: dict[str, Any]
                      ) -> tuple[dict[str, Any], Continuation | None]:
        firmware = payload["firmware"]
        certificate = firmware.get("signingCertificate") or ""
        request_id = payload["requestId"]
        if not certificate:
            return self._refuse_certificate(request_id, "no signing certificate sent")
        verdict = self._trust.check(certificate, self._clock())
        if verdict.status == "revoked":
            log.warning("firmware update %d refused: %s", request_id, verdict.reason)
            return {"status": "RevokedCertificate"}, None
        if verdict.status != "ok":
            return self._refuse_certificate(request_id, verdict.reason)
        if not self._policy.can_install:
            log.warning("firmware update %d rejected: no [firmware] install_command",
                        request_id)
            return {"status": "Rejected"}, None
        install_at = None
        if firmware.get("installDateTime"):
            install_at = self._time(firmware, "installDateTime")
        update = FirmwareRequest(
            request_id, firmware["location"], self._time(firmware, "retrieveDateTime"),
            self._retries(payload), self._interval(payload), signed=True,
            install_at_s=install_at, signature=firmware.get("signature") or "",
            signing_certificate=certificate)
        return await self._to_core(update, None)

    def _refuse_certificate(self, request_id: int, reason: str
                            ) -> tuple[dict[str, Any], Continuation | None]:
        log.warning("firmware update %d refused: %s", request_id, reason)
        held = self._runtime.dispatch(
            ev.SecurityEventOccurred("InvalidFirmwareSigningCertificate", reason[:255]),
            hold_messages=True)

        async def send_event() -> None:  # after the CALLRESULT, as every reply
            self._runtime.release(held)

        return {"status": "InvalidCertificate"}, send_event

    async def _to_core(self, update: FirmwareRequest, empty: dict[str, Any] | None
                       ) -> tuple[dict[str, Any], Continuation | None]:
        ref = ("FirmwareUpdate", update.request_id, self._clock())
        fields, continuation = await self._runtime.request(
            ev.FirmwareUpdateRequested(ref, update))
        if empty is not None:
            return empty, continuation
        return {"status": fields["status"]}, continuation

    # ------------------------------------------------------------------ fields
    def _time(self, table: dict[str, Any], key: str) -> float:
        value = mapping.parse_time(table.get(key))
        if value is None:
            raise CallErrorReply("TypeConstraintViolation", f"{key} is not an RFC 3339 time")
        return value

    def _retries(self, payload: dict[str, Any]) -> int:
        retries = payload.get("retries")
        return self._policy.default_retries if retries is None else max(0, int(retries))

    def _interval(self, payload: dict[str, Any]) -> float:
        interval = payload.get("retryInterval")
        if interval is None:
            return self._policy.default_retry_interval_s
        return float(max(0, int(interval)))

"""The 1.6 security whitepaper's certificate CALLs (``firmware.ocpp.services.CallService``).

InstallCertificate, DeleteCertificate, GetInstalledCertificateIds (M03-M05),
CertificateSigned (A02). ExtendedTriggerMessage is the dispatcher's
(``firmware.ocpp.handlers``); its SignChargePointCertificate is ``SigningTrigger``'s.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from firmware.ocpp import frames
from firmware.ocpp.services import Continuation

from .manager import CertificateManager
from .store import CSMS, MANUFACTURER

log = logging.getLogger(__name__)

KINDS = {"CentralSystemRootCertificate": CSMS, "ManufacturerRootCertificate": MANUFACTURER}


class CertificateServiceV16:
    actions = frozenset({"InstallCertificate", "DeleteCertificate",
                         "GetInstalledCertificateIds", "CertificateSigned"})

    def __init__(self, manager: CertificateManager) -> None:
        self._manager = manager

    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        m = self._manager
        if action == "InstallCertificate":
            return {"status": m.install(KINDS[payload["certificateType"]],
                                        payload["certificate"])}, None
        if action == "DeleteCertificate":
            return {"status": m.delete(payload["certificateHashData"])}, None
        if action == "GetInstalledCertificateIds":
            found = [h.wire() for h in m.store.root_hashes(KINDS[payload["certificateType"]])]
            if not found:  # minItems 1: omit the list (EVerest/libocpp#391, M03.FR.02)
                return {"status": "NotFound"}, None
            return {"status": "Accepted", "certificateHashData": found}, None
        if action == "CertificateSigned":
            status = m.signed(payload["certificateChain"])
            return {"status": status}, _after(m.after_signed) if status == "Accepted" else None
        raise frames.CallErrorReply("NotSupported", f"{action} is not a certificate CALL")


def _after(step: Callable[[], None]) -> Continuation:
    async def run() -> None:
        step()
    return run


class SigningTrigger:
    """The message only the certificate manager sends on request (``services.MessageTrigger``):
    1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage
    SignChargingStationCertificate. The Accepted reply goes first, then the CSR (A02.FR.02);
    without a CpoName/OrganizationName (A02.FR.13) nothing is sent and the log says why."""

    def __init__(self, manager: CertificateManager, protocol: str) -> None:
        self._manager = manager
        self.requested_messages = frozenset({
            "SignChargePointCertificate" if protocol == "ocpp1.6"
            else "SignChargingStationCertificate"})

    def trigger(self, requested_message: str) -> Continuation:
        def step() -> None:
            if self._manager.can_request_signing():
                self._manager.request_signing()
            else:
                log.warning("%s asked for, but CpoName is not set (A02.FR.13): no CSR",
                            requested_message)
        return _after(step)

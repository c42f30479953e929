"""The 2.0.1 certificate CALLs (``firmware.ocpp.services.CallService``): M03-M05 and A02.

InstallCertificate of CSMSRootCertificate / ManufacturerRootCertificate; V2G and MO
roots (ISO 15118) are Rejected, reasonCode NotSupported. GetInstalledCertificateIds
lists the installed roots of the asked types (all when none is asked), never an empty
list (minItems 1). CertificateSigned of a ChargingStationCertificate (the default);
a V2GCertificate is Rejected. TriggerMessage SignChargingStationCertificate is the
core's TriggerMessage and not offered yet; the station still asks by itself before its
certificate expires (A03, ``CertificateManager.renewal_loop``).
"""

from __future__ import annotations

from typing import Any, Callable

from firmware.ocpp.services import Continuation

from .manager import CertificateManager
from .store import CSMS, MANUFACTURER

KINDS = {"CSMSRootCertificate": CSMS, "ManufacturerRootCertificate": MANUFACTURER}
NOT_SUPPORTED = {"reasonCode": "NotSupported", "additionalInfo": "no ISO 15118 support"}


class CertificateServiceV201:
    actions = frozenset({"InstallCertificate", "DeleteCertificate",
                         "GetInstalledCertificateIds", "CertificateSigned"})

    def __init__(self, manager: CertificateManager) -> None:
        self._manager = manager

    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        m = self._manager
        if action == "InstallCertificate":
            kind = KINDS.get(payload["certificateType"])
            if kind is None:
                return {"status": "Rejected", "statusInfo": NOT_SUPPORTED}, None
            return {"status": m.install(kind, payload["certificate"])}, None
        if action == "DeleteCertificate":
            return {"status": m.delete(payload["certificateHashData"])}, None
        if action == "GetInstalledCertificateIds":
            wanted = payload.get("certificateType") or list(KINDS)
            chain = [{"certificateType": use, "certificateHashData": h.wire()}
                     for use in wanted if use in KINDS
                     for h in m.store.root_hashes(KINDS[use])]
            if not chain:
                return {"status": "NotFound"}, None
            return {"status": "Accepted", "certificateHashDataChain": chain}, None
        # CertificateSigned
        if payload.get("certificateType", "ChargingStationCertificate") != \
                "ChargingStationCertificate":
            return {"status": "Rejected", "statusInfo": NOT_SUPPORTED}, None
        status = m.signed(payload["certificateChain"])
        return {"status": status}, _after(m.after_signed) if status == "Accepted" else None


def _after(step: Callable[[], None]) -> Continuation:
    async def run() -> None:
        step()
    return run

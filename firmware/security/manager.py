"""Certificate use cases, version-neutral (whitepaper A02/A03, M03-M05; §6 of
security-whitepaper.md). The 1.6 and 2.0.1 CallServices (``v16_service``,
``v201_service``) translate names and statuses around it.

- ``install``: a CSMS or Manufacturer root (M05); Rejected when invalid, not a root or
  the store is full (CertificateStoreMaxLength), Failed when the file cannot be written.
- ``delete`` (M04): Failed for the station's own certificate (M04.FR.05) and for the
  CSMS root the connection needs (M04.FR.06).
- ``request_signing`` (A02.FR.02/.03, A03): a CSR with a new key, O = CpoName (an empty
  CpoName refuses: A02.FR.13 prerequisite), CN = the serial number; sent through the
  ``MessageSender`` as ``SendCertificateSigningRequest`` after the conf went out.
- ``signed`` (A02.FR.06/.07): a chain over CertificateSignedMaxChainSize, not for the
  pending key, outside its validity or not chaining to an installed CSMS root is
  Rejected with the InvalidChargingStationCertificate security event. Accepted on
  profile 3: the link reconnects to use it (2.0.1 A02.FR.08) and keeps the old one as
  fallback; below profile 3 no connection can prove it, so it becomes current at once.
- ``renewal_loop`` (A03.FR.02): asks for a new certificate when the current one
  expires within ``RENEW_BEFORE_S``; it sleeps until then (no polling), and retries a
  day later while the certificate is still the expiring one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Protocol

from firmware.core import effects as fx
from firmware.core import events as ev

from .store import CSMS, CertificateStore

log = logging.getLogger(__name__)

RENEW_BEFORE_S = 30 * 86_400.0  # "will expire in one month" (A03.FR.02)
RETRY_S = 86_400.0


class ConfigurationReader(Protocol):
    def get(self, name: str) -> str: ...

    def get_int(self, name: str) -> int: ...


class MessageSender(Protocol):
    """The link's ``submit`` (``firmware.ocpp.link.OcppLink``)."""

    def submit(self, effect: fx.SendMessage, triggered: bool = False) -> None: ...

    def reconnect(self, fallback_profile: int | None = None) -> None: ...

    @property
    def connected(self) -> bool: ...


class CertificateManager:
    """``report(event)``: dispatches a ``SecurityEventOccurred`` through the runtime;
    ``common_name``: the CN of every CSR (the station's serial number)."""

    def __init__(self, store: CertificateStore, config: ConfigurationReader,
                 link: MessageSender, report: Callable[[ev.Event], object],
                 common_name: str, clock: Callable[[], float]) -> None:
        self.store = store
        self._config = config
        self._link = link
        self._report = report
        self._common_name = common_name
        self._clock = clock
        self._renewal_due = asyncio.Event()

    # ------------------------------------------------------------------ roots
    def install(self, kind: str, pem_text: str) -> str:
        try:
            status, why = self.store.install_root(
                kind, pem_text, self._config.get_int("CertificateStoreMaxLength"))
        except OSError as e:
            log.error("InstallCertificate: cannot write the store: %s", e)
            return "Failed"
        if status != "Accepted":
            log.warning("InstallCertificate %s refused: %s", kind, why)
        return status

    def delete(self, wire: dict[str, str]) -> str:
        if self.store.matches_client_certificate(wire):
            return "Failed"  # M04.FR.05: not through DeleteCertificate
        try:
            return self.store.delete_root(wire, self._config.get_int("SecurityProfile"))
        except OSError as e:
            log.error("DeleteCertificate: cannot change the store: %s", e)
            return "Failed"

    # ------------------------------------------------------------------ client certificate
    def can_request_signing(self) -> bool:
        return bool(self._config.get("CpoName"))

    def request_signing(self) -> None:
        """Make a new key and CSR and send SignCertificate (call after the conf)."""
        organization = self._config.get("CpoName")
        if not organization:
            log.warning("SignCertificate not sent: CpoName is not set (A02.FR.13)")
            return
        csr = self.store.new_csr(organization, self._common_name)
        log.info("sending SignCertificate (new key, O=%s, CN=%s)", organization,
                 self._common_name)
        self._link.submit(fx.SendCertificateSigningRequest(csr), triggered=True)

    def signed(self, chain_text: str) -> str:
        """CertificateSigned: Accepted or Rejected (with the security event)."""
        limit = self._config.get_int("CertificateSignedMaxChainSize")
        if len(chain_text) > limit:
            problem: str | None = f"chain of {len(chain_text)} characters over {limit}"
        else:
            try:
                problem = self.store.accept_signed(chain_text)
            except OSError as e:
                problem = f"cannot write the store: {e}"
        if problem is not None:
            log.warning("CertificateSigned refused: %s", problem)
            self._report(ev.SecurityEventOccurred("InvalidChargingStationCertificate",
                                                  problem[:200]))
            return "Rejected"
        if self._config.get_int("SecurityProfile") < 3:
            self.store.promote_renewed()  # nothing to prove it on: current at once
        self._renewal_due.set()  # the expiry moved
        return "Accepted"

    def after_signed(self) -> None:
        """After CertificateSigned.conf Accepted: use the new chain (profile 3)."""
        if self._config.get_int("SecurityProfile") == 3:
            self._link.reconnect()

    def prerequisites_changed(self) -> None:
        self._renewal_due.set()

    def csms_roots_installed(self) -> bool:
        return bool(self.store.roots(CSMS))

    async def renewal_loop(self) -> None:
        """Run in the agent's TaskGroup: A03 renewal of an expiring client certificate."""
        while True:
            not_after_s = self.store.client_not_after_s()
            wait_s = RETRY_S if not_after_s is None else \
                not_after_s - RENEW_BEFORE_S - self._clock()
            if wait_s > 0:
                self._renewal_due.clear()
                try:
                    async with asyncio.timeout(min(wait_s, RETRY_S)):
                        await self._renewal_due.wait()
                except TimeoutError:
                    pass
                continue
            if self._link.connected and self.can_request_signing():
                log.warning("the client certificate expires at %.0f (in under 30 days): "
                            "asking for a new one (A03)", not_after_s or 0.0)
                self.request_signing()
            self._renewal_due.clear()
            try:
                async with asyncio.timeout(RETRY_S if self._link.connected else 60.0):
                    await self._renewal_due.wait()
            except TimeoutError:
                pass

"""What security profiles 0-3 ask of the connection (security-whitepaper.md §1-4).

- Profile 0: no security (``ws://``; a ``wss://`` URL is still verified, below).
- Profile 1: HTTP Basic ``identity:AuthorizationKey`` on the upgrade request (A00.FR.203).
- Profile 2: ``wss://`` only, TLS ≥ 1.2 (A00.FR.312), the server verified against the
  INSTALLED CSMS roots, never the system's bundle ([E201] 2.6), hostname checked
  (A00.FR.308), plus Basic auth.
- Profile 3: as 2, with the station's client certificate instead of Basic auth
  (A00.FR.401/402).
- Basic password encoding (§2): under 1.6 an AuthorizationKey of 32-40 hex digits is
  decoded to its 16-20 bytes before base64 (OCTT TC_085_CS); any other value (a site's
  plain-text key from before) is sent as UTF-8. Under 2.0.1 BasicAuthPassword is always
  UTF-8 (A00.FR.205 in [E201] 2.1).
- A profile whose prerequisites are missing (no key, no root, no client certificate,
  a ``ws://`` URL with profile ≥ 2) is a ``LinkConfigurationProblem``: the link says so in
  its status and retries slowly, it never dials insecurely instead.
"""

from __future__ import annotations

import base64
import logging
import re
import ssl
from typing import Any, Callable, Protocol

from firmware.core import events as ev

from firmware.errors import OcppError
from firmware.security.store import ClientCredentials

log = logging.getLogger(__name__)

TRIAL_DIALS = 3  # dials a new SecurityProfile or client certificate gets before fallback

_HEX_KEY = re.compile(r"(?:[0-9A-Fa-f]{2}){16,20}")

# TLS version failures (A00.FR.313/.417: InvalidTLSVersion), by OpenSSL reason.
_TLS_VERSION_REASONS = {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION",
                        "WRONG_SSL_VERSION", "NO_PROTOCOLS_AVAILABLE",
                        "TLSV1_ALERT_INSUFFICIENT_SECURITY"}


class LinkConfigurationProblem(OcppError):
    """The security profile cannot be applied with what is configured or installed."""


class LinkCredentials(Protocol):
    """What the link needs of the certificate store (``firmware.security.store``)."""

    def csms_roots_pem(self) -> str: ...

    def client_credentials(self) -> ClientCredentials | None: ...

    def server_verified(self, server_certificate_der: bytes | None) -> None: ...

    def promote_renewed(self) -> bool: ...

    def discard_renewed(self) -> bool: ...


def basic_auth_header(identity: str, key: str, *, hex_decoded: bool) -> str:
    """The ``Authorization`` header value; ``hex_decoded``: the 1.6 rule above."""
    password = bytes.fromhex(key) if hex_decoded and _HEX_KEY.fullmatch(key) else \
        key.encode("utf-8")
    return "Basic " + base64.b64encode(identity.encode("utf-8") + b":" + password).decode()


def is_hex_key(key: str) -> bool:
    """32-40 hex digits, an even count (16-20 bytes): the 1.6 AuthorizationKey form."""
    return _HEX_KEY.fullmatch(key) is not None


def tls_context(profile: int, roots_pem: str, credentials: ClientCredentials | None,
                ca_file: str | None) -> ssl.SSLContext:
    """The client context of a ``wss://`` connection under ``profile``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname check, CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION  # A00.FR.320/.424
    if roots_pem:
        context.load_verify_locations(cadata=roots_pem)
    elif profile >= 2:
        raise LinkConfigurationProblem(
            f"SecurityProfile {profile}: no CSMS root certificate installed "
            "(InstallCertificate, or the site's ca_file at first start)")
    elif ca_file:
        context.load_verify_locations(cafile=ca_file)
    else:
        context.load_default_certs()  # profile 0/1 over wss:// without any root: as before
    if profile == 3:
        if credentials is None:
            raise LinkConfigurationProblem(
                "SecurityProfile 3: no client certificate installed (SignCertificate first)")
        context.load_cert_chain(credentials.certificate_file, credentials.key_file)
    return context


def check_profile(profile: int, url: str, key: str) -> None:
    """Raise ``LinkConfigurationProblem`` when ``url`` and ``key`` cannot serve ``profile``."""
    secure = url.startswith("wss://")
    if profile >= 2 and not secure:
        raise LinkConfigurationProblem(
            f"SecurityProfile {profile} needs a wss:// csms_url (it is {url.split(':')[0]}://)")
    if profile in (1, 2) and not key:
        raise LinkConfigurationProblem(f"SecurityProfile {profile} needs an AuthorizationKey")


def security_event_of(error: BaseException) -> tuple[str, str] | None:
    """(security event kind, techInfo) for a dial failure caused by TLS, else None."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "InvalidCsmsCertificate", str(error.verify_message or error)[:200]
    if isinstance(error, ssl.SSLError) and error.reason in _TLS_VERSION_REASONS:
        return "InvalidTLSVersion", str(error.reason)
    return None


class DialSecurity:
    """The link's security state across dials: the options of each dial, the security
    events of refused ones (once per outage), a new profile under trial and a renewed
    client certificate not yet proven. ``sink``: the runtime's dispatch."""

    def __init__(self, credentials: LinkCredentials | None,
                 sink: Callable[[ev.Event], object]) -> None:
        self._credentials = credentials
        self._sink = sink
        self._trial: tuple[int, int] | None = None  # (new profile, fallback) under trial
        self._trial_failures = 0
        self._renewed_failures = 0
        self._reported = ""  # the security event already reported in this outage

    def options(self, profile: int, url: str, identity: str, key: str, ca_file: str | None,
                *, hex_key: bool) -> dict[str, Any]:
        """``connect`` options for ``profile``; raises ``LinkConfigurationProblem``."""
        check_profile(profile, url, key)
        options: dict[str, Any] = {}
        if key and profile != 3:
            # Profile 0 sends a key when one is set (a site from before profiles).
            options["additional_headers"] = {
                "Authorization": basic_auth_header(identity, key, hex_decoded=hex_key)}
        if url.startswith("wss://"):
            roots = self._credentials.csms_roots_pem() if self._credentials else ""
            client = self._credentials.client_credentials() if self._credentials else None
            options["ssl"] = tls_context(profile, roots, client, ca_file)
        return options

    def start_trial(self, profile: int, fallback: int) -> None:
        self._trial, self._trial_failures = (profile, fallback), 0

    def using_renewed(self, profile: int) -> bool:
        if self._credentials is None or profile != 3:
            return False
        credentials = self._credentials.client_credentials()
        return credentials is not None and credentials.renewed

    def failed(self, profile: int, renewed: bool, error: BaseException,
               last_error: str) -> bool:
        """A dial failed; True when the settings changed and the link should redial now."""
        found = security_event_of(error)
        if found is not None and found[0] != self._reported:
            self._reported = found[0]
            log.error("CSMS refused by the TLS check: %s (%s)", found[0], found[1])
            self._sink(ev.SecurityEventOccurred(*found))
        changed = False
        if self._trial is not None and profile == self._trial[0]:
            self._trial_failures += 1
            if self._trial_failures >= TRIAL_DIALS:
                new, fallback = self._trial
                self._trial = None
                log.error("SecurityProfile %d could not connect %d times; back to %d",
                          new, TRIAL_DIALS, fallback)
                self._sink(ev.SecurityProfileConnectFailed(new, fallback, last_error))
                changed = True
        if renewed and self._credentials is not None:
            self._renewed_failures += 1
            if self._renewed_failures >= TRIAL_DIALS and self._credentials.discard_renewed():
                self._renewed_failures = 0
                log.error("the renewed client certificate could not connect %d times; "
                          "discarded, the previous one is used again", TRIAL_DIALS)
                self._sink(ev.SecurityEventOccurred("DiscardedRenewedClientCertificate",
                                                    last_error[:200]))
                changed = True
        return changed

    def connected(self, connection: Any, renewed: bool) -> None:
        """A connection is up: the trial is over, a renewed certificate proven."""
        self._trial = None
        self._reported = ""
        self._renewed_failures = 0
        if self._credentials is None:
            return
        transport = getattr(connection, "transport", None)
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        self._credentials.server_verified(
            ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None)
        if renewed and self._credentials.promote_renewed():
            log.info("connected with the renewed client certificate; it is now current")

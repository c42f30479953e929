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
import re
import ssl
from typing import Protocol

from firmware.errors import OcppError
from firmware.security.store import ClientCredentials

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

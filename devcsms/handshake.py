"""Websocket handshake decisions and records: station identity, HTTP Basic credentials, who connected.

Pure helpers (no I/O) used by DevCsms's `process_request` hook and connection handler.
"""

from __future__ import annotations

import secrets
from base64 import b64decode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import NegotiationError


@dataclass
class ConnectionRecord:
    """One accepted websocket connection. Times are `time.monotonic()` seconds; `close_code` is the code
    of the close frame the charge point sent (1006 when the TCP connection just died), None while open."""

    station: str
    opened_monotonic_s: float
    remote_address: str
    subprotocol: str | None
    closed_monotonic_s: float | None = None
    close_code: int | None = None
    close_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_monotonic_s is None


@dataclass(frozen=True)
class RefusedHandshake:
    """A websocket handshake the CSMS answered with an HTTP error (401 bad credentials, 503 refusing…)."""

    station: str | None
    monotonic_s: float
    http_status: int
    reason: str


def station_identity(request_path: str, base_path: str) -> str | None:
    """The station identity in a handshake path: its last non-empty segment, percent-decoded.

    None when there is none, or the path is the bare base path (the charge point forgot to append it).
    """
    path = urlsplit(request_path).path
    if path.rstrip("/") == base_path.rstrip("/"):
        return None
    segments = [segment for segment in path.split("/") if segment]
    return unquote(segments[-1]) if segments else None


def first_spoken(offered: Sequence[str], spoken: Sequence[str]) -> str:
    """The first subprotocol the station offers that we speak: its preference decides (OCPP-J 2.0.1
    §3.1.2). Raises NegotiationError (HTTP 400) when it offers none of ours, as websockets does by default."""
    for subprotocol in offered:
        if subprotocol in spoken:
            return subprotocol
    raise NegotiationError(f"no supported subprotocol offered (we speak {', '.join(spoken)})")


def remote_address_text(remote: Any) -> str:
    """host:port of a peer address tuple, for humans."""
    if isinstance(remote, tuple) and len(remote) >= 2:
        return f"{remote[0]}:{remote[1]}"
    return str(remote)


def basic_credentials_problem(headers: Headers, station: str, passwords: Mapping[str, str]) -> str | None:
    """Why the handshake's HTTP Basic credentials do not admit `station`, or None when they do.

    OCPP 1.6 security profile 1: the username is the station identity, the password its AuthorizationKey.
    The password comparison takes constant time.
    """
    authorization = headers.get("Authorization")
    if authorization is None:
        return "no Authorization header"
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return f"Authorization scheme {scheme!r} is not Basic"
    try:
        username, separator, password = b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return "malformed Basic credentials"
    expected = passwords.get(station)
    if not separator or username != station or expected is None:
        return f"unknown user {username!r} for station {station!r}"
    if not secrets.compare_digest(password.encode(), expected.encode()):
        return "wrong password"
    return None

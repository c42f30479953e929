"""Upload one file over HTTP(S) with asyncio streams (no client library: one PUT or
POST, HTTP/1.1, ``Connection: close``, is a page of code; a dependency would be a
second TLS and proxy stack to keep patched on the station).

``upload(url, filename, body, timeout_s)``:
- the target: like ``curl -T``, a URL whose path ends in ``/`` (or is empty) gets the
  file name appended; user:password in the URL becomes Basic auth;
- PUT with the file as the body; a server answering 405 (Method Not Allowed) or 501
  gets a POST of ``multipart/form-data`` with the file in field ``file``;
- https:// verifies the server's certificate with the system's trust store
  (``ssl.create_default_context``); ``timeout_s`` bounds the whole attempt (connect,
  send, the answer's status line), so a stalled server costs one timeout, never a hang.

Outcome: returns on a 2xx. Raises ``UploadRefused`` with the OCPP status for answers a
retry cannot fix (401/403 → PermissionDenied, 400 → BadMessage, 405/501 to both
methods → NotSupportedOperation), ``UploadFailed`` for everything a retry may fix
(refused or reset connections, TLS errors, timeouts, 5xx, other statuses). FTP is not
supported: ``UnsupportedLocation`` (the service refuses such a GetLog).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from firmware.errors import OcppError

HEADER_BYTES_MAX = 16_384
SCHEMES = ("http", "https")


class UploadError(OcppError):
    """An upload the CSMS asked for did not happen (``firmware.diagnostics.upload``)."""


class UnsupportedLocation(UploadError):
    """The remoteLocation is not an http(s) URL we can upload to."""


class UploadFailed(UploadError):
    """This attempt failed; a retry may succeed."""


class UploadRefused(UploadError):
    """The server refused in a way a retry cannot fix; ``status`` is the OCPP one."""

    def __init__(self, status: str, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True)
class Target:
    https: bool
    host: str
    port: int
    path: str  # request target: path and query
    authorization: str | None  # the Authorization header's value


def target(url: str, filename: str) -> Target:
    """Where ``url`` says to put ``filename``; ``UnsupportedLocation`` when it cannot."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsupportedLocation(f"not a URL: {e}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise UnsupportedLocation(f"{parts.scheme or 'no'} scheme: only http and https uploads"
                                  " are supported")
    if not parts.hostname:
        raise UnsupportedLocation("no host in the location")
    https = parts.scheme.lower() == "https"
    path = parts.path or "/"
    if path.endswith("/"):
        path += quote(filename)
    if parts.query:
        path += "?" + parts.query
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Target(https, parts.hostname, port or (443 if https else 80), path, authorization)


async def upload(url: str, filename: str, body: bytes, timeout_s: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
    where = target(url, filename)
    try:
        async with asyncio.timeout(timeout_s):
            status = await _send(where, "PUT", "application/octet-stream", body, ssl_context)
            if status in (405, 501):
                boundary = uuid.uuid4().hex
                form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                        f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream"
                        f"\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
                status = await _send(where, "POST", f"multipart/form-data; boundary={boundary}",
                                     form, ssl_context)
    except TimeoutError:
        raise UploadFailed(f"no answer within {timeout_s:.0f} s") from None
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        raise UploadFailed(f"{type(e).__name__}: {e}"[:200]) from None
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise UploadRefused("PermissionDenied", f"HTTP {status}")
    if status == 400:
        raise UploadRefused("BadMessage", "HTTP 400")
    if status in (405, 501):
        raise UploadRefused("NotSupportedOperation", f"HTTP {status} to PUT and POST")
    raise UploadFailed(f"HTTP {status}")


async def _send(where: Target, method: str, content_type: str, body: bytes,
                ssl_context: ssl.SSLContext | None) -> int:
    context = (ssl_context or ssl.create_default_context()) if where.https else None
    reader, writer = await asyncio.open_connection(
        where.host, where.port, ssl=context, server_hostname=where.host if context else None,
        limit=HEADER_BYTES_MAX)
    try:
        host = where.host if ":" not in where.host else f"[{where.host}]"
        headers = [f"{method} {where.path} HTTP/1.1", f"Host: {host}:{where.port}",
                   "User-Agent: borne", f"Content-Type: {content_type}",
                   f"Content-Length: {len(body)}", "Connection: close"]
        if where.authorization:
            headers.append(f"Authorization: {where.authorization}")
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        line = await reader.readuntil(b"\r\n")
        return _status_code(line)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass  # the answer is what counts; a reset at close changes nothing


def _status_code(line: bytes) -> int:
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise UploadFailed(f"not an HTTP answer: {line[:60]!r}")
    return int(parts[1])

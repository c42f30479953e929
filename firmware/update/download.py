"""One HTTP(S) GET of a firmware image into a file, on asyncio streams (no dependency).

``download(url, dest, limits)`` writes the body to ``dest.part`` and renames it to
``dest`` only once it is complete, so a file named ``dest`` is always a whole image (a
power cut leaves at most a ``.part``, which the updater deletes at start). HTTP/1.1 with
``Connection: close``; Content-Length, chunked or until-close bodies; up to
``MAX_REDIRECTS`` redirects; https with the system's CA store (``ssl_context``
overrides it). FTP is not supported (the URL is refused).

Failure modes, each a ``DownloadError`` with a short reason for the log: a bad URL, a
connection that cannot be opened, a status other than 200, a body larger than
``max_bytes`` (declared or received), no byte for ``stall_timeout_s``, the whole attempt
over ``total_timeout_s``, a body shorter than its Content-Length (truncated), a
malformed response.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from firmware.errors import FirmwareUpdateError

MAX_REDIRECTS = 3
MAX_HEADER_BYTES = 16 * 1024
CHUNK_BYTES = 64 * 1024


class DownloadError(FirmwareUpdateError):
    """One download attempt failed (the reason is safe to log: no credentials)."""


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int
    total_timeout_s: float
    stall_timeout_s: float


def safe_url(url: str) -> str:
    """The URL as a log may show it: user:password removed."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


async def download(url: str, dest: Path, limits: DownloadLimits,
                   ssl_context: ssl.SSLContext | None = None) -> int:
    """Fetch ``url`` into ``dest``; returns its size in bytes. Raises ``DownloadError``."""
    part = dest.with_name(dest.name + ".part")
    try:
        async with asyncio.timeout(limits.total_timeout_s):
            for _ in range(MAX_REDIRECTS + 1):
                location = await _get(url, part, limits, ssl_context)
                if location is None:
                    break
                url = urljoin(url, location)
            else:
                raise DownloadError(f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError:
        part.unlink(missing_ok=True)
        raise DownloadError(f"not complete within {limits.total_timeout_s:.0f} s") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    size = part.stat().st_size
    os.replace(part, dest)
    return size


async def _get(url: str, part: Path, limits: DownloadLimits,
               ssl_context: ssl.SSLContext | None) -> str | None:
    """One request; the redirect's Location, or None when the body is in ``part``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"unsupported location {safe_url(url)!r} (http or https only)")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    context = (ssl_context or ssl.create_default_context()) if tls else None
    try:
        async with asyncio.timeout(limits.stall_timeout_s):
            reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context,
                                                           limit=MAX_HEADER_BYTES)
    except TimeoutError:
        raise DownloadError(f"no connection to {parts.hostname}:{port}") from None
    except (OSError, ssl.SSLError, ValueError) as e:
        raise DownloadError(f"cannot connect to {parts.hostname}:{port}: {e}") from None
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: borne\r\n"
                     "Accept-Encoding: identity\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status, headers = await _head(reader, limits)
        if status in (301, 302, 303, 307, 308):
            location = headers.get("location")
            if not location:
                raise DownloadError(f"HTTP {status} without a Location")
            return location
        if status != 200:
            raise DownloadError(f"HTTP {status}")
        await _body(reader, headers, part, limits)
        return None
    except (OSError, ssl.SSLError) as e:
        raise DownloadError(f"connection failed: {e}") from None
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (OSError, ssl.SSLError, TimeoutError):
            pass


async def _read_line(reader: asyncio.StreamReader, limits: DownloadLimits) -> bytes:
    try:
        async with asyncio.timeout(limits.stall_timeout_s):
            return await reader.readuntil(b"\n")
    except TimeoutError:
        raise DownloadError(f"stalled: nothing for {limits.stall_timeout_s:.0f} s") from None
    except asyncio.IncompleteReadError:
        raise DownloadError("connection closed in the response head") from None
    except asyncio.LimitOverrunError:
        raise DownloadError("response header line too long") from None


async def _head(reader: asyncio.StreamReader,
                limits: DownloadLimits) -> tuple[int, dict[str, str]]:
    line = await _read_line(reader, limits)
    fields = line.decode("latin-1").split(None, 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise DownloadError("not an HTTP/1.x response")
    status = int(fields[1])
    headers: dict[str, str] = {}
    total = len(line)
    while True:
        line = await _read_line(reader, limits)
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise DownloadError("response head too large")
        text = line.decode("latin-1").strip()
        if not text:
            return status, headers
        name, sep, value = text.partition(":")
        if not sep:
            raise DownloadError("malformed response header")
        headers[name.strip().lower()] = value.strip()


async def _read(reader: asyncio.StreamReader, n: int, limits: DownloadLimits) -> bytes:
    try:
        async with asyncio.timeout(limits.stall_timeout_s):
            return await reader.read(n)
    except TimeoutError:
        raise DownloadError(f"stalled: nothing for {limits.stall_timeout_s:.0f} s") from None


async def _body(reader: asyncio.StreamReader, headers: dict[str, str], part: Path,
                limits: DownloadLimits) -> None:
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length: int | None = None
    if not chunked and "content-length" in headers:
        text = headers["content-length"]
        if not text.isdigit() or len(text) > 15:
            raise DownloadError("bad Content-Length")
        length = int(text)
        if length > limits.max_bytes:
            raise DownloadError(f"image of {length} bytes is over the {limits.max_bytes} limit")
    received = 0
    with open(part, "wb") as out:
        def keep(data: bytes) -> None:
            nonlocal received
            received += len(data)
            if received > limits.max_bytes:
                raise DownloadError(f"image over the {limits.max_bytes} byte limit")
            out.write(data)

        if chunked:
            while True:
                size_line = (await _read_line(reader, limits)).split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise DownloadError("malformed chunk size") from None
                if size == 0:
                    break
                left = size
                while left:
                    data = await _read(reader, min(left, CHUNK_BYTES), limits)
                    if not data:
                        raise DownloadError("truncated: connection closed inside a chunk")
                    keep(data)
                    left -= len(data)
                await _read_line(reader, limits)  # the chunk's CRLF
        else:
            while length is None or received < length:
                want = CHUNK_BYTES if length is None else min(CHUNK_BYTES, length - received)
                data = await _read(reader, want, limits)
                if not data:
                    if length is not None:
                        raise DownloadError(f"truncated: {received} of {length} bytes")
                    break
                keep(data)
        out.flush()
        os.fsync(out.fileno())

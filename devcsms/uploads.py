"""An HTTP server on 127.0.0.1 that accepts the station's log uploads (GetLog,
GetDiagnostics), so `make run` and the tests can see a whole upload.

    async with UploadServer(directory) as uploads:
        url = uploads.url            # http://127.0.0.1:PORT/uploads/ : the remoteLocation
        ...
        uploads.received             # [Upload(method, path, name, body)], oldest first

PUT stores the body as the file named by the last path segment; POST takes the first
``file`` part of a multipart/form-data body (or the raw body). Files land in
``directory`` (a temp dir in tests), names reduced to ``[A-Za-z0-9._-]``.

``behaviour`` makes it misbehave for tests: ``"ok"``; ``"fail"`` answers 500;
``"stall"`` reads the request and never answers; ``"deny"`` answers 403;
``"no-put"`` answers PUT with 405 (the station then POSTs). A connection that is
refused is a closed port: ``refused_url()``.

Control (the devcsms "script command" for `make run`): ``POST /request/getlog?station=ID
&type=DiagnosticsLog|SecurityLog`` and ``POST /request/getdiagnostics?station=ID`` make
the CSMS send the request with this server as the location (``on_request`` does it);
the answer is the station's CALLRESULT as JSON.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

BEHAVIOURS = ("ok", "fail", "stall", "deny", "no-put")
BODY_BYTES_MAX = 64 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    method: str
    path: str
    name: str
    body: bytes


@dataclass
class UploadServer:
    directory: Path
    behaviour: str = "ok"
    host: str = "127.0.0.1"
    port: int = 0
    on_request: Callable[[str, dict[str, str]], Awaitable[dict]] | None = None
    received: list[Upload] = field(default_factory=list)
    attempts: int = 0  # requests seen, answered or not
    _server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def __aenter__(self) -> UploadServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):  # stalled ones too (3.11 has no close_clients)
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/uploads/"

    async def wait_upload(self, timeout_s: float = 10.0) -> Upload:
        """The first upload received (already or within ``timeout_s``)."""
        async with asyncio.timeout(timeout_s):
            while not self.received:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            method, target, headers = await _head(reader)
            length = int(headers.get("content-length", "0"))
            if not 0 <= length <= BODY_BYTES_MAX:
                return await _answer(writer, 413, b"too large")
            body = await reader.readexactly(length)
            path = urlsplit(target).path
            if path.startswith("/request/") and method == "POST":
                return await self._control(writer, path, parse_qs(urlsplit(target).query))
            self.attempts += 1
            if self.behaviour == "stall":
                await reader.read()  # until the client gives up or we close
            status = {"fail": 500, "deny": 403}.get(self.behaviour)
            if status is None and self.behaviour == "no-put" and method == "PUT":
                status = 405
            if status is not None:
                return await _answer(writer, status, b"")
            if method not in ("PUT", "POST"):
                return await _answer(writer, 405, b"")
            name = path.rsplit("/", 1)[-1]
            if method == "POST":
                name, body = _form_file(headers.get("content-type", ""), body, name)
            name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "upload"
            await asyncio.to_thread((self.directory / name).write_bytes, body)
            self.received.append(Upload(method, path, name, body))
            self._arrived.set()
            await _answer(writer, 201, b"")
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            pass  # a client that went away or sent garbage: nothing to store
        finally:
            self._open.discard(writer)
            writer.close()

    async def _control(self, writer: asyncio.StreamWriter, path: str,
                       query: dict[str, list[str]]) -> None:
        args = {key: values[0] for key, values in query.items()}
        if self.on_request is None or "station" not in args:
            return await _answer(writer, 400, b"need ?station=ID and a CSMS")
        try:
            result = await self.on_request(path.removeprefix("/request/"), args)
        except Exception as error:  # reported to the operator who asked, never fatal
            return await _answer(writer, 502, f"{type(error).__name__}: {error}".encode())
        await _answer(writer, 200, json.dumps(result).encode())


async def _head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    request = (await reader.readuntil(b"\r\n")).decode("latin-1").split()
    if len(request) != 3:
        raise ValueError("bad request line")
    headers: dict[str, str] = {}
    while True:
        line = (await reader.readuntil(b"\r\n")).decode("latin-1")
        if line == "\r\n":
            return request[0], request[1], headers
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
        if len(headers) > 100:
            raise ValueError("too many headers")


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nConnection: close"
                 f"\r\n\r\n".encode() + body)
    await writer.drain()


def _form_file(content_type: str, body: bytes, fallback: str) -> tuple[str, bytes]:
    match = re.search(r"boundary=([^;]+)", content_type)
    if not match:
        return fallback, body
    for part in body.split(b"--" + match.group(1).strip('"').encode()):
        head, _, content = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            name = re.search(rb'filename="([^"]*)"', head)
            return (name.group(1).decode("latin-1") if name else fallback,
                    content.removesuffix(b"\r\n"))
    return fallback, body


def refused_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/uploads/"

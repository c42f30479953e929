"""A small misbehaving HTTP/1.1 file server on 127.0.0.1 (port 0) for the updater tests.

``routes`` maps a path to what to do: ``("file", bytes)``, ``("status", code)``,
``("stall", bytes)`` (head and part of the body, then silence), ``("truncate", bytes)``
(declares the full length, sends half, closes), ``("chunked", bytes)``,
``("redirect", location)``, ``("undeclared", bytes)`` (no Content-Length, until close).
``hits`` counts the requests per path."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any


class FirmwareHttpServer:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, Any]] = {}
        self.hits: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._stalled: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> "FirmwareHttpServer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._stalled:
            writer.close()
        assert self._server is not None
        self._server.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        path = request.split(b" ")[1].decode()
        self.hits[path] += 1
        kind, value = self.routes.get(path, ("status", 404))
        head = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
        if kind == "file":
            writer.write(f"{head}Content-Length: {len(value)}\r\n\r\n".encode() + value)
        elif kind == "status":
            writer.write(f"HTTP/1.1 {value} Oops\r\nContent-Length: 0\r\n\r\n".encode())
        elif kind == "redirect":
            writer.write(f"HTTP/1.1 302 Found\r\nLocation: {value}\r\n"
                         "Content-Length: 0\r\n\r\n".encode())
        elif kind == "undeclared":
            writer.write(f"{head}\r\n".encode() + value)
        elif kind == "chunked":
            body = b"".join(f"{len(value[i:i + 7]):x}\r\n".encode() + value[i:i + 7] + b"\r\n"
                            for i in range(0, len(value), 7))
            writer.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + body + b"0\r\n\r\n")
        elif kind == "truncate":
            writer.write(f"{head}Content-Length: {len(value)}\r\n\r\n".encode()
                         + value[:len(value) // 2])
        elif kind == "stall":
            writer.write(f"{head}Content-Length: {len(value)}\r\n\r\n".encode()
                         + value[:len(value) // 2])
            await writer.drain()
            self._stalled.append(writer)
            return  # never more: the client's stall timeout must end it
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

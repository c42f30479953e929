"""A TCP proxy between the agent and the CSMS that a test can cut, stall and restore.

    proxy = FaultProxy("127.0.0.1", csms.port)
    await proxy.start()                       # listens on 127.0.0.1, a free port (.port)
    url = proxy.url_for(csms.url)             # the csms_url to give the agent
    proxy.cut()                               # every connection reset, new ones refused
    proxy.stall()                             # nothing forwarded, nothing closed (half-open)
    proxy.restore()                           # forward again; held bytes go first, in order
    await proxy.close()

Modes:
- ``open``: bytes flow both ways; a half-close (FIN) is passed on.
- ``stalled``: connections stay open and bytes are read but held, as on a network path
  that silently stopped delivering. A side that closes meanwhile takes its held bytes
  with it (they went into the void): the other side is reset and never sees them, so a
  frame sent on a connection the agent has given up on never reaches the CSMS late.
  New connections are accepted and stalled too.
- ``cut``: every connection is reset (RST) on both sides, and new ones are accepted and
  reset at once (the agent's dial fails), until ``restore``.

Every connection's pumps are owned by that connection's handler task (itself owned by
the asyncio server), and ``close`` resets them all and waits for the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

OPEN, STALLED, CUT = "open", "stalled", "cut"
CHUNK_BYTES = 65536


class _Direction:
    """One direction of one connection: reads ``source``, writes ``sink``."""

    def __init__(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter):
        self.source = source
        self.sink = sink
        self.held = bytearray()

    def flush(self) -> None:
        if self.held and not self.sink.is_closing():
            self.sink.write(bytes(self.held))
        self.held.clear()


class _Pipe:
    def __init__(self, proxy: FaultProxy, client_reader: asyncio.StreamReader,
                 client_writer: asyncio.StreamWriter):
        self.proxy = proxy
        self.client_reader = client_reader
        self.client_writer = client_writer
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.directions: list[_Direction] = []

    async def run(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.proxy.target_host,
                                                           self.proxy.target_port)
        except OSError:
            self.reset()
            return
        self.upstream_writer = writer
        self.directions = [_Direction(self.client_reader, writer),
                           _Direction(reader, self.client_writer)]
        if self.proxy.mode == CUT:
            self.reset()
            return
        try:
            async with asyncio.TaskGroup() as tasks:
                for direction in self.directions:
                    tasks.create_task(self._pump(direction))
        finally:
            self.reset()

    async def _pump(self, d: _Direction) -> None:
        while True:
            try:
                data = await d.source.read(CHUNK_BYTES)
            except (ConnectionError, OSError):
                self.reset()
                return
            if not data:
                break
            if self.proxy.mode == OPEN and not d.held:
                d.sink.write(data)
                with contextlib.suppress(ConnectionError, OSError):
                    await d.sink.drain()
            else:
                d.held += data
        # End of input from this side.
        if self.proxy.mode != OPEN or d.held:
            self.reset()  # it closed while we held its bytes: they are lost, like it
            return
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if d.sink.can_write_eof():
                d.sink.write_eof()

    def flush(self) -> None:
        for direction in self.directions:
            direction.flush()

    def reset(self) -> None:
        """Abort both sockets (RST): nothing more goes through this connection."""
        for writer in (self.client_writer, self.upstream_writer):
            if writer is not None and writer.transport is not None:
                writer.transport.abort()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1"):
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.mode = OPEN
        self.port: int | None = None
        self.accepted = 0
        self._pipes: set[_Pipe] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on ``host``, a free port. Raises OSError if it cannot bind."""
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for pipe in list(self._pipes):
            pipe.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def url_for(self, csms_url: str) -> str:
        """``csms_url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(csms_url)
        return urlunsplit((parts.scheme, f"{self.host}:{self.port}", parts.path, parts.query,
                           parts.fragment))

    @property
    def open_connections(self) -> int:
        return len(self._pipes)

    # ------------------------------------------------------------------ faults
    def cut(self) -> None:
        """Reset every connection, and reset new ones at once, until ``restore``."""
        self.mode = CUT
        for pipe in list(self._pipes):
            pipe.reset()

    def stall(self) -> None:
        """Stop forwarding without closing anything (a half-open path)."""
        if self.mode == OPEN:
            self.mode = STALLED

    def restore(self) -> None:
        """Forward again: bytes held on live connections are delivered first, in order."""
        self.mode = OPEN
        for pipe in list(self._pipes):
            pipe.flush()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        pipe = _Pipe(self, reader, writer)
        if self.mode == CUT:
            pipe.reset()
            return
        self._pipes.add(pipe)
        try:
            await pipe.run()
        finally:
            self._pipes.discard(pipe)

"""A real ``firmware.core`` Station behind the small runtime the 2.0.1 dispatcher needs,
a real authorization store, and the session's steps (codec read → dispatcher → codec
write) in one ``answer(text)``.

``StationRuntime.request`` does what ``firmware.runtime.Runtime.request`` does for the
dispatcher: hand the event to the station (fake clock, ``tests.core.harness``), answer
the hardware as a working board would (lock, meter; ``UnlockCable`` of an
UnlockConnector with ``CableUnlocked(unlock_ok)``, or never when ``unlock_answers`` is
False), and return the ``Reply`` fields with a continuation that releases the messages
(into ``released``). No reply → ``TimeoutError``, as the real runtime after its timeout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from firmware.auth import AuthorizationStore
from firmware.auth.ports import StoreAuthorization
from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.authorization import AuthKeys
from firmware.ocpp.frames import CallErrorReply
from firmware.ocpp.v201.codec import V201Codec
from firmware.ocpp.v201.errors import from_v16
from firmware.ocpp.v201.inbound import SUPPORTED, V201InboundDispatcher
from firmware.ocpp.v201.outbound import transaction_id
from tests.core.harness import Harness


class StationRuntime:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.station = harness.station
        self.clock = self
        self.unlock_ok = True
        self.unlock_answers = True
        self.requests: list[ev.Request] = []
        self.released: list[fx.SendMessage] = []
        self.effects: list[fx.Effect] = []

    def now(self) -> float:
        return self.harness.now

    async def request(self, event: ev.Request, timeout_s: float) -> tuple[dict[str, Any], Any]:
        self.requests.append(event)
        out = self.harness.handle(event)
        for unlock in [e for e in out if isinstance(e, fx.UnlockCable)]:
            if unlock.request_ref == event.ref and self.unlock_answers:
                out = out + self.harness.handle(
                    ev.CableUnlocked(unlock.connector_id, self.unlock_ok, unlock.request_ref))
        self.effects.extend(out)
        replies = [e for e in out if isinstance(e, fx.Reply) and e.ref == event.ref]
        if not replies:
            raise TimeoutError
        messages = [e for e in out if isinstance(e, fx.SendMessage)]

        async def continuation() -> None:
            self.released.extend(messages)

        return replies[0].fields, continuation


@dataclass
class Directory:
    """The adapter's part (``TransactionDirectory``), as the V201Adapter keeps it."""

    ids: dict[str, int] = field(default_factory=dict)
    remote_starts: list[tuple[int | None, int]] = field(default_factory=list)

    def local_id_of(self, transaction_id: str) -> int | None:
        return self.ids.get(transaction_id)

    def remember_remote_start(self, evse_id: int | None, remote_start_id: int) -> None:
        self.remote_starts.append((evse_id, remote_start_id))


class Rig:
    def __init__(self, db_path: Any, connectors: int = 2, has_lock: bool = True) -> None:
        self.harness = Harness(connectors=connectors, has_lock=has_lock)
        self.station = self.harness.station
        self.runtime = StationRuntime(self.harness)
        self.directory = Directory()

        def keys() -> AuthKeys:
            return AuthKeys.from_ocpp(self.station.config.get)

        self.store = AuthorizationStore(db_path, keys=keys())
        self.auth = StoreAuthorization(self.store, keys)
        self.dispatcher = V201InboundDispatcher(self.runtime, self.auth, self.directory)
        self.codec = V201Codec(SUPPORTED)
        self._message = 0

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ the session's steps
    async def answer(self, text: str | bytes) -> list[Any]:
        """The frame the station sends back for ``text`` (a CALL from the CSMS)."""
        received = self.codec.read(text)
        if received.kind == "bad":
            assert received.reply is not None
            return json.loads(received.reply)
        assert received.kind == "call", received
        try:
            payload, continuation = await self.dispatcher(received.call)
            out = self.codec.encode_result(received.message_id, received.action, payload)
        except CallErrorReply as error:
            return json.loads(self.codec.encode_error(received.message_id, from_v16(error)))
        if continuation is not None:
            await continuation()
        return json.loads(out)

    async def call(self, action: str, payload: Any) -> list[Any]:
        self._message += 1
        return await self.answer(json.dumps([2, f"m-{self._message}", action, payload]))

    async def result(self, action: str, payload: Any) -> dict[str, Any]:
        answer = await self.call(action, payload)
        assert answer[0] == 3, answer
        result: dict[str, Any] = answer[2]
        return result

    async def error(self, action: str, payload: Any) -> str:
        answer = await self.call(action, payload)
        assert answer[0] == 4, answer
        code: str = answer[2]
        return code

    # ------------------------------------------------------------------ sessions
    def boot(self, status: str = "Accepted") -> None:
        self.harness.boot(status)

    def start_session(self, connector_id: int = 1, tag: str = "AABBCCDD") -> str:
        """Plug, tap, accepted, Started answered as the 2.0.1 adapter does (the core's
        id is the local id); the 2.0.1 transactionId of the session."""
        h = self.harness
        h.pilot("B", connector_id)
        h.handle(ev.CardPresented(tag, "test", connector_id=connector_id))
        h.answer_authorize()
        start = h.last(fx.SendTransactionStarted)
        h.handle(ev.TransactionStartAnswered(start.local_tx_id, start.local_tx_id,
                                             ev.IdTagInfo("Accepted"), start.id_tag))
        h.pilot("C", connector_id)
        tx_id = transaction_id(start.local_tx_id, start.timestamp_s)
        self.directory.ids[tx_id] = start.local_tx_id
        assert self.station.connectors[connector_id].tx is not None
        return tx_id

    def untouched(self) -> bool:
        """Nothing reached the core, nothing was remembered."""
        return not self.runtime.requests and not self.directory.remote_starts

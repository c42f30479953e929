"""Helpers shared by the authorization integration tests (no tests in this module).

Everything goes through the agent's public surfaces: the websocket (DevCsms calls), the
technician console (``sim plug``, ``sim tap``, ``auth lookup``) and the runtime's
decision record (``RecordDecision`` effects, the same record ``auth stats`` shows).
"""

from __future__ import annotations

from typing import Any, Iterable

from devcsms import CallErrorReceived
from firmware.core import effects as fx

STATION = "CP-IT"


class Decisions:
    """Every authorization decision the agent makes from now on, in order."""

    def __init__(self, cp: Any):
        self.cp = cp
        self.items: list[fx.RecordDecision] = []
        cp.agent.runtime.observe(self._on_effects)

    def _on_effects(self, effects: list) -> None:
        self.items.extend(e for e in effects if isinstance(e, fx.RecordDecision))

    def mark(self) -> int:
        return len(self.items)

    async def next_for(self, id_tag: str, after: int, timeout_s: float = 30.0) -> fx.RecordDecision:
        """The first decision about ``id_tag`` recorded at or after position ``after``."""

        def found() -> fx.RecordDecision | None:
            return next((d for d in self.items[after:] if d.id_tag == id_tag), None)

        await self.cp.until(lambda: found() is not None, timeout_s)
        return found()


async def tap(cp: Any, decisions: Decisions, uid: str) -> fx.RecordDecision:
    """Present card ``uid`` (hex) on the simulated reader; the decision it led to."""
    mark = decisions.mark()
    await cp.console(f"sim tap {uid}")
    return await decisions.next_for(uid.upper(), mark)


async def tap_to_stop(cp: Any, uid: str, connector_id: int = 1) -> None:
    """Present card ``uid`` to end the transaction on ``connector_id`` (a stop records no
    authorization decision: wait for the transaction to end instead)."""
    assert cp.station.connectors[connector_id].tx is not None
    await cp.console(f"sim tap {uid}")
    await cp.until(lambda: cp.station.connectors[connector_id].transaction_ended())


async def tap_and_release(cp: Any, decisions: Decisions, uid: str) -> fx.RecordDecision:
    """Tap with no cable plugged; an accepted tap is cancelled by a second tap so the
    connector is free for the next card. Returns the first tap's decision."""
    decision = await tap(cp, decisions, uid)
    if decision.accepted:
        again = await tap(cp, decisions, uid)
        assert again.why == "cancelled-by-second-tap", again
    return decision


async def booted(csms: Any, after: int = 0) -> None:
    """The agent is registered and has reported its connectors."""
    await csms.wait_for("BootNotification", after=after, timeout_s=10)
    await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1,
                        after=after, timeout_s=10)


async def go_offline(csms: Any, cp: Any) -> None:
    """A CSMS outage: the connection drops and new handshakes get 503."""
    csms.refuse_connections = True
    await csms.disconnect(STATION)
    await cp.until(lambda: not cp.station.online)


async def go_online(csms: Any, cp: Any) -> None:
    csms.refuse_connections = False
    await cp.until(lambda: cp.station.online, timeout_s=10)


def entry(id_tag: str, status: str | None = "Accepted", *, parent: str | None = None,
          expiry: str | None = None) -> dict:
    """One localAuthorizationList item; ``status=None`` is a removal (Differential)."""
    item: dict[str, Any] = {"idTag": id_tag}
    if status is not None:
        info: dict[str, Any] = {"status": status}
        if parent is not None:
            info["parentIdTag"] = parent
        if expiry is not None:
            info["expiryDate"] = expiry
        item["idTagInfo"] = info
    return item


async def send_local_list(csms: Any, version: int, update_type: str,
                          items: Iterable[dict], *, validate: bool = True,
                          timeout_s: float = 30.0) -> str:
    """SendLocalList.req over the websocket; the status of SendLocalList.conf."""
    payload = {"listVersion": version, "updateType": update_type,
               "localAuthorizationList": list(items)}
    reply = await csms.call(STATION, ("SendLocalList", payload), timeout_s=timeout_s,
                            validate=validate)
    return reply["status"]


async def list_version(csms: Any) -> int:
    return (await csms.call(STATION, ("GetLocalListVersion", {})))["listVersion"]


async def call_error(csms: Any, action: str, payload: Any) -> str:
    """Send a schema-breaking CALL; the CALLERROR code the charge point answered."""
    try:
        reply = await csms.call(STATION, (action, payload), validate=False)
    except CallErrorReceived as e:
        return e.code
    raise AssertionError(f"{action} {payload!r} was answered {reply!r}, not a CALLERROR")


async def lookup(cp: Any, id_tag: str) -> dict[str, str]:
    """``auth lookup TAG`` as a dict: label → text ("list", "cache", "decision offline"...)."""
    lines = await cp.console(f"auth lookup {id_tag}")
    out = {}
    for line in lines:
        label, _, text = line.partition(": ")
        out[label] = text
    return out


async def list_status(cp: Any, id_tag: str) -> str:
    """What the local list holds for ``id_tag`` ("not found", "Accepted, no expiry", ...)."""
    return (await lookup(cp, id_tag))["list"]

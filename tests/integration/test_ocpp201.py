"""The agent speaking OCPP 2.0.1 to a raw ``websockets`` CSMS on 127.0.0.1 (port 0).

The CSMS here is a few lines over the websockets library, not the agent's code: it
offers only the "ocpp2.0.1" subprotocol, checks every CALL the agent sends against the
official 2.0.1 request schema (draft 6, shipped in the ``ocpp`` package, [S201]) and
answers with payloads that pass the response schema. The agent is the real process
(``python -m firmware run``) on the simulated board, so a SIGKILL is a power cut.

Rules (ocpp201-rules.md): B01 boot with a reason, StatusNotification per EVSE (§1, §5),
TransactionEvent Started/Updated/Ended with one station-chosen transactionId and a
seqNo that counts 0, 1, 2, ... gap-free per transaction, across a power loss (§3).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Callable

import jsonschema
import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.chaos.agent_process import AgentProcess
from tests.integration.agent import write_site

pytest.importorskip("firmware.ocpp.v201.codec", reason="the 2.0.1 frame codec is not merged")
pytest.importorskip("firmware.ocpp.v201.inbound", reason="the 2.0.1 CALL handlers are not merged")

STATION = "CP-201"


def schema(action: str, kind: str) -> jsonschema.Draft6Validator:
    text = resources.files("ocpp.v201").joinpath("schemas", f"{action}{kind}.json").read_text(
        encoding="utf-8-sig")
    return jsonschema.Draft6Validator(json.loads(text))


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Call:
    seq: int
    action: str
    payload: dict[str, Any]


@dataclass
class RawCsms201:
    """Records the agent's CALLs (every one validated) and answers them."""

    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    subprotocols: list[str | None] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    connection: ServerConnection | None = None
    answers: list[list[Any]] = field(default_factory=list)

    async def call(self, message_id: str, action: str, payload: dict[str, Any],
                   timeout_s: float = 20.0) -> dict[str, Any]:
        """Send a CALL to the agent; its CALLRESULT's payload (validated)."""
        assert self.connection is not None
        await self.connection.send(json.dumps([2, message_id, action, payload]))
        async with asyncio.timeout(timeout_s):
            while not any(a[1] == message_id for a in self.answers):
                self.changed.clear()
                await self.changed.wait()
        answer = next(a for a in self.answers if a[1] == message_id)
        assert answer[0] == 3, answer
        assert not list(schema(action, "Response").iter_errors(answer[2])), answer
        return answer[2]

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "BootNotification":
            return {"currentTime": now_text(), "interval": 300, "status": "Accepted"}
        if action == "Heartbeat":
            return {"currentTime": now_text()}
        if action == "Authorize":
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "TransactionEvent" and payload.get("eventType") == "Started":
            return {"idTokenInfo": {"status": "Accepted"}}
        return {}

    async def handler(self, connection: ServerConnection) -> None:
        self.subprotocols.append(connection.subprotocol)
        self.connection = connection
        async for text in connection:
            frame = json.loads(text)
            if frame[0] != 2:
                self.answers.append(frame)  # the agent's answers to our CALLs
                self.changed.set()
                continue
            _, message_id, action, payload = frame
            for error in schema(action, "Request").iter_errors(payload):
                self.problems.append(f"{action}: {error.message}")
            self.calls.append(Call(len(self.calls), action, payload))
            self.changed.set()
            response = self.answer(action, payload)
            assert not list(schema(action, "Response").iter_errors(response))
            await connection.send(json.dumps([3, message_id, response]))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def of(self, action: str, where: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        return [c for c in self.calls if c.action == action and where(c)]

    async def wait_for(self, action: str, where: Callable[[Call], bool] = lambda c: True,
                       timeout_s: float = 20.0) -> Call:
        async with asyncio.timeout(timeout_s):
            while not self.of(action, where):
                self.changed.clear()
                await self.changed.wait()
        return self.of(action, where)[0]


def transaction_events(csms: RawCsms201) -> list[dict[str, Any]]:
    return [c.payload for c in csms.of("TransactionEvent")]


async def test_boot_status_and_a_session_with_seq_no_across_a_power_loss(tmp_path):
    csms = RawCsms201()
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        csms.port = server.sockets[0].getsockname()[1]
        site = write_site(tmp_path, csms.url, station_id=STATION, board="sim-2c.toml",
                          console="stdio", ocpp={"protocol": "ocpp2.0.1"},
                          defaults={"MeterValueSampleInterval": 1})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            boot = await csms.wait_for("BootNotification")
            assert boot.payload["reason"] == "PowerUp"
            assert boot.payload["chargingStation"]["vendorName"] == "Borne"
            for evse_id in (1, 2):
                await csms.wait_for("StatusNotification",
                                    lambda c, e=evse_id: c.payload["evseId"] == e)
            await agent.command("sim plug 1")
            await agent.command("sim tap 04A2B3C4")
            started = await csms.wait_for(
                "TransactionEvent", lambda c: c.payload["eventType"] == "Started")
            await csms.wait_for("TransactionEvent", lambda c: c.payload["eventType"] == "Updated"
                                and c.payload["seqNo"] >= 2)
            await agent.kill()  # a power cut: nothing is flushed or stopped
            await agent.start()
            ended = await csms.wait_for("TransactionEvent",
                                        lambda c: c.payload["eventType"] == "Ended")
            assert await agent.terminate() == 0
        finally:
            await agent.kill()

    assert csms.problems == [], csms.problems
    assert csms.subprotocols and set(csms.subprotocols) == {"ocpp2.0.1"}
    transaction_id = started.payload["transactionInfo"]["transactionId"]
    assert started.payload["seqNo"] == 0 and started.payload["idToken"]["idToken"] == "04A2B3C4"
    assert started.payload["evse"] == {"id": 1, "connectorId": 1}
    assert ended.payload["transactionInfo"]["stoppedReason"] == "PowerLoss"
    events = [e for e in transaction_events(csms)
              if e["transactionInfo"]["transactionId"] == transaction_id]
    seq_nos = [e["seqNo"] for e in events]
    # Delivered at least once: the messages the CSMS confirmed just before the cut may
    # come again, identical and in order (firmware.ocpp.outbox); never a gap, and each
    # message is first seen after every one before it.
    assert sorted(set(seq_nos)) == list(range(max(seq_nos) + 1)), seq_nos
    first_seen = list(dict.fromkeys(seq_nos))
    assert first_seen == sorted(first_seen), seq_nos
    assert events[-1]["eventType"] == "Ended" and events[-1]["seqNo"] == max(seq_nos)
    assert [e["eventType"] for e in events].count("Started") == 1
    boots = csms.of("BootNotification")
    assert len(boots) == 2 and all(b.payload["reason"] == "PowerUp" for b in boots)


async def test_a_csms_reset_restarts_the_agent_which_boots_with_remote_reset_b11(tmp_path):
    csms = RawCsms201()
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        csms.port = server.sockets[0].getsockname()[1]
        site = write_site(tmp_path, csms.url, station_id=STATION, console="stdio",
                          ocpp={"protocol": "ocpp2.0.1"})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            await csms.wait_for("StatusNotification")
            assert await csms.call("r-1", "Reset", {"type": "Immediate"}) == {
                "status": "Accepted"}
            await agent.wait_banner()  # the process re-executed itself
            second = await csms.wait_for("BootNotification", lambda c: c.seq > 0)
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert csms.problems == [], csms.problems
    assert csms.of("BootNotification")[0].payload["reason"] == "PowerUp"
    assert second.payload["reason"] == "RemoteReset"


async def test_csms_calls_reservation_remote_start_stop_and_variables_over_the_wire(tmp_path):
    """The CSMS side of 2.0.1 against the real agent: GetVariables, a reservation for a
    token (Reserved, the holder's remote start carries reservationId), RequestStop, and
    the console names the version spoken."""
    csms = RawCsms201()
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        csms.port = server.sockets[0].getsockname()[1]
        site = write_site(tmp_path, csms.url, station_id=STATION, console="stdio",
                          ocpp={"protocol": "ocpp2.0.1"})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            await csms.wait_for("StatusNotification")
            status = await agent.command("status")
            assert "ocpp2.0.1" in status[0], status
            variables = await csms.call("v-1", "GetVariables", {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "Nope"}}]})
            results = variables["getVariableResult"]
            assert [r["attributeStatus"] for r in results] == ["Accepted", "UnknownComponent"]
            assert await csms.call("g-1", "GetReport", {"requestId": 77, "componentVariable": [
                {"component": {"name": "OCPPCommCtrlr"},
                 "variable": {"name": "HeartbeatInterval"}}]}) == {"status": "Accepted"}
            report = await csms.wait_for("NotifyReport", lambda c: c.payload["requestId"] == 77)
            assert [(d["component"]["name"], d["variable"]["name"])
                    for d in report.payload["reportData"]] == [
                ("OCPPCommCtrlr", "HeartbeatInterval")]
            assert await csms.call("g-2", "GetReport", {"requestId": 78, "componentVariable": [
                {"component": {"name": "NoSuchCtrlr"}}]}) == {"status": "EmptyResultSet"}
            expiry = datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() + 3600,
                                            timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert await csms.call("r-1", "ReserveNow", {
                "id": 11, "expiryDateTime": expiry, "evseId": 1,
                "idToken": {"idToken": "04A2B3C4", "type": "ISO14443"}}) == {"status": "Accepted"}
            await csms.wait_for("StatusNotification", lambda c: c.payload["evseId"] == 1
                                and c.payload["connectorStatus"] == "Reserved")
            assert (await csms.call("s-1", "RequestStartTransaction", {
                "remoteStartId": 5, "evseId": 1,
                "idToken": {"idToken": "0403D003", "type": "Central"}}))["status"] == "Rejected"
            assert (await csms.call("s-2", "RequestStartTransaction", {
                "remoteStartId": 6, "evseId": 1,
                "idToken": {"idToken": "04A2B3C4", "type": "Central"}}))["status"] == "Accepted"
            await agent.command("sim plug 1")
            started = await csms.wait_for(
                "TransactionEvent", lambda c: c.payload["eventType"] == "Started")
            transaction_id = started.payload["transactionInfo"]["transactionId"]
            connector = [x for x in await agent.command("status") if x.startswith("connector 1")]
            assert f"tx={transaction_id} " in connector[0], connector   # as the CSMS knows it
            assert (await csms.call("t-1", "RequestStopTransaction", {
                "transactionId": transaction_id}))["status"] == "Accepted"
            ended = await csms.wait_for(
                "TransactionEvent", lambda c: c.payload["eventType"] == "Ended")
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert csms.problems == [], csms.problems
    assert started.payload["reservationId"] == 11
    assert started.payload["transactionInfo"].get("remoteStartId") == 6
    assert started.payload["triggerReason"] == "RemoteStart"
    assert ended.payload["transactionInfo"]["stoppedReason"] == "Remote"


async def test_smart_charging_k_over_the_wire_reaches_the_pilot_and_survives_a_power_cut(
        tmp_path):
    """Block K against the real agent: a TxProfile for the running transaction and a
    TxDefaultProfile set the offer the console shows, GetChargingProfiles is answered
    with ReportChargingProfiles, and the TxDefault survives a SIGKILL (smart-charging.md §6)."""
    csms = RawCsms201()
    tx_default = {"id": 3, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                  "chargingProfileKind": "Relative", "chargingSchedule": [{
                      "id": 1, "chargingRateUnit": "A",
                      "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12.0}]}]}
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        csms.port = server.sockets[0].getsockname()[1]
        site = write_site(tmp_path, csms.url, station_id=STATION, console="stdio",
                          ocpp={"protocol": "ocpp2.0.1"})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            await csms.wait_for("StatusNotification")
            await agent.command("sim plug 1")
            await agent.command("sim tap 04A2B3C4")
            started = await csms.wait_for(
                "TransactionEvent", lambda c: c.payload["eventType"] == "Started")
            transaction_id = started.payload["transactionInfo"]["transactionId"]
            assert await csms.call("p-1", "SetChargingProfile", {
                "evseId": 0, "chargingProfile": tx_default}) == {"status": "Accepted"}
            tx_profile = dict(tx_default, id=4, stackLevel=1,
                              chargingProfilePurpose="TxProfile", transactionId=transaction_id,
                              chargingSchedule=[{"id": 1, "chargingRateUnit": "A",
                                                 "chargingSchedulePeriod": [
                                                     {"startPeriod": 0, "limit": 9.0}]}])
            assert await csms.call("p-2", "SetChargingProfile", {
                "evseId": 1, "chargingProfile": tx_profile}) == {"status": "Accepted"}
            connector = [x for x in await agent.command("status") if x.startswith("connector 1")]
            assert "offer=9A" in connector[0] and "Tx#4" in connector[0], connector
            assert await csms.call("p-3", "GetChargingProfiles", {
                "requestId": 21, "chargingProfile": {}}) == {"status": "Accepted"}
            reports = [await csms.wait_for("ReportChargingProfiles",
                                           lambda c, e=e: c.payload["evseId"] == e)
                       for e in (0, 1)]
            assert reports[1].payload["chargingProfile"][0]["transactionId"] == transaction_id
            await agent.kill()  # a power cut
            await agent.start()
            await csms.wait_for("BootNotification", lambda c: c.seq > reports[1].seq)
            assert await csms.call("p-4", "GetChargingProfiles", {
                "requestId": 22, "chargingProfile": {}}) == {"status": "Accepted"}
            after = await csms.wait_for("ReportChargingProfiles",
                                        lambda c: c.payload["requestId"] == 22)
            assert [p["id"] for p in after.payload["chargingProfile"]] == [3]
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert csms.problems == [], csms.problems

"""Block I (tariff and cost) against the real agent over a real 2.0.1 websocket on
127.0.0.1: the CSMS sets TariffCostCtrlr.TariffFallbackMessage (console ``price``
shows it, after a restart too), reports a running cost with CostUpdated and the final
one in the Ended's TransactionEventResponse.totalCost; ``status`` shows both
(ocpp201-rules.md §7 "I"; the raw CSMS of ``test_ocpp201`` checks every frame against
the official schemas)."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.asyncio.server import serve

from tests.chaos.agent_process import AgentProcess
from tests.integration.agent import write_site

pytest.importorskip("firmware.ocpp.v201.inbound", reason="the 2.0.1 CALL handlers are not merged")

from tests.integration.test_ocpp201 import RawCsms201  # noqa: E402

STATION = "CP-201-COST"


class CostingCsms(RawCsms201):
    """Answers the Ended with the session's total cost, as a CSMS that prices it."""

    total_cost: float | None = 4.56

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if (action == "TransactionEvent" and payload.get("eventType") == "Ended"
                and self.total_cost is not None):
            return {"totalCost": self.total_cost}
        return super().answer(action, payload)


def cost_line(status: list[str]) -> list[str]:
    return [line for line in status if "(from the CSMS)" in line]


async def test_csms_sets_the_price_text_and_reports_running_and_final_cost(tmp_path):
    csms = CostingCsms()
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        csms.port = server.sockets[0].getsockname()[1]
        site = write_site(tmp_path, csms.url, station_id=STATION, console="stdio",
                          ocpp={"protocol": "ocpp2.0.1"})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            await csms.wait_for("StatusNotification")
            ctrlr = {"name": "TariffCostCtrlr"}
            set_result = await csms.call("v-1", "SetVariables", {"setVariableData": [
                {"component": ctrlr, "variable": {"name": "TariffFallbackMessage"},
                 "attributeValue": "0.39 EUR/kWh incl. VAT"},
                {"component": ctrlr, "variable": {"name": "TotalCostFallbackMessage"},
                 "attributeValue": "x" * 300}]})
            assert [r["attributeStatus"] for r in set_result["setVariableResult"]] == [
                "Accepted", "Rejected"]
            price = await agent.command("price")      # the sim board has a card terminal
            assert price[0].startswith("Pay by card: 0.39 EUR/kWh incl. VAT; "), price
            got = await csms.call("v-2", "GetVariables", {"getVariableData": [
                {"component": ctrlr, "variable": {"name": "Currency"}},
                {"component": ctrlr, "variable": {"name": "Available", "instance": "Tariff"}},
                {"component": ctrlr, "variable": {"name": "TotalCostFallbackMessage"}}]})
            assert [r.get("attributeValue") for r in got["getVariableResult"]] == [
                "EUR", "true", "Total cost not known yet: see your receipt or app"]

            await agent.command("sim plug 1")
            await agent.command("sim tap 04A2B3C4")
            started = await csms.wait_for(
                "TransactionEvent", lambda c: c.payload["eventType"] == "Started")
            transaction_id = started.payload["transactionInfo"]["transactionId"]
            assert await csms.call("c-1", "CostUpdated", {
                "totalCost": 1.234, "transactionId": transaction_id}) == {}
            assert cost_line(await agent.command("status")) == [
                "connector 1: Cost so far 1.23 EUR (from the CSMS)"]
            # an unknown transaction and a negative cost: answered {}, nothing changes
            assert await csms.call("c-2", "CostUpdated", {
                "totalCost": 9.99, "transactionId": "not-a-tx"}) == {}
            assert await csms.call("c-3", "CostUpdated", {
                "totalCost": -5, "transactionId": transaction_id}) == {}
            assert cost_line(await agent.command("status")) == [
                "connector 1: Cost so far 1.23 EUR (from the CSMS)"]

            assert (await csms.call("t-1", "RequestStopTransaction", {
                "transactionId": transaction_id}))["status"] == "Accepted"
            await csms.wait_for("TransactionEvent", lambda c: c.payload["eventType"] == "Ended")
            status: list[str] = []
            for _ in range(50):   # the Ended's answer reaches the core just after
                status = await agent.command("status")
                if any("Total cost" in line for line in status):
                    break
            assert cost_line(status) == ["connector 1: Total cost 4.56 EUR (from the CSMS)"]
            assert await agent.terminate() == 0
            # the CSMS's price text is persisted
            await agent.start()
            await csms.wait_for("BootNotification", lambda c: c.seq > started.seq)
            assert (await agent.command("price"))[0] == price[0]
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert csms.problems == [], csms.problems

"""Technician commands through the real agent's console against a real DevCsms."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from devcsms import DevCsms
from firmware.console.tech_commands import safe_url
from tests.integration.agent import running_agent, write_site


@pytest.fixture
async def csms() -> AsyncIterator[DevCsms]:
    async with DevCsms(host="127.0.0.1", port=0, boot_interval_s=300) as server:
        yield server


def test_safe_url_drops_credentials():
    assert safe_url("wss://cp:s3cret@csms.example:8443/ocpp") == "wss://csms.example:8443/ocpp"
    assert safe_url("ws://127.0.0.1:9000/ocpp") == "ws://127.0.0.1:9000/ocpp"


async def test_connectors_meter_net_tx_and_usage(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        (line,) = await cp.console("connectors")
        assert "pilot A" in line and "contactor commanded open / feedback open" in line
        assert (await cp.agent.console.execute("connectors 9"))[-1].startswith("ERROR: no connector 9")
        assert (await cp.console("net"))[1].startswith("csms ws://127.0.0.1")
        assert (await cp.console("tx"))[0] == "no transaction running"
        assert (await cp.console("meter"))[0].startswith("connector 1:")
        assert await cp.agent.console.execute("sim") == [
            "ERROR: usage: sim card TOKEN [approve|decline|timeout|abort] | "
            "sim ev N pause|charge | sim fault N KIND|clear | sim plug N | "
            "sim power N WATTS | sim tap UID [READER] | sim unplug N"]
        reply = await cp.agent.console.execute("factory-reset")
        assert reply[-1].startswith("ERROR: this forgets") and "CP-IT" in reply[-1]
        assert (await cp.agent.console.execute("reboot", "technician"))[-1].startswith(
            "ERROR: reboot needs role admin")


async def test_diag_export_has_no_secret(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"AuthorizationKey": "00112233445566778899aabbccddeeff"})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        (line,) = await cp.console("diag export")
        path = line.split()[1]
        text = open(path, encoding="utf-8").read()
        assert "== version" in text and "== log" in text and "HeartbeatInterval" in text
        assert "00112233445566778899aabbccddeeff" not in text

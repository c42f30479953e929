"""[ocpp] protocol as a list in preference order (issue 9 item 4): both versions offered
as websocket subprotocols, the agent speaks what the CSMS picked and says so in status;
a switch never happens with messages queued or a transaction running, so a transaction
ends in the version it started in."""

from __future__ import annotations

import pytest

from devcsms import DevCsms
from firmware.config import load_site_config
from firmware.errors import ConfigError
from firmware.ocpp.protocol_switch import NEGOTIATED_KEY, ProtocolNegotiation, choose_protocol
from firmware.store import repositories as repo
from firmware.store.db import atomic, open_database
from tests.chaos.agent_process import AgentProcess
from tests.integration.agent import write_site

STATION = "CP-NEG"
BOTH = ["ocpp1.6", "ocpp2.0.1"]


@pytest.mark.parametrize("value, why", [
    ([], "non-empty list"),
    (["ocpp1.6", "ocpp1.6"], "twice"),
    (["ocpp2.2"], "unknown OCPP version"),
    ("ocpp1.5", "unknown OCPP version"),
    (16, "must be one of"),
])
def test_a_bad_protocol_setting_is_a_clear_config_error(tmp_path, value, why):
    site = write_site(tmp_path, "ws://127.0.0.1:9/ocpp", ocpp={"protocol": value})
    with pytest.raises(ConfigError) as error:
        load_site_config(site)
    assert "ocpp.protocol" in str(error.value) and why in str(error.value)


def test_the_version_spoken_at_start_is_the_queued_one_then_the_picked_one(tmp_path):
    conn = open_database(tmp_path)
    try:
        preferences = ("ocpp2.0.1", "ocpp1.6")
        assert choose_protocol(conn, preferences) == "ocpp2.0.1"
        with atomic(conn):
            repo.set_meta(conn, NEGOTIATED_KEY, "ocpp1.6")
        assert choose_protocol(conn, preferences) == "ocpp1.6"
        with atomic(conn):
            repo.set_meta(conn, NEGOTIATED_KEY, "ocpp2.0.1")
            repo.outbox_append(conn, "StopTransaction", 3, {}, 0.0, "ocpp1.6")
        assert choose_protocol(conn, preferences) == "ocpp1.6"  # never sent in another
    finally:
        conn.close()


def test_only_the_version_spoken_is_offered_while_a_switch_is_unsafe(tmp_path):
    conn = open_database(tmp_path)
    safe = [False]
    restarts: list[bool] = []
    try:
        negotiation = ProtocolNegotiation(conn, ("ocpp2.0.1", "ocpp1.6"), "ocpp1.6",
                                          lambda: safe[0], lambda: restarts.append(True))
        assert negotiation.offered() == ["ocpp1.6"]
        assert not negotiation.switch_to("ocpp2.0.1") and restarts == []
        safe[0] = True
        assert negotiation.offered() == ["ocpp2.0.1", "ocpp1.6"]
        assert not negotiation.switch_to("ocpp1.6")      # already spoken
        assert not negotiation.switch_to(None)           # the CSMS picked nothing
        assert negotiation.switch_to("ocpp2.0.1") and restarts == [True]
        assert negotiation.switch_to("ocpp2.0.1") and restarts == [True]  # once
        assert repo.get_meta(conn, NEGOTIATED_KEY) == "ocpp2.0.1"
    finally:
        conn.close()


async def test_the_agent_speaks_what_a_201_only_csms_picked_and_says_so(tmp_path):
    async with DevCsms(host="127.0.0.1", port=0, subprotocols=("ocpp2.0.1",)) as csms:
        site = write_site(tmp_path, csms.url, station_id=STATION, console="stdio",
                          ocpp={"protocol": BOTH})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            boot = await csms.wait_for("BootNotification", timeout_s=30)
            assert boot.protocol == "ocpp2.0.1"
            assert boot.payload["reason"] == "ApplicationReset"
            [link] = [line for line in await agent.command("status") if line.startswith("link:")]
            assert "ocpp2.0.1 (offered ocpp1.6 > ocpp2.0.1)" in link, link
            assert await agent.terminate() == 0
            await agent.start()  # the pick is remembered: no second switch
            mark_boot = await csms.wait_for("BootNotification", after=boot.seq + 1,
                                            timeout_s=30)
            assert mark_boot.payload["reason"] == "PowerUp"
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert csms.violations == [], csms.violations


async def test_a_21_first_site_falls_back_to_what_a_201_only_csms_picks(tmp_path):
    async with DevCsms(host="127.0.0.1", port=0, subprotocols=("ocpp2.0.1",)) as csms:
        site = write_site(tmp_path, csms.url, station_id=STATION, console="stdio",
                          ocpp={"protocol": ["ocpp2.1", "ocpp2.0.1"]})
        agent = AgentProcess(site, tmp_path / "agent.log")
        await agent.start()
        try:
            boot = await csms.wait_for("BootNotification", timeout_s=30)
            assert boot.protocol == "ocpp2.0.1"
            [link] = [line for line in await agent.command("status") if line.startswith("link:")]
            assert "ocpp2.0.1 (offered ocpp2.1 > ocpp2.0.1)" in link, link
            assert await agent.terminate() == 0
        finally:
            await agent.kill()
    assert csms.violations == [], csms.violations

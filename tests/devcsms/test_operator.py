"""Operator scripts (issue 10 item 4): parsed with line-numbered errors, turned into CALLs
valid in the station's version, and run against the real agent."""

from __future__ import annotations

import asyncio
import json
from importlib import resources

import jsonschema
import pytest

from devcsms import DevCsms
from devcsms.operator import ScriptError, parse, request, run_for_each_station
from firmware.ocpp import frames
from tests.integration.agent import running_agent, write_site

SCRIPT = """
# a comment
wait 0.1
profile 0 16 A
profile 0 11000 W StationMax 2   # trailing comment
reserve 2 04A2B3C4 10 7
cancel-reservation 7
clear-profile 1
clear-profile
call GetConfiguration {"key": ["HeartbeatInterval"]}
"""


def valid_201(action: str, payload: dict) -> None:
    text = resources.files("ocpp.v201").joinpath("schemas", f"{action}Request.json").read_text(
        encoding="utf-8-sig")
    jsonschema.Draft6Validator(json.loads(text)).validate(payload)


def test_every_step_is_a_valid_call_in_both_versions():
    steps = [s for s in parse(SCRIPT) if s.command not in ("wait", "call")]
    assert len(steps) == 6
    for step in steps:
        action, payload = request(step, "ocpp1.6")
        assert frames.schema_problem(2, action, payload) is None, (action, payload)
        action, payload = request(step, "ocpp2.0.1")
        valid_201(action, payload)


@pytest.mark.parametrize("line, why", [
    ("fly 3", "unknown command"),
    ("wait nan", "finite"),
    ("wait -1", ">= 0"),
    ("profile 1 16 kW", "unit"),
    ("profile 1 16", "usage"),
    ("profile x 16 A", "integer"),
    ("profile 1 inf A", "finite"),
    ("reserve 1 " + "T" * 21 + " 10", "1-20"),
    ("call Reset {not json", "not JSON"),
    ("call Reset [1]", "JSON object"),
])
def test_a_bad_line_names_the_file_line_and_why(line, why):
    with pytest.raises(ScriptError) as error:
        parse("wait 1\n" + line, "x.csms")
    assert str(error.value).startswith("x.csms:2: ") and why in str(error.value)


async def test_the_script_runs_against_the_agent_once_its_boot_is_accepted(tmp_path):
    printed: list[str] = []
    async with DevCsms(host="127.0.0.1", port=0, boot_interval_s=300) as csms:
        steps = parse("profile 0 10 A TxDefault 1\nreserve 2 04A2B3C4 10 7\n")
        site = write_site(tmp_path, csms.url, board="sim-2c.toml")
        async with asyncio.TaskGroup() as tasks:
            operator = tasks.create_task(run_for_each_station(csms, steps, printed.append))
            async with running_agent(site) as cp:
                await cp.until(lambda: len([p for p in printed if " -> " in p]) == 2,
                               timeout_s=20)
                assert [p.profile_id for p in cp.station.profiles] == [1]
                assert cp.station.connectors[2].reservation is not None
            operator.cancel()
    assert all('"Accepted"' in p for p in printed if " -> " in p), printed


def test_the_cli_refuses_a_bad_script_before_it_listens(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "bad.csms"
    script.write_text("profile 1 16 A\nwait forever\n")
    done = subprocess.run([sys.executable, "-m", "devcsms", "--port", "0", "--script",
                           str(script)], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2
    assert f"{script}:2: SECONDS must be a number" in done.stderr
    assert "listening" not in done.stdout


@pytest.mark.parametrize("vendor, message, status", [
    ("org.borne.payment", "PaymentCost", "Accepted"),
    ("org.borne.payment", "PaymentSettled", "Accepted"),
    ("org.borne.payment", "Other", "UnknownMessageId"),
    ("com.example", "PaymentCost", "UnknownVendorId"),
])
def test_the_dev_csms_takes_borne_s_payment_reports(vendor, message, status):
    from devcsms.policy import data_transfer_status

    assert data_transfer_status(vendor, message) == status

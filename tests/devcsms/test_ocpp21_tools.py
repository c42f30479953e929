"""OCPP 2.1 in the development CSMS's data and tools (issue #12 item 4): the version's facts read from
the `ocpp` library's v21 package, `python -m devcsms --ocpp 2.1`, devrun's version names, operator
scripts and the firmware offer in 2.1."""

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import pytest
import websockets
from ocpp.charge_point import snake_to_camel_case
from ocpp.v21.enums import Action

from devcsms import v21
from devcsms.devrun import PROTOCOLS, normalized_protocol
from devcsms.dialects import DIALECTS, SUBPROTOCOLS, dialect_for
from devcsms.firmware import FirmwareOffer
from devcsms.handlers21 import Ocpp21Handlers
from devcsms.handlers201 import Ocpp201Handlers
from devcsms.operator import V21, parse, request
from devcsms.v201 import CHARGING_STATION_ACTIONS as ACTIONS_201
from devcsms.v201 import ERROR_CODES as ERROR_CODES_201
from devcsms.validation import CALL, CALLRESULT, payload_problems, schema_errors

from .station201 import BOOT, TS, raw_station
from .test_cli import REPOSITORY, read_line_containing

SCHEMAS = v21.OCPP21.schema_dir


def test_the_2_1_schemas_are_draft_06_without_a_byte_order_mark():
    files = sorted(SCHEMAS.glob("*.json"))
    assert len(files) == 181  # ocpp 2.1.0 (ocpp201-rules.md §10)
    for path in files:
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), path.name
        assert json.loads(raw)["$schema"] == "http://json-schema.org/draft-06/schema#", path.name


def test_every_station_sent_2_1_action_is_a_library_action_with_request_and_response_schemas():
    assert v21.CHARGING_STATION_ACTIONS == ACTIONS_201 | v21.NEW_CHARGING_STATION_ACTIONS
    for action in v21.CHARGING_STATION_ACTIONS:
        assert action in v21.KNOWN_ACTIONS, action
        assert (SCHEMAS / f"{action}Request.json").is_file() and (SCHEMAS / f"{action}Response.json").is_file()
    # new in 2.1 but sent by the CSMS (decided from the schema descriptions, see devcsms.v21)
    csms_sent = {"NotifyWebPaymentStarted", "NotifyAllowedEnergyTransfer", "RequestBatterySwap", "SetDefaultTariff",
                 "GetTariffs", "ClearTariffs", "ChangeTransactionTariff", "UsePriorityCharging",
                 "UpdateDynamicSchedule", "AFRRSignal", "SetDERControl", "GetDERControl", "ClearDERControl",
                 "AdjustPeriodicEventStream", "GetPeriodicEventStream"}
    assert csms_sent <= v21.KNOWN_ACTIONS
    assert not csms_sent & v21.CHARGING_STATION_ACTIONS
    assert v21.KNOWN_ACTIONS - {a.value for a in Action} == set()


def test_the_2_1_version_keeps_the_2_0_1_error_codes_and_rules():
    assert v21.OCPP21.error_codes == ERROR_CODES_201
    assert v21.OCPP21.forbids_empty_fields  # [J201] §4.1.5 carried over
    assert payload_problems(CALL, "Heartbeat", {"customData": {"vendorId": "x", "a": []}}, v21.OCPP21) == [
        "customData/a: empty array (OCPP-J 2.1 §4.1.5: omit an empty optional field)"
    ]


def test_the_2_1_dialect_is_offered_and_answers_what_2_0_1_answers_plus_notify_settlement():
    assert SUBPROTOCOLS == ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
    dialect = dialect_for("ocpp2.1")
    assert dialect is DIALECTS["ocpp2.1"] and dialect.calls_package == "ocpp.v21"
    assert dialect.refuses_while_rejected
    served_201 = {name for name in dir(Ocpp201Handlers) if hasattr(getattr(Ocpp201Handlers, name), "_on_action")}
    served_21 = {name for name in dir(Ocpp21Handlers) if hasattr(getattr(Ocpp21Handlers, name), "_on_action")}
    assert served_21 == served_201 | {"_on_notify_settlement"}
    assert Ocpp21Handlers._ocpp_version == "2.1" and Ocpp201Handlers._ocpp_version == "2.0.1"


@pytest.mark.parametrize(("text", "expected"), [("2.1", "ocpp2.1"), ("ocpp2.1", "ocpp2.1"), ("2.0.1", "ocpp2.0.1")])
def test_devrun_names_2_1(text, expected):
    assert normalized_protocol(text) == expected
    assert expected in PROTOCOLS


@pytest.mark.parametrize("text", ["2.2", "ocpp2", "21", ""])
def test_devrun_refuses_a_version_it_does_not_speak(text):
    with pytest.raises(ValueError, match="1.6, 2.0.1 or 2.1"):
        normalized_protocol(text)


def test_every_operator_step_is_a_valid_2_1_call():
    script = "profile 0 16 A\nprofile 1 11000 W StationMax 2\nreserve 2 04A2B3C4 10 7\nreserve 0 T1 5\n" \
             "cancel-reservation 7\nclear-profile 1\nclear-profile\ncall GetTariffs {\"evseId\": 1}\n"
    steps = parse(script)
    assert len(steps) == 8
    for step in steps:
        action, payload = request(step, V21)
        assert payload_problems(CALL, action, payload, v21.OCPP21) == [], (action, payload)
        if step.command != "call":
            assert (action, set(payload)) == (lambda a, p: (a, set(p)))(*request(step, "ocpp2.0.1"))


async def test_the_firmware_offer_sends_update_firmware_to_a_2_1_station(tmp_path: Path):
    image = tmp_path / "borne.whl"
    image.write_bytes(b"PK\x03\x04 not really a wheel")
    offer = FirmwareOffer(image, tmp_path / "roots")
    await offer.start()
    try:
        action, payload = offer.request("ocpp2.1")
    finally:
        await offer.close()
    assert action == "UpdateFirmware"
    assert payload_problems(CALL, action, payload, v21.OCPP21) == []


async def test_cli_limited_to_2_1_serves_a_2_1_station_and_refuses_a_2_0_1_offer():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms", "--port", "0", "--ocpp", "2.1", "--receipt-url", "https://r.example/{psp_ref}",
        cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    seen: list[str] = []
    try:
        async with asyncio.timeout(20):
            listening = await read_line_containing(process.stdout, "listening on ", seen)
            url = re.search(r"listening on (ws://127\.0\.0\.1:\d+/ocpp)$", listening.rstrip()).group(1)
            await read_line_containing(process.stdout, "speaks ocpp2.1", seen)
            async with raw_station(url, "CS-21", ["ocpp2.0.1", "ocpp2.1"]) as station:
                assert station.subprotocol == "ocpp2.1"
                await station.result("BootNotification", BOOT)
                settlement = {"pspRef": "R1", "status": "Settled", "settlementAmount": 3.5, "settlementTime": TS}
                assert await station.result("NotifySettlement", settlement) == {"receiptUrl": "https://r.example/R1"}
                await read_line_containing(process.stdout, "CS-21 → NotifySettlement Settled amount=3.5", seen)
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"{url}/CS-OLD", subprotocols=["ocpp2.0.1"]):
                    pass
            process.send_signal(signal.SIGINT)
            _, errors = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, errors.decode()
    assert refused.value.response.status_code == 400


async def test_cli_refuses_a_bad_receipt_url_template_with_status_2():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devcsms", "--port", "0", "--receipt-url", "https://r.example/{card}",
        cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(20):
        _, errors = await process.communicate()
    assert process.returncode == 2
    assert "--receipt-url" in errors.decode() and "Traceback" not in errors.decode()


def test_the_library_spells_receipt_url_receiptURL_so_the_2_1_handler_names_the_field_itself():
    # ocpp 2.1.0's snake_to_camel_case: "_url" → "URL"; NotifySettlementResponse wants "receiptUrl"
    assert snake_to_camel_case({"receipt_url": "u"}) == {"receiptURL": "u"}
    errors = schema_errors(CALLRESULT, "NotifySettlement", {"receiptURL": "u"}, v21.OCPP21)
    assert errors and "receiptURL" in errors[0].message

"""1.6 security whitepaper ExtendedTriggerMessage ([SEC3] §5.5, §6.16-6.17; rules §10)
through the 1.6 dispatcher and a real core (the rig's station)."""

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.ocpp import frames, mapping
from firmware.ocpp.handlers import InboundDispatcher

INFO = mapping.StationInfo("Borne", "Sim")


async def extended(rig, dispatcher, message, connector_id=None):
    payload = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    before = len(rig.runtime.released)
    answer, continuation = await dispatcher(frames.CallFrame("1", "ExtendedTriggerMessage",
                                                             payload))
    if continuation is not None:
        await continuation()
    sent = [mapping.to_call(m, INFO) for m in rig.runtime.released[before:]]
    for action, body in sent:
        assert frames.schema_problem(2, action, body) is None, (action, body)
    return answer, sent


@pytest.mark.parametrize("message, action", [
    ("Heartbeat", "Heartbeat"), ("StatusNotification", "StatusNotification"),
    ("MeterValues", "MeterValues"), ("LogStatusNotification", "LogStatusNotification"),
    ("FirmwareStatusNotification", "SignedFirmwareStatusNotification")])
async def test_sec3_6_17_extended_trigger_sends_the_message_after_accepted(rig, message, action):
    rig.boot()
    answer, sent = await extended(rig, InboundDispatcher(rig.runtime, rig.auth), message)
    assert answer == {"status": "Accepted"}
    assert sent and {a for a, _ in sent} == {action}


async def test_n01_fr_12_extended_trigger_log_status_idle_has_no_request_id(rig):
    rig.boot()
    _, sent = await extended(rig, InboundDispatcher(rig.runtime, rig.auth),
                             "LogStatusNotification")
    assert sent == [("LogStatusNotification", {"status": "Idle"})]


async def test_n01_extended_trigger_log_status_during_an_upload(rig):
    rig.boot()
    rig.harness.handle(ev.LogUploadProgressed("Uploading", 12))
    _, sent = await extended(rig, InboundDispatcher(rig.runtime, rig.auth),
                             "LogStatusNotification")
    assert sent == [("LogStatusNotification", {"status": "Uploading", "requestId": 12})]


async def test_extended_trigger_boot_after_accepted_is_rejected(rig):
    rig.boot()
    answer, sent = await extended(rig, InboundDispatcher(rig.runtime, rig.auth),
                                  "BootNotification")
    assert answer == {"status": "Rejected"} and sent == []


async def test_sign_certificate_without_a_service_is_not_implemented(rig):
    rig.boot()
    answer, sent = await extended(rig, InboundDispatcher(rig.runtime, rig.auth),
                                  "SignChargePointCertificate")
    assert answer == {"status": "NotImplemented"} and sent == []


async def test_sign_certificate_goes_to_a_registered_trigger(rig):
    class Signer:
        requested_messages = frozenset({"SignChargePointCertificate"})
        asked: list[str] = []

        def trigger(self, name):
            async def send():
                self.asked.append(name)
            return send

    signer = Signer()
    rig.boot()
    answer, _ = await extended(rig, InboundDispatcher(rig.runtime, rig.auth, triggers=(signer,)),
                               "SignChargePointCertificate")
    assert answer == {"status": "Accepted"} and signer.asked == ["SignChargePointCertificate"]


async def test_extended_trigger_of_an_unknown_connector_is_rejected(rig):
    rig.boot()
    answer, sent = await extended(rig, InboundDispatcher(rig.runtime, rig.auth),
                                  "StatusNotification", connector_id=9)
    assert answer == {"status": "Rejected"} and sent == []


def test_signed_firmware_status_effect_maps_with_request_id():
    action, payload = mapping.to_call(fx.SendFirmwareStatus("Downloading", signed=True,
                                                            request_id=3), INFO)
    assert frames.schema_problem(2, action, payload) is None

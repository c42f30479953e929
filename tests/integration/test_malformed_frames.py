"""Bad input from the CSMS gets the right OCPP-J 1.6 CALLERROR and the link stays up.

OCPP-J 1.6 §4.2.3 codes (1.6 spellings, not the ocpp library's 2.0.1 ones).
"""

import json

import pytest

from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


async def reply_to(csms, text):
    await csms.send_raw(STATION, text)
    unique_id = json.loads(text)[1] if text.startswith("[2,\"") and text.endswith("]") else None
    return unique_id


@pytest.mark.parametrize("frame, code", [
    ('[2,"m-1","Reset",{"type":"Hard"', "FormationViolation"),           # not JSON, id recoverable
    ('[2,"m-2","FlyToTheMoon",{}]', "NotImplemented"),                  # not a 1.6 action
    ('[2,"m-3","UpdateFirmware",{"location":"ftp://example.invalid/",'
     '"retrieveDate":"2026-01-01T00:00:00Z"}]',
     "NotSupported"),                                                   # 1.6, not offered
    ('[2,"m-3","GetDiagnostics",{"location":"ftp://example.invalid/"}]',
     "PropertyConstraintViolation"),                                    # FTP upload: not offered
    ('[2,"m-4","Reset",{}]', "OccurenceConstraintViolation"),          # required field missing
    ('[2,"m-5","ChangeAvailability",{"connectorId":"1","type":"Operative"}]',
     "TypeConstraintViolation"),                                        # wrong type
    ('[2,"m-6","Reset",{"type":"Sideways"}]', "PropertyConstraintViolation"),  # bad enum value
    ('[2,"m-7","Reset",{"type":"Soft","extra":1}]', "FormationViolation"),     # unknown property
    ('[2,"m-8","RemoteStartTransaction",{"idTag":"ABCDEFGHIJKLMNOPQRSTU"}]',
     "TypeConstraintViolation"),                                        # idTag > CiString20
    ('[2,"m-9","Reset"]', "ProtocolError"),                             # incomplete frame
    ('[2,"m-10","Reset",[]]', "FormationViolation"),                    # payload not an object
])
async def test_bad_call_gets_the_1_6_callerror(csms, tmp_path, frame, code):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await csms.send_raw(STATION, frame)
        unique_id = frame.split('"')[1]
        error = await csms.wait_raw_reply(unique_id, timeout_s=5)
        assert error.message_type == 4
        assert error.error_code == code
        # The connection is still up and the agent still answers.
        assert await csms.call(STATION, ("ChangeConfiguration",
                                         {"key": "HeartbeatInterval", "value": "300"})) == {
            "status": "Accepted"}
        assert cp.agent.link.status.connects == 1


async def test_garbage_without_an_id_is_dropped_and_the_link_stays_up(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        for text in ("hello", "[]", "{}", '[9,"x"]', "[3]", "\x00\x01"):
            await csms.send_raw(STATION, text)
        reply = await csms.call(STATION, ("TriggerMessage", {"requestedMessage": "Heartbeat"}))
        assert reply == {"status": "Accepted"}
        await csms.wait_for("Heartbeat", timeout_s=5)
        assert cp.agent.link.status.connects == 1


async def test_callresult_for_unknown_call_is_ignored(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await csms.send_raw(STATION, '[3,"never-sent",{"status":"Accepted"}]')
        await csms.send_raw(STATION, '[4,"never-sent","GenericError","",{}]')
        assert await csms.call(STATION, ("DataTransfer", {"vendorId": "acme"})) == {
            "status": "UnknownVendorId"}
        assert cp.agent.link.status.connects == 1


async def test_a_frame_larger_than_any_legal_message_is_refused_unparsed(csms, tmp_path):
    """No 1.6 message exceeds 4 MB; a bigger frame closes the socket (1009 message too big)
    before it is parsed, and the agent redials."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        big = '[2,"big","DataTransfer",{"vendorId":"x","data":"' + "x" * (5 * 1024 * 1024) + '"}]'
        await csms.send_raw(STATION, big)
        closed = await csms.wait_disconnected(STATION, timeout_s=10)
        assert closed is not None and closed.close_code == 1009
        await cp.until(lambda: cp.agent.link.status.connects == 2, timeout_s=10)
        assert await csms.call(STATION, ("DataTransfer", {"vendorId": "acme"})) == {
            "status": "UnknownVendorId"}

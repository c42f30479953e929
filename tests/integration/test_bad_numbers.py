"""Numbers that do not fit, and text that is not text, from the CSMS and the console.

[16] §5.3 ChangeConfiguration: a value that is not valid → Rejected, and a rejected change
changes nothing (nothing stored, no timer re-armed, the link untouched). OCPP-J 1.6 §4.2.3:
a CALL that cannot be used gets exactly one CALLERROR with a 1.6 code and the connection
stays up (ocpp16-rules.md §2.3: never a disconnect):

- FormationViolation: the text is not JSON (RFC 8259 §6: ``NaN`` and ``Infinity`` are not
  JSON numbers).
- TypeConstraintViolation: a field whose value is not of its type: an integer of 5,000
  digits or ≥ 2^63 (no 64-bit integer holds it), 1e400 (no double holds it), a string with
  a lone surrogate (not Unicode text, cannot be UTF-8 encoded).
"""

import pytest

from firmware.store import repositories as repo
from firmware.store.db import open_database
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
HUGE = "9" * 400
BIG_INT = "7" * 5000  # over Python's 4,300-digit limit for int(str)


async def get_value(csms, key):
    reply = await csms.call(STATION, ("GetConfiguration", {"key": [key]}))
    return reply["configurationKey"][0]["value"]


async def connected(csms, cp):
    await csms.wait_for("StatusNotification", timeout_s=10)
    assert cp.agent.link.status.connects == 1


def replies_to(csms, unique_id):
    return [f for f in csms.messages(station=STATION)
            if f.message_type in (3, 4) and f.unique_id == unique_id]


@pytest.mark.parametrize("key", ["WebSocketPingInterval", "HeartbeatInterval",
                                 "MeterValueSampleInterval", "ClockAlignedDataInterval",
                                 "TransactionMessageRetryInterval", "ConnectionTimeOut"])
async def test_5_3_a_value_that_does_not_fit_is_rejected_and_nothing_changes(csms, tmp_path,
                                                                             key):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await connected(csms, cp)
        before = await get_value(csms, key)
        stored = repo.load_configuration(cp.agent.conn)
        for value in (HUGE, "-" + HUGE, "1" + "0" * 19, "1_0", "\uff13"):
            reply = await csms.call(STATION, ("ChangeConfiguration", {"key": key, "value": value}))
            assert reply == {"status": "Rejected"}, value
        assert await get_value(csms, key) == before
        assert repo.load_configuration(cp.agent.conn) == stored
        assert cp.agent.link.status.connects == 1


async def test_after_a_rejected_interval_a_session_still_reaches_charging(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await connected(csms, cp)
        for key in ("HeartbeatInterval", "MeterValueSampleInterval", "ClockAlignedDataInterval"):
            assert await csms.call(STATION, ("ChangeConfiguration",
                                             {"key": key, "value": HUGE})) == {"status": "Rejected"}
        await cp.console("sim plug 1")
        await cp.console("sim tap 04A2B3C4")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)


async def test_console_config_set_names_the_range(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await connected(csms, cp)
        reply = await cp.agent.console.execute(f"config set WebSocketPingInterval {HUGE}")
        assert reply == ["ERROR: WebSocketPingInterval: must be an integer from 0 to 3600 "
                         "(seconds, 0 = off)"]
        assert cp.station.config.get("WebSocketPingInterval") == "0"
        assert cp.agent.link.status.connects == 1


async def test_a_stored_value_that_does_not_fit_does_not_brick_start_up(csms, tmp_path):
    """A value stored before ranges existed: the agent starts with the site's value,
    connects, and repairs the database."""
    site = write_site(tmp_path, csms.url)
    conn = open_database(tmp_path / "state")
    repo.save_configuration(conn, "WebSocketPingInterval", HUGE)
    repo.save_configuration(conn, "HeartbeatInterval", "-" + HUGE)
    conn.close()
    async with running_agent(site) as cp:
        await connected(csms, cp)
        assert await get_value(csms, "WebSocketPingInterval") == "0"
        assert await get_value(csms, "HeartbeatInterval") == "300"
        stored = repo.load_configuration(cp.agent.conn)
        assert stored["WebSocketPingInterval"] == "0" and stored["HeartbeatInterval"] == "300"


PROFILE = ('{{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile",'
           '"chargingProfileKind":"Relative","chargingSchedule":{{"chargingRateUnit":"A",'
           '"chargingSchedulePeriod":[{{"startPeriod":0,"limit":{limit}}}]}}}}')


@pytest.mark.parametrize("frame, code", [
    # > 4,300 digits: json.loads raises ValueError (not JSONDecodeError) today.
    ('[2,"n-1","ChangeAvailability",{"connectorId":' + BIG_INT + ',"type":"Operative"}]',
     "TypeConstraintViolation"),
    ('[2,"n-2","RemoteStopTransaction",{"transactionId":-' + BIG_INT + '}]',
     "TypeConstraintViolation"),
    # Values are checked before the structure: the unknown property is not reached.
    ('[2,"n-3","Reset",{"type":"Soft","x":' + BIG_INT + '}]', "TypeConstraintViolation"),
    ('[2,"n-4","FlyToTheMoon",{"x":' + BIG_INT + '}]', "NotImplemented"),
    ('[2,"n-5","SendLocalList",{"listVersion":' + BIG_INT + ',"updateType":"Full"}]',
     "TypeConstraintViolation"),
    # Does not fit 64 bits (SQLite's INTEGER): OverflowError in the store today.
    ('[2,"n-6","SendLocalList",{"listVersion":9223372036854775808,"updateType":"Full"}]',
     "TypeConstraintViolation"),
    ('[2,"n-7","SendLocalList",{"listVersion":-9223372036854775809,"updateType":"Full"}]',
     "TypeConstraintViolation"),
    ('[2,"n-8","RemoteStartTransaction",{"idTag":"A","chargingProfile":'
     + PROFILE.format(limit="NaN") + '}]', "FormationViolation"),
    ('[2,"n-9","RemoteStartTransaction",{"idTag":"A","chargingProfile":'
     + PROFILE.format(limit="Infinity") + '}]', "FormationViolation"),
    ('[2,"n-10","RemoteStartTransaction",{"idTag":"A","chargingProfile":'
     + PROFILE.format(limit="-Infinity") + '}]', "FormationViolation"),
    ('[2,"n-11","RemoteStartTransaction",{"idTag":"A","chargingProfile":'
     + PROFILE.format(limit="1e400") + '}]', "TypeConstraintViolation"),
    ('[2,"n-12","RemoteStartTransaction",{"idTag":"A\\udc80"}]', "TypeConstraintViolation"),
    ('[2,"n-13","SendLocalList",{"listVersion":1,"updateType":"Full",'
     '"localAuthorizationList":[{"idTag":"\\ud800B","idTagInfo":{"status":"Accepted"}}]}]',
     "TypeConstraintViolation"),
    ('[2,"n-14","ChangeConfiguration",{"key":"AuthorizationKey","value":"\\udfff' + "a" * 31
     + '"}]', "TypeConstraintViolation"),
    ('[2,"n-15","DataTransfer",{"vendorId":"x","data":"\\udc00"}]', "TypeConstraintViolation"),
])
async def test_a_value_that_does_not_fit_gets_one_callerror_and_the_link_stays(csms, tmp_path,
                                                                             frame, code):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await connected(csms, cp)
        version = await csms.call(STATION, ("GetLocalListVersion", {}))
        config = cp.station.config.as_dict()
        await csms.send_raw(STATION, frame)
        unique_id = frame.split('"')[1]
        error = await csms.wait_raw_reply(unique_id, timeout_s=5)
        assert error.message_type == 4
        assert error.error_code == code, error.raw
        # Still the same connection, still answering, and nothing changed.
        assert await csms.call(STATION, ("GetLocalListVersion", {})) == version
        assert cp.station.config.as_dict() == config
        assert len(replies_to(csms, unique_id)) == 1
        assert cp.agent.link.status.connects == 1
        assert csms.messages("StartTransaction") == []


@pytest.mark.parametrize("limit", ["1e300", "-1e300", "1.7976931348623157e308", "5e-324"])
async def test_a_limit_a_double_holds_is_checked_as_the_schema_intends(csms, tmp_path, limit):
    """Found by test_frame_fuzz (seed 4): multipleOf 0.1 on 1e300 raised
    decimal.DivisionImpossible inside the schema check (28 digits of precision). A
    finite double is a number of the right type: the schema decides (multipleOf 0.1,
    exactly), and the CALL is answered, not a crash."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await connected(csms, cp)
        frame = ('[2,"lim-1","RemoteStartTransaction",{"idTag":"A","chargingProfile":'
                 + PROFILE.format(limit=limit) + '}]')
        await csms.send_raw(STATION, frame)
        reply = await csms.wait_raw_reply("lim-1", timeout_s=5)
        if reply.message_type == 4:
            assert reply.error_code == "PropertyConstraintViolation", reply.raw
        assert not cp.task.done()
        assert cp.agent.link.status.connects == 1

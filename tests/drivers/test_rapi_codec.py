"""OpenEVSE RAPI codec (frame format from hardware.md §3.5, lincomatic/open_evse)."""

from __future__ import annotations

import pytest

from drivers.pilot import rapi
from hal.interfaces import PilotState


def test_xor_checksum_literals():
    assert rapi.encode_command("GS") == b"$GS^30\r"
    assert rapi.encode_command("FE") == b"$FE^27\r"
    assert rapi.parse_line("$NK^21") == rapi.Reply(False, ())   # the firmware's bad-frame reply
    assert rapi.encode_command("SC", 16, "V", seq=0x0A) == b"$SC 16 V :0A^" + \
        f"{rapi.xor_checksum('$SC 16 V :0A'):02X}".encode() + b"\r"


def test_parse_replies_notifications_and_sequence_ids():
    body = "$OK 03 1234 03 0140 :0A"
    line = f"{body}^{rapi.xor_checksum(body):02X}"
    assert rapi.parse_line(line) == rapi.Reply(True, ("03", "1234", "03", "0140"), 0x0A)
    body = "$AT 03 03 32 0140"
    assert rapi.parse_line(f"{body}^{rapi.xor_checksum(body):02x}") == \
        rapi.Notification("AT", ("03", "03", "32", "0140"))
    body = "$ST 02"
    assert rapi.parse_line(f"{body}*{rapi.sum_checksum(body):02X}") == rapi.Notification("ST", ("02",))


@pytest.mark.parametrize("line,reason", [
    ("$OK^21", "checksum mismatch"),
    ("$OK", "no checksum"),
    ("$OK^2", "malformed checksum"),
    ("$OK^ZZ", "malformed checksum"),
    ("OK^21", "does not start"),
    ("$^24", "no command"),
])
def test_parse_bad_lines(line, reason):
    result = rapi.parse_line(line)
    assert isinstance(result, rapi.BadLine) and reason in result.reason


def test_decoder_noise_dollar_restart_and_overlong_lines():
    d = rapi.LineDecoder()
    ok = b"$OK^20\r"
    assert rapi.parse_line("$OK^20") == rapi.Reply(True, ())
    out = d.feed(b"\xff\x00garbage" + ok + b"$GS 0" + ok + b"$" + b"A" * 100 + b"\r" + ok
                 + b"$OK\x01^20\r")
    kinds = [type(m).__name__ for m in out]
    assert kinds == ["Reply", "BadLine", "Reply", "BadLine", "Reply", "BadLine"]


def test_status_mapping():
    S = rapi.EvseStatus
    assert S(0x01).pilot() is PilotState.A
    assert S(0x03, 0x03, 0x0140).pilot() is PilotState.C and S(0x03, 3, 0x0140).relay_closed
    assert S(0x03).relay_closed and not S(0x03, 3, 0x0100).relay_closed
    assert S(0xFE, 0x02, 0x0100).pilot() is PilotState.B       # sleeping, EV connected
    assert S(0xFE, None, 0x0000).pilot() is PilotState.A
    assert S(0xFE).pilot() is None                              # sleeping, nothing known
    assert S(0xFF).pilot() is PilotState.F                      # disabled: -12 V
    for fault in (0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0E):
        # A controller fault is reported as a fault, never as an unplug (issue #8 item 5)
        assert S(fault).pilot() is None and S(fault).is_fault
    assert S(0x06, None, 0x0102).pilot() is PilotState.B        # GFCI trip, EV still there
    assert S(0x06, 0x03, 0x0102).pilot() is PilotState.C
    assert S(0x00).pilot() is None
    assert rapi.status_from_gs(("03", "120", "03", "0140")) == S(3, 3, 0x140)
    assert rapi.status_from_gs(("01", "0")) == S(1)              # old firmware
    assert rapi.status_from_gs(("zz",)) is None
    assert rapi.status_from_notification(rapi.Notification("ST", ("fe",))) == S(0xFE)
    assert rapi.status_from_notification(rapi.Notification("AT", ("01",))) is None


@pytest.mark.parametrize("state, error_code", [
    (0x05, "EVCommunicationError"), (0x06, "GroundFailure"), (0x07, "GroundFailure"),
    (0x08, "PowerSwitchFailure"), (0x09, "GroundFailure"), (0x0A, "HighTemperature"),
    (0x0B, "OverCurrentFailure"), (0x0E, "PowerSwitchFailure")])
def test_controller_faults_map_to_their_ocpp_error_code_7_6(state, error_code):
    fault = rapi.EvseStatus(state).fault()
    assert (fault.error_code, fault.vendor_error_code) == (error_code, f"OpenEVSE {state:02X}")
    assert rapi.EvseStatus(0x03).fault() is None
    assert rapi.EvseStatus(0x03, 3, 0x0142).fault().error_code == "OtherError"  # hard-fault flag



def test_encode_rejects_bad_input():
    with pytest.raises(ValueError):
        rapi.encode_command("S")
    with pytest.raises(ValueError):
        rapi.encode_command("SC", 1, seq=300)

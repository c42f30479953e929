"""The host codec of the MCU protocol (drivers/pilot/mcu_codec.py) against the byte strings
of the firmware's codec tests (tests/mcu/test_protocol.py), and against the firmware codec
itself (firmware/mcu/protocol.py) on random frames: two codecs, one wire format."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.pilot import mcu_codec as mc
from firmware.mcu import protocol as fw
from hal.interfaces import ControllerFault

OFFER_16A = bytes.fromhex("a5040101 00a0 6c64")        # seq 1, OFFER_CURRENT 160 dA
ALLOW_SEQ2 = bytes.fromhex("a5020202e4dc")             # seq 2, ALLOW_ENERGY
STATE_SEQ7 = bytes.fromhex("a50b07814307000000a020012c37e8")   # C, closed, mirror, allowed


def test_crc16_ccitt_false_check_value():
    assert mc.crc16(b"123456789") == 0x29B1


def test_offer_and_allow_frames_match_the_documented_bytes():
    assert mc.encode(1, mc.CMD_OFFER_CURRENT, mc.encode_u16(160)) == OFFER_16A
    assert mc.encode(2, mc.CMD_ALLOW_ENERGY) == ALLOW_SEQ2


def test_state_frame_decodes_to_the_documented_fields():
    [frame] = mc.FrameDecoder().feed(STATE_SEQ7)
    assert (frame.seq, frame.kind) == (7, mc.MSG_STATE)
    state = mc.decode_state(frame.payload)
    assert state == mc.McuState(pilot="C", contactor=True, mirror=True, energy_allowed=True,
                                faults=0, offered_da=160, cable_a=32, uptime_s=300)
    assert mc.encode(7, mc.MSG_STATE, mc.encode_state(state)) == STATE_SEQ7


def test_ack_echoes_the_seq_in_header_and_payload():
    assert mc.ack(mc.Frame(5, mc.CMD_FORBID_ENERGY)) == fw.encode(5, fw.MSG_ACK, bytes([5, 0]))


def test_decoder_resyncs_after_garbage_and_a_bad_crc_split_across_chunks():
    bad = ALLOW_SEQ2[:-1] + b"\xdd"
    dec = mc.FrameDecoder()
    assert dec.feed(b"\x00\xff" + bad + ALLOW_SEQ2[:3]) == []
    assert dec.feed(ALLOW_SEQ2[3:]) == [mc.Frame(2, mc.CMD_ALLOW_ENERGY)]
    assert dec.errors >= 2


def test_decoder_buffer_stays_bounded_on_a_hostile_stream():
    dec = mc.FrameDecoder()
    assert dec.feed(bytes([mc.SOF, 0xFF]) + b"\xa5" * 300 + bytes([mc.SOF, 40])) == []
    assert dec.buffered <= mc.MAX_LEN + 4


def test_payload_parsers_reject_bad_input_with_their_own_error():
    bad = [(mc.decode_state, b"C\x07"), (mc.decode_pilot, b"Z"), (mc.decode_pilot, b""),
           (mc.decode_contactor, b"\x02\x00"), (mc.decode_version, b"\x01"),
           (mc.decode_version, b"\x01\x00\x07"), (mc.decode_self_test, b"\x01"),
           (mc.decode_u16, b"\x00")]
    for parse, payload in bad:
        try:
            parse(payload)
        except mc.McuPayloadError:
            continue
        raise AssertionError(f"{parse.__name__}({payload!r}) accepted")
    state = bytearray(mc.encode_state(mc.McuState("A", False, False, False, 0, 0, 0, 0)))
    state[0] = ord("X")
    try:
        mc.decode_state(bytes(state))
    except mc.McuPayloadError:
        pass
    else:
        raise AssertionError("pilot letter X accepted")


def test_version_payload():
    version = mc.decode_version(bytes([1, 0]) + b"0.1.0")
    assert version == mc.McuVersion(1, 0, "0.1.0")
    assert version.describe() == "protocol 1.0, firmware 0.1.0"


def test_fault_mapping_picks_the_most_severe_and_names_the_rest():
    assert mc.controller_fault(0) is None
    fault = mc.controller_fault(fw.FAULT_DIODE | fw.FAULT_RCD)
    assert fault == ControllerFault("GroundFailure", "McuRcd",
                                    "residual current (RCD) tripped (also McuDiode)")
    assert mc.controller_fault(fw.FAULT_MIRROR).error_code == "PowerSwitchFailure"
    assert mc.controller_fault(fw.FAULT_PILOT_E).error_code == "EVCommunicationError"
    assert mc.controller_fault(0x8000) == ControllerFault("OtherError", "McuUnknownFault",
                                                          "fault bits 0x8000")


def test_every_firmware_fault_bit_has_a_host_mapping():
    assert {bit for bit, _ in fw.FAULT_NAMES} == {bit for bit, *_ in mc.FAULTS}


def test_seq_counter_starts_at_0_and_wraps_to_1():
    counter = mc.SeqCounter()
    seqs = [counter.next() for _ in range(258)]
    assert seqs[:2] == [0, 1] and seqs[255] == 255 and seqs[256] == 1 and 0 not in seqs[1:]


def test_filter_drops_a_retransmission_and_an_event_older_than_the_snapshot():
    f = mc.ReceiveFilter()
    event = mc.Frame(5, mc.MSG_PILOT_CHANGED, b"C")
    assert f.accept(event) and not f.accept(event)          # retransmitted: acked, not news
    snapshot = mc.Frame(7, mc.MSG_KEEPALIVE, b"")
    assert f.accept(snapshot)
    f.applied(snapshot)
    assert not f.accept(mc.Frame(6, mc.MSG_PILOT_CHANGED, b"B"))    # queued behind a lost ack
    assert f.accept(mc.Frame(4, mc.MSG_SELF_TEST, b"\x01\x00\x00"))  # a verdict is never stale
    assert f.accept(mc.Frame(8, mc.MSG_PILOT_CHANGED, b"B"))
    assert (f.duplicates, f.stale) == (1, 1)


def test_filter_drops_the_retransmitted_first_event_of_a_boot_but_follows_a_restart():
    f = mc.ReceiveFilter()
    assert f.accept(mc.Frame(0, mc.MSG_PILOT_CHANGED, b"F"))   # first contact: news
    for seq in (1, 2, 3):
        snap = mc.Frame(seq, mc.MSG_STATE)
        assert f.accept(snap)
        f.applied(snap)
    # the MCU's boot event, retransmitted because nobody acked it: older than the snapshots
    assert not f.accept(mc.Frame(0, mc.MSG_PILOT_CHANGED, b"F"))
    f.reset()                                                  # a snapshot showed a restart
    assert f.accept(mc.Frame(1, mc.MSG_FAULT, b"\x00\x20"))
    assert f.accept(mc.Frame(0, mc.MSG_KEEPALIVE, b""))         # a SEQ-0 snapshot always applies


def test_filter_across_the_wrap():
    assert mc.seq_newer(1, 255) and mc.seq_newer(3, 250) and not mc.seq_newer(250, 3)
    assert mc.seq_newer(0, 17) and not mc.seq_newer(17, 17)


@settings(max_examples=200, derandomize=True)
@given(seq=st.integers(0, 255), kind=st.integers(0, 255),
       payload=st.binary(max_size=mc.MAX_LEN - 2),
       noise=st.binary(max_size=20), cut=st.integers(0, 60))
def test_host_and_firmware_codecs_agree_on_random_frames(seq, kind, payload, noise, cut):
    host_wire = mc.encode(seq, kind, payload)
    assert host_wire == fw.encode(seq, kind, payload)
    stream = noise.replace(bytes([mc.SOF]), b"") + host_wire
    host, firm = mc.FrameDecoder(), fw.Decoder()
    got_host = host.feed(stream[:cut]) + host.feed(stream[cut:])
    got_firm = firm.feed(stream[:cut]) + firm.feed(stream[cut:])
    assert [(f.seq, f.kind, f.payload) for f in got_host] == [(seq, kind, payload)]
    assert [(f.seq, f.kind, f.payload) for f in got_firm] == [(seq, kind, payload)]


@settings(max_examples=100, derandomize=True)
@given(pilot=st.sampled_from("ABCDEF"), flags=st.tuples(st.booleans(), st.booleans(),
                                                         st.booleans()),
       faults=st.integers(0, 0xFFFF), offered=st.integers(0, 800), cable=st.integers(0, 255),
       uptime=st.integers(0, 0xFFFF))
def test_state_payload_is_the_same_on_both_sides(pilot, flags, faults, offered, cable, uptime):
    payload = fw.encode_state(pilot, *flags, faults, offered, cable, uptime)
    state = mc.decode_state(payload)
    assert state == mc.McuState(pilot, *flags, faults, offered, cable, uptime)
    assert mc.encode_state(state) == payload


def test_fault_view_reports_at_once_and_clears_after_the_hold():
    view = mc.FaultView(fault_clear_s=1.0)
    assert view.update(0, 0, 0.0) == (False, None) and view.reported is None
    assert view.update(fw.FAULT_RCD, 0, 1.0)[0] and view.reported.vendor_error_code == "McuRcd"
    assert view.update(0, 0, 1.3) == (False, pytest.approx(1.0))           # held: F ended, may come back
    assert view.update(fw.FAULT_RCD, 0, 1.5) == (False, None)  # came back: no flap
    assert view.update(0, 0, 1.6) == (False, pytest.approx(1.0))
    assert view.update(0, 0, 2.7) == (True, None) and view.reported is None


def test_fault_view_reports_a_restart_and_absorbs_its_boot_host_silent_bit():
    view = mc.FaultView(fault_clear_s=1.0)
    view.update(0, 0, 0.0)
    assert view.update(fw.FAULT_HOST_SILENT, 1, 5.0) == (True, pytest.approx(1.0))
    assert view.reported == mc.RESTART_FAULT
    assert view.update(0, 1, 5.2)[0] is False and view.reported == mc.RESTART_FAULT
    view.update(0, 1, 6.1)                                   # window over: clear is held
    assert view.reported == mc.RESTART_FAULT
    assert view.update(0, 1, 7.2) == (True, None) and view.reported is None
    # a real fault right after a restart is itself, not the restart
    assert view.update(fw.FAULT_RCD, 2, 8.0)[0] and view.reported.vendor_error_code == "McuRcd"
    # with no hold at all the restart is still reported once
    quick = mc.FaultView(fault_clear_s=0.0)
    quick.update(0, 0, 0.0)
    assert quick.update(0, 1, 1.0)[0] and quick.reported == mc.RESTART_FAULT
    assert quick.update(0, 1, 1.1)[0] and quick.reported is None


def test_uptime_wrap_is_not_a_restart():
    assert mc.uptime_went_back(300, 2) and not mc.uptime_went_back(65530, 3)
    assert not mc.uptime_went_back(5, 5)

"""The sans-I/O ZVT dialogue (hardware.md §4.4: PT streams 04 FF, 04 0F, 06 0F; the ECR
ACKs each), fed byte strings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ProtocolError
from drivers.payment import zvt_codec as zvt
from drivers.payment.zvt_serial_framing import ZvtTimeouts
from drivers.payment.zvt_session import ZvtDialogue

ACK = zvt.ACK
INFO = bytes.fromhex("04 0F 0C 27 00 04 00 00 00 00 25 00 87 02 49")


def test_pre_authorisation_happy_path():
    d = ZvtDialogue(zvt.pre_authorisation(2500))
    timeouts = ZvtTimeouts()
    assert d.timeout_s(timeouts) == 15.0                 # T2 until the terminal's ACK
    assert d.receive(ACK) == []
    assert d.timeout_s(timeouts) == 180.0                # T4 while the customer acts
    assert d.receive(bytes.fromhex("04 FF 02 0A 00")) == [ACK]
    assert d.receive(INFO) == [ACK]
    assert d.receive(bytes.fromhex("06 0F 00")) == [ACK]
    assert d.done and d.result.failure_code is None
    assert d.result.status.receipt_number == 249 and d.result.intermediate == [0x0A]
    assert d.receive(bytes.fromhex("06 0F 00")) == []    # a repeat after the end


def test_refused_and_aborted():
    d = ZvtDialogue(zvt.pre_authorisation(2500))
    assert d.receive(bytes.fromhex("84 83 00")) == [] and d.done
    assert d.result.failure_code == 0x83
    d = ZvtDialogue(zvt.pre_authorisation(2500))
    d.receive(ACK)
    assert d.abort() == bytes.fromhex("06 B0 00") and d.abort() is None
    assert d.receive(ACK) == []                          # the answer to our 06 B0
    assert d.receive(bytes.fromhex("06 1E 01 6C")) == [ACK] and d.done
    assert d.result.failure_code == zvt.RESULT_ABORTED


def test_declined_in_the_status_information():
    d = ZvtDialogue(zvt.pre_authorisation(2500))
    d.receive(ACK)
    d.receive(bytes.fromhex("04 0F 02 27 71"))
    d.receive(bytes.fromhex("06 0F 00"))
    assert d.result.failure_code == 0x71


def test_status_enquiry_may_answer_with_the_completion_directly():
    d = ZvtDialogue(zvt.status_enquiry())
    assert d.receive(bytes.fromhex("06 0F 05 F0 F0 F1 41 00")) == [ACK] and d.done
    assert d.result.completion.software_version == "A"


def test_abort_command_alone_is_done_on_the_ack():
    d = ZvtDialogue(zvt.abort(), expects_completion=False)
    assert d.receive(ACK) == [] and d.done and d.result.accepted


def test_unknown_and_undecodable_messages_are_answered_not_crashed_on():
    d = ZvtDialogue(zvt.pre_authorisation(2500))
    d.receive(ACK)
    assert d.receive(bytes.fromhex("06 99 00")) == [bytes.fromhex("84 83 00")]
    assert d.receive(bytes.fromhex("04 0F 02 04 00")) == [bytes.fromhex("84 9A 00")]
    assert d.receive(bytes.fromhex("04 0F 01")) == [bytes.fromhex("84 9A 00")]
    assert d.receive(bytes.fromhex("04 FF 01 0A")) == [ACK]     # a good one resets the count
    d.receive(b"\x04")
    d.receive(b"\x04")
    with pytest.raises(ProtocolError):
        d.receive(b"\x04")


# ---------------------------------------------------------------------- fuzz
known_heads = st.sampled_from([b"\x04\xff", b"\x04\x0f", b"\x06\x0f", b"\x06\x1e", b"\x06\xd1",
                               b"\x06\xd3", b"\x80\x00", b"\x84\x83", b"\x06\x99"])
apdus = st.one_of(
    st.builds(lambda head, data: zvt.encode_apdu(head[0], head[1], data), known_heads,
              st.binary(max_size=80)),
    st.binary(max_size=20))


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.lists(apdus, max_size=12))
def test_fuzz_dialogue_answers_anything_with_acks_or_raises_protocol_error(messages):
    d = ZvtDialogue(zvt.pre_authorisation(2500))
    for raw in messages:
        try:
            replies = d.receive(raw)
        except ProtocolError:
            return
        for reply in replies:
            assert reply == ACK or reply[0] == 0x84

"""CALLs answered outside the core (``firmware.ocpp.services``), in both versions'
dispatchers: schema-checked before the service sees them, its answer checked after, its
refusals in the version's spelling."""

from __future__ import annotations

from typing import Any

import pytest

from firmware.ocpp import frames
from firmware.ocpp.handlers import InboundDispatcher
from firmware.ocpp.services import Continuation
from firmware.ocpp.v201.errors import CallError
from firmware.ocpp.v201.frames import CallFrame
from firmware.ocpp.v201.inbound import V201InboundDispatcher


class Certificates:
    """A service with a scripted answer: what it was asked, and what it says."""

    actions = frozenset({"GetInstalledCertificateIds"})

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self._answer = answer

    async def answer(self, action: str, payload: dict[str, Any]
                     ) -> tuple[dict[str, Any], Continuation | None]:
        self.asked.append((action, payload))
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer, None


def dispatcher_201(rig, service):
    return V201InboundDispatcher(rig.runtime, rig.auth, rig.directory, services=(service,))


async def test_201_a_service_answers_its_action(rig):
    service = Certificates({"status": "NotFound"})
    answer, _ = await dispatcher_201(rig, service)(CallFrame(
        "1", "GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}))
    assert answer == {"status": "NotFound"}
    assert service.asked == [("GetInstalledCertificateIds",
                              {"certificateType": ["CSMSRootCertificate"]})]


async def test_201_a_payload_breaking_the_schema_never_reaches_the_service(rig):
    service = Certificates({"status": "NotFound"})
    with pytest.raises(CallError) as refused:
        await dispatcher_201(rig, service)(CallFrame(
            "1", "GetInstalledCertificateIds", {"certificateType": ["NoSuchType"]}))
    assert refused.value.code == "PropertyConstraintViolation"
    assert service.asked == []


async def test_201_an_invalid_answer_of_a_service_is_an_internal_error(rig):
    with pytest.raises(CallError) as refused:
        await dispatcher_201(rig, Certificates({"status": "Maybe"}))(CallFrame(
            "1", "GetInstalledCertificateIds", {}))
    assert refused.value.code == "InternalError"


async def test_201_a_refusal_in_16_spelling_is_renamed(rig):
    service = Certificates(frames.CallErrorReply("OccurenceConstraintViolation", "no"))
    with pytest.raises(CallError) as refused:
        await dispatcher_201(rig, service)(CallFrame("1", "GetInstalledCertificateIds", {}))
    assert refused.value.code == "OccurrenceConstraintViolation"


def test_two_services_for_one_action_is_a_wiring_bug(rig):
    with pytest.raises(ValueError):
        V201InboundDispatcher(rig.runtime, rig.auth, rig.directory,
                              services=(Certificates({}), Certificates({})))


def test_a_service_cannot_take_an_action_of_the_core(rig):
    class Resets(Certificates):
        actions = frozenset({"Reset"})

    with pytest.raises(ValueError):
        V201InboundDispatcher(rig.runtime, rig.auth, rig.directory, services=(Resets({}),))


async def test_16_a_service_answers_its_action_and_its_answer_is_checked(rig):
    service = Certificates({"status": "NotFound"})
    dispatcher = InboundDispatcher(rig.runtime, rig.auth, services=(service,))
    answer, _ = await dispatcher(frames.CallFrame(
        "1", "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}))
    assert answer == {"status": "NotFound"}
    with pytest.raises(frames.CallErrorReply) as refused:
        await dispatcher(frames.CallFrame("2", "GetInstalledCertificateIds", {}))
    assert refused.value.code == "OccurenceConstraintViolation"  # 1.6 spelling
    assert len(service.asked) == 1


async def test_16_without_a_service_the_action_is_not_supported(rig):
    dispatcher = InboundDispatcher(rig.runtime, rig.auth)
    with pytest.raises(frames.CallErrorReply) as refused:
        await dispatcher(frames.CallFrame(
            "1", "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}))
    assert refused.value.code == "NotSupported"

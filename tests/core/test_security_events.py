"""Security events through the core and both adapters (security-whitepaper.md §7)."""

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core import security_events
from firmware.ocpp import frames, mapping
from firmware.ocpp.v201 import outbound
from firmware.ocpp.v201.schemas import payload_problem
from tests.core.harness import Harness

INFO = mapping.StationInfo("Borne", "Sim")


def event_effects(kind: str, tech_info: str | None = None) -> list[fx.SendSecurityEvent]:
    h = Harness()
    out = h.handle(ev.SecurityEventOccurred(kind, tech_info))
    return [e for e in out if isinstance(e, fx.SendSecurityEvent)]


def test_a04_fr_02_a_critical_event_is_queued_durably():
    [effect] = event_effects("FirmwareUpdated", "1.2.3")
    assert effect.critical and effect.transaction_related


def test_a_non_critical_event_is_sent_but_not_queued():
    [effect] = event_effects("InvalidMessages")
    assert not effect.critical and not effect.transaction_related


def test_critical_in_either_version_is_critical():
    # 1.6 says N, 2.0.1 says Y ([DM201]): queued with guaranteed delivery either way.
    [effect] = event_effects("InvalidCsmsCertificate")
    assert effect.critical


def test_a04_fr_01_tech_info_is_cut_to_255_characters():
    [effect] = event_effects("InvalidMessages", "x" * 1000)
    assert effect.tech_info == "x" * 255


def test_an_unknown_kind_is_a_bug_of_the_reporting_part():
    with pytest.raises(ValueError):
        event_effects("SomethingHappened")


@pytest.mark.parametrize("kind", sorted(security_events.KINDS))
def test_every_kind_makes_a_valid_16_security_event_notification(kind):
    effect = fx.SendSecurityEvent(kind, 1_767_225_600.0, "why", kind in security_events.CRITICAL)
    action, payload = mapping.to_call(effect, INFO)
    assert action == "SecurityEventNotification"
    assert frames.schema_problem(2, action, payload) is None


@pytest.mark.parametrize("kind", sorted(security_events.KINDS))
def test_every_kind_makes_a_valid_201_security_event_notification(kind):
    effect = fx.SendSecurityEvent(kind, 1_767_225_600.0, None, kind in security_events.CRITICAL)
    message = outbound.to_call(effect, INFO)
    assert message is not None
    action, payload = message
    assert (action, payload["type"]) == ("SecurityEventNotification", kind)
    assert "techInfo" not in payload
    assert payload_problem(action, "Request", payload) is None


def test_16_uses_the_whitepaper_names_where_201_renamed_them():
    effect = fx.SendSecurityEvent("InvalidCsmsCertificate", 1_767_225_600.0)
    assert mapping.to_call(effect, INFO)[1]["type"] == "InvalidCentralSystemCertificate"

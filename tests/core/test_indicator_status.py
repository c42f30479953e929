"""What the connector's indicator is told (``fx.ShowStatus``): its OCPP status, except
"Authorizing" while a tap on it waits for the CSMS's Authorize answer. OCPP 1.6 has no
such status ([16] ChargePointStatus: the connector stays Preparing), so the CSMS
sees Preparing; only the light at the socket tells the driver the card was read."""

from __future__ import annotations

from firmware.core import effects as fx

from tests.core.harness import Entry, Harness


def shown(h: Harness, connector_id: int = 1) -> list[str]:
    return [e.status for e in h.of(fx.ShowStatus) if e.connector_id == connector_id]


def test_a_tap_shows_authorizing_while_the_csms_is_asked_and_ocpp_sees_preparing():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.tap("04A2B3C4")
    assert shown(h)[-1] == "Authorizing"
    assert h.statuses_sent()[-1] == "Preparing"
    assert "Authorizing" not in h.statuses_sent()
    h.answer_authorize()
    assert shown(h)[-1] != "Authorizing"
    assert shown(h) == ["Available", "Preparing", "Authorizing", "SuspendedEV"]


def test_a_rejected_tap_without_a_vehicle_goes_back_to_available():
    h = Harness()
    h.boot()
    h.tap("BADCARD1")
    assert shown(h)[-1] == "Authorizing"
    h.answer_authorize("Invalid")
    assert shown(h) == ["Available", "Authorizing", "Available"]
    assert h.statuses_sent() == ["Available", "Preparing", "Available"]


def test_a_tap_decided_locally_never_shows_authorizing():
    h = Harness(config={"LocalAuthListEnabled": "true", "LocalPreAuthorize": "true"})
    h.boot()
    h.pilot("B")
    h.tap("LISTED01", list_entry=Entry("LISTED01"))
    assert "Authorizing" not in shown(h)

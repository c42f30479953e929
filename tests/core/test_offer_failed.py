"""A refused pilot offer is an event (issue 10 item 2): the limit cannot be enforced, so
energy is withheld in the same batch, and the offer is retried on a timer, not in a loop."""

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.sampling import OFFER_RETRY_S
from firmware.core.timers import OfferRetry
from firmware.hardware import ConnectorHardware
from hal.errors import DeviceUnavailable
from tests.core.harness import Harness


def charging() -> Harness:
    h = Harness()
    h.boot()
    h.start_session()
    assert h.station.connectors[1].contactor_closed
    return h


def test_the_opening_is_in_the_batch_of_the_failed_offer_and_the_session_goes_on():
    h = charging()
    out = h.handle(ev.OfferFailed(1, 32.0, "controller timeout"))
    assert out[0] == fx.OpenContactor(1)
    assert fx.StartTimer(OfferRetry(1), OFFER_RETRY_S) in out
    assert not h.of(fx.OfferEnergy, out)  # nothing is offered to a controller that refused
    assert h.status() == "Faulted"
    assert h.last(fx.SendConnectorStatus).error_code == "EVCommunicationError"
    assert h.station.connectors[1].tx is not None  # a transient fault: not a stop


def test_a_second_failure_does_not_loop_it_waits_for_the_timer():
    h = charging()
    h.handle(ev.OfferFailed(1, 32.0))
    out = h.handle(ev.OfferFailed(1, 0.0))
    assert not h.of(fx.OfferEnergy, out)
    assert [e for e in out if isinstance(e, fx.StartTimer)] == [
        fx.StartTimer(OfferRetry(1), OFFER_RETRY_S)]


def test_the_retry_offers_what_is_due_then_and_charging_resumes():
    h = charging()
    h.handle(ev.OfferFailed(1, 32.0))
    out = h.handle(ev.TimerFired(OfferRetry(1)))
    assert fx.OfferEnergy(1, 32.0) in out and fx.CloseContactor(1) in out
    assert out.index(fx.OfferEnergy(1, 32.0)) < out.index(fx.CloseContactor(1))
    assert h.status() == "Charging"


class RefusingPilot:
    """A ControlPilot whose controller stopped answering offers (HAL obligation: raise)."""

    def __init__(self) -> None:
        self.refuse = True
        self.offers: list[float] = []

    async def offer(self, max_current_a: float) -> None:
        if self.refuse:
            raise DeviceUnavailable("RAPI $SC timed out")
        self.offers.append(max_current_a)


class Contactor:
    def __init__(self) -> None:
        self.closes = 0

    async def close_contactor(self) -> None:
        self.closes += 1


@pytest.mark.asyncio
async def test_the_worker_reports_the_failure_and_closes_nothing_until_an_offer_succeeds():
    import asyncio

    pilot, contactor = RefusingPilot(), Contactor()
    hw = ConnectorHardware(1, pilot=pilot, contactor=contactor,  # type: ignore[arg-type]
                           meter=None)  # type: ignore[arg-type]
    seen: list = []
    hw.dispatch = seen.append
    async with asyncio.TaskGroup() as tasks:
        await hw._execute(fx.OfferEnergy(1, 16.0), tasks)
        await hw._execute(fx.CloseContactor(1), tasks)
    assert seen == [ev.OfferFailed(1, 16.0, "RAPI $SC timed out")]
    assert contactor.closes == 0
    pilot.refuse = False
    async with asyncio.TaskGroup() as tasks:
        await hw._execute(fx.OfferEnergy(1, 16.0), tasks)
        await hw._execute(fx.CloseContactor(1), tasks)
    assert pilot.offers == [16.0]
    assert contactor.closes == 1

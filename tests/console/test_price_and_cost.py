"""Console ``price`` and ``status`` lines of the CSMS's price text and costs
(firmware.core.csms_cost) on a station without a payment terminal."""

from decimal import Decimal
from types import SimpleNamespace

from firmware.console.console import Console
from firmware.console.payment_commands import install_payment_commands, payment_status_lines
from firmware.core import events as ev
from tests.core.harness import Harness


def console_of(h: Harness) -> Console:
    c = Console()
    install_payment_commands(c, SimpleNamespace(station=h.station))
    return c


async def test_price_without_a_terminal_is_the_csms_text_or_a_clear_error():
    h = Harness()
    h.boot()
    console = console_of(h)
    assert (await console.execute("price"))[0].startswith("ERROR: no payment terminal")
    h.handle(ev.ConfigurationChangeRequested(h.ref(), "TariffFallbackMessage", "0.45 EUR/kWh"))
    assert await console.execute("price") == ["0.45 EUR/kWh", "OK"]


def test_status_lines_name_the_csms_as_the_source_of_the_cost():
    h = Harness()
    h.boot()
    h.start_session()
    agent = SimpleNamespace(station=h.station)
    assert payment_status_lines(agent) == []
    h.handle(ev.CsmsCostReported(h.ref(), h.station.connectors[1].tx.local_tx_id,
                                 Decimal("0.8")))
    assert payment_status_lines(agent) == ["connector 1: Cost so far 0.80 EUR (from the CSMS)"]

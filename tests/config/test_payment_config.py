"""[payment] in the site config: every bad value a clear problem, nothing half-applied."""

from pathlib import Path

import pytest

from firmware.config import load_site_config
from firmware.errors import ConfigError
from firmware.payment_config import payment_settings, tariff_of

REPO = Path(__file__).resolve().parents[2]
SITE = f"""
[station]
id = "CP-1"
[ocpp]
csms_url = "ws://127.0.0.1:9000/ocpp"
[board]
config = "{REPO / 'board_configs' / 'sim.toml'}"
[storage]
state_dir = "state"
"""


def load(tmp_path, payment: str):
    path = tmp_path / "site.toml"
    path.write_text(SITE + "[payment]\n" + payment)
    return load_site_config(path)


def test_defaults_and_values_become_settings(tmp_path):
    site = load(tmp_path, 'energy_price_per_kwh = "0.45"\nend_of_day_utc = "23:30"\n')
    settings = payment_settings(site.payment, (1,), "CP-1")
    assert str(settings.tariff.energy_per_kwh) == "0.45"
    assert settings.pre_authorisation_cents == 5000 and settings.connectors == (1,)
    assert tariff_of(site.payment).vat_percent == 19


@pytest.mark.parametrize("line, key", [
    ('energy_price_per_kwh = 0.45', "payment.energy_price_per_kwh"),     # a float: not exact
    ('energy_price_per_kwh = "NaN"', "payment.energy_price_per_kwh"),
    ('energy_price_per_kwh = "-0.1"', "payment.energy_price_per_kwh"),
    ('session_fee = "0.505"', "payment.session_fee"),
    ('vat_percent = "101"', "payment.vat_percent"),
    ('currency = "euro"', "payment.currency"),
    ('pre_authorisation_cents = 0', "payment.pre_authorisation_cents"),
    ('id_tag_scheme = "plain"', "payment.id_tag_scheme"),
    ('id_tag_prefix = "TOO-LONG-PREFIX"', "payment.id_tag_prefix"),
    ('end_of_day_utc = "24:00"', "payment.end_of_day_utc"),
    ('receipt_url = "https://x/{nope}"', "payment.receipt_url"),
    ('receipt_url = "ftp://x"', "payment.receipt_url"),
    ('vendor_id = "has space"', "payment.vendor_id"),
    ('colour = "red"', "payment.colour"),
])
def test_bad_values_are_reported_with_their_key(tmp_path, line, key):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, line + "\n")
    assert key in [p.key for p in err.value.problems]

"""The one RFC 3339 date-time parser (firmware.core.rfc3339), used by the OCPP
adapter (currentTime, expiryDate) and SendLocalList validation alike."""

from __future__ import annotations

import pytest

from firmware.core.rfc3339 import parse_rfc3339
from firmware.ocpp.mapping import parse_time


@pytest.mark.parametrize("text", [
    "", "2030-01-01", "2030-01-01T00:00", "20300101T000000Z", "2030-W01-1T00:00:00Z",
    "2030-13-01T00:00:00Z", "2030-01-01T25:00:00Z", "2030-01-01T00:00:00+25:00",
    "２０３０-01-01T00:00:00Z", "2030-01-01T00:00:00Zjunk", "9" * 5000,
    "2030-01-01X00:00:00Z", "\ud800030-01-01T00:00:00Z",
])
def test_anything_but_an_rfc3339_date_time_is_refused(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)
    assert parse_time(text) is None          # the OCPP adapter: absent, never a traceback


@pytest.mark.parametrize("text,epoch_s", [
    ("2030-01-01T00:00:00Z", 1893456000.0),
    ("2030-01-01T00:00:00.500Z", 1893456000.5),
    ("2030-01-01T01:00:00+01:00", 1893456000.0),
    ("2030-01-01t00:00:00z", 1893456000.0),
    ("2030-01-01 00:00:00Z", 1893456000.0),  # RFC 3339 §5.6 allows a space
    ("2030-01-01T00:00:00", 1893456000.0),  # no offset: UTC, as OCPP 1.6 times are
])
def test_date_times(text, epoch_s):
    assert parse_rfc3339(text) == epoch_s
    assert parse_time(text) == epoch_s


def test_the_adapter_takes_only_strings():
    for value in (None, 0, 1.5, [], {}):
        assert parse_time(value) is None

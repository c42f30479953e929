"""Every integer configuration key has a declared range, enforced on every path.

[16] §5.3: a value that is not valid → Rejected, and a rejected change changes nothing
(§3.16.4). The console and ``[ocpp.defaults]`` use the same ``KeyDefinition.problem``.
A value already stored (by an older release, or before the ranges existed) that is out
of range must not brick start-up: ``Configuration.initial`` falls back and says so.
"""

import pytest

from firmware.core.configuration import DEFINITIONS, Configuration, definition

INT_KEYS = [d for d in DEFINITIONS if d.kind == "int"]
WRITABLE_INT_KEYS = [d for d in INT_KEYS if not d.readonly]


@pytest.mark.parametrize("d", INT_KEYS, ids=lambda d: d.name)
def test_every_integer_key_declares_its_range_and_its_default_is_inside(d):
    assert d.minimum is not None and d.maximum is not None, d.name
    assert d.minimum <= int(d.default) <= d.maximum
    # Small enough for a float (the link's seconds), a timer and SQLite.
    assert d.maximum < 2 ** 53


BAD_INTEGERS = [
    "9" * 400,            # the WebSocketPingInterval: OverflowError in float()
    "9" * 5000,           # over Python's 4,300-digit int() limit
    "1" + "0" * 30,
    "-" + "9" * 400,
    "1_000",              # int() accepts underscores; OCPP integers do not have them
    "\uff13\uff10",       # fullwidth "30": int() accepts other scripts' digits
    "\u0663",             # Arabic-Indic 3
    "0x10", "1e3", "3.5", "inf", "nan", "", " ", "+", "--1", "1 2",
    "\udc80",             # a lone surrogate (cannot be stored as UTF-8)
]


@pytest.mark.parametrize("value", BAD_INTEGERS, ids=repr)
@pytest.mark.parametrize("d", WRITABLE_INT_KEYS, ids=lambda d: d.name)
def test_5_3_an_integer_that_does_not_fit_is_rejected_and_changes_nothing(d, value):
    c = Configuration.initial({}, {})
    before = c.as_dict()
    result = c.change(d.name, value)
    assert result.status == "Rejected"
    assert f"{d.minimum}" in result.reason and f"{d.maximum}" in result.reason
    assert c.as_dict() == before


@pytest.mark.parametrize("d", WRITABLE_INT_KEYS, ids=lambda d: d.name)
def test_5_3_the_bounds_are_inclusive_and_one_past_is_rejected(d):
    c = Configuration.initial({}, {})
    assert c.change(d.name, str(d.maximum)).status == "Accepted"
    assert c.get_int(d.name) == d.maximum
    assert c.change(d.name, str(d.minimum)).status == "Accepted"
    before = c.as_dict()
    assert c.change(d.name, str(d.maximum + 1)).status == "Rejected"
    assert c.change(d.name, str(d.minimum - 1)).status == "Rejected"
    assert c.as_dict() == before


def test_an_integer_is_stored_in_its_canonical_form():
    c = Configuration.initial({}, {})
    assert c.change("HeartbeatInterval", " +0120 ").status == "Accepted"
    assert c.get("HeartbeatInterval") == "120"


@pytest.mark.parametrize("key, value", [
    ("AuthorizationKey", "ab\udc80cd" * 4),          # not text: SQLite cannot store it
    ("ConnectorPhaseRotation", "\u00b2.RST"),         # "²".isdigit() is True
    ("ConnectorPhaseRotation", "99999999999999999999.RST"),
    ("ConnectorPhaseRotation", ",".join(f"{n}.RST" for n in range(9))),  # > MaxLength 8
    ("LocalPreAuthorize", "tru\udc80"),
    ("MeterValuesSampledData", "Voltage\udc80"),
])
def test_5_3_other_values_that_cannot_be_kept_are_rejected(key, value):
    c = Configuration.initial({}, {})
    before = c.as_dict()
    assert c.change(key, value).status == "Rejected"
    assert c.as_dict() == before


def test_a_stored_value_out_of_range_does_not_brick_start_up():
    """Persisted by a release without ranges: the site default (else the built-in one)
    is used, and ``rejected`` names what was ignored so the agent can log and repair it."""
    huge = "9" * 400
    c = Configuration.initial({"HeartbeatInterval": "120"},
                              {"WebSocketPingInterval": huge, "HeartbeatInterval": huge,
                               "MeterValueSampleInterval": "-5", "LocalPreAuthorize": "maybe"})
    assert c.get_int("WebSocketPingInterval") == int(definition("WebSocketPingInterval").default)
    assert c.get_int("HeartbeatInterval") == 120
    assert c.get_int("MeterValueSampleInterval") == int(
        definition("MeterValueSampleInterval").default)
    assert c.get_bool("LocalPreAuthorize") is False
    assert {r.key for r in c.rejected} == {"WebSocketPingInterval", "HeartbeatInterval",
                                           "MeterValueSampleInterval", "LocalPreAuthorize"}
    assert all(r.problem for r in c.rejected)


def test_a_bad_site_default_falls_back_to_the_built_in_default():
    c = Configuration.initial({"GetConfigurationMaxKeys": "9" * 400}, {})
    assert c.get("GetConfigurationMaxKeys") == definition("GetConfigurationMaxKeys").default
    assert [r.key for r in c.rejected] == ["GetConfigurationMaxKeys"]

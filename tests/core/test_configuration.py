"""OCPP configuration keys ([16] §5.3, §9.1, §3.16.4)."""

import pytest

from firmware.core.configuration import DEFINITIONS, Configuration


def test_initial_values_site_defaults_then_persisted_read_write_values():
    c = Configuration.initial({"HeartbeatInterval": "60", "GetConfigurationMaxKeys": "10"},
                              {"HeartbeatInterval": "90", "GetConfigurationMaxKeys": "99"})
    assert c.get_int("HeartbeatInterval") == 90  # the CSMS owns it after first boot
    assert c.get_int("GetConfigurationMaxKeys") == 10  # read-only: the maker's value


@pytest.mark.parametrize("key, value, status", [
    ("HeartbeatInterval", "30", "Accepted"),
    ("HeartbeatInterval", "-1", "Rejected"),
    ("HeartbeatInterval", "3.5", "Rejected"),
    ("LocalPreAuthorize", "True", "Accepted"),
    ("LocalPreAuthorize", "yes", "Rejected"),
    ("NumberOfConnectors", "2", "Rejected"),
    ("SupportedFeatureProfiles", "Core", "Rejected"),
    ("FooBar", "1", "NotSupported"),
    ("MeterValuesSampledData", "Energy.Active.Import.Register,Current.Import", "Accepted"),
    ("MeterValuesSampledData", "Energy.Reactive.Import.Register", "Rejected"),
    ("MeterValuesSampledData", ",".join(["Voltage"] * 9), "Rejected"),
    ("ConnectorPhaseRotation", "0.RST,1.RTS", "Accepted"),
    ("ConnectorPhaseRotation", "1.XYZ", "Rejected"),
    ("AuthorizationKey", "x" * 65, "Rejected"),  # 2.0.1 BasicAuthPassword: at most 64
    ("WebSocketPingInterval", "0", "Accepted"),
])
def test_5_3_change_configuration(key, value, status):
    c = Configuration.initial({}, {})
    before = c.as_dict()
    assert c.change(key, value).status == status
    if status != "Accepted":
        assert c.as_dict() == before  # §3.16.4: a rejected change changes nothing


def test_get_configuration_never_reveals_the_authorization_key():
    c = Configuration.initial({}, {})
    c.change("AuthorizationKey", "secret-secret-secret")
    known, unknown = c.report(None)
    entry = next(e for e in known if e["key"] == "AuthorizationKey")
    assert "value" not in entry
    assert len(known) == len(DEFINITIONS) and unknown == []

"""SecurityProfile and AuthorizationKey changes in the core (whitepaper A05, A01;
security-whitepaper.md §5)."""

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.security_profile import SecurityPrerequisites
from tests.core.harness import Harness

KEY = "0123456789abcdef0123456789abcdef"


def harness(profile=0, key="", root=False, client=False):
    h = Harness(config={"SecurityProfile": str(profile), "AuthorizationKey": key})
    h.station.security_prerequisites = lambda: SecurityPrerequisites(root, client)
    h.boot()
    return h


def change(h, key, value):
    return h.handle(ev.ConfigurationChangeRequested(h.ref(), key, value))


def security_events(out):
    return [e for e in out if isinstance(e, fx.SendSecurityEvent)]


@pytest.mark.parametrize("current,new", [(1, 1), (2, 1), (3, 2), (3, 0), (2, 2)])
def test_lower_or_equal_profile_is_rejected_and_nothing_changes_a05_fr_01(current, new):
    h = harness(current, KEY, root=True, client=True)
    out = change(h, "SecurityProfile", str(new))
    assert h.reply(out) == {"status": "Rejected"}
    assert out == [fx.Reply(out[0].ref, {"status": "Rejected"})]
    assert h.station.config.get_int("SecurityProfile") == current


def test_profile_1_or_2_without_authorization_key_is_rejected_a05_fr_02():
    h = harness(0, "", root=True, client=True)
    assert h.reply(change(h, "SecurityProfile", "1")) == {"status": "Rejected"}
    assert h.reply(change(h, "SecurityProfile", "2")) == {"status": "Rejected"}
    assert h.station.config.get_int("SecurityProfile") == 0


def test_profile_2_or_3_without_csms_root_is_rejected_a05_fr_03():
    h = harness(1, KEY, root=False, client=True)
    assert h.reply(change(h, "SecurityProfile", "2")) == {"status": "Rejected"}
    assert h.reply(change(h, "SecurityProfile", "3")) == {"status": "Rejected"}


def test_profile_3_without_client_certificate_is_rejected_a05_fr_04():
    h = harness(2, KEY, root=True, client=False)
    assert h.reply(change(h, "SecurityProfile", "3")) == {"status": "Rejected"}
    assert h.station.config.get_int("SecurityProfile") == 2


def test_accepted_upgrade_persists_reconnects_with_fallback_and_logs_a05_fr_05_07():
    h = harness(1, KEY, root=True)
    out = change(h, "SecurityProfile", "2")
    assert h.reply(out) == {"status": "Accepted"}
    assert isinstance(out[0], fx.Reply)  # the conf before the reconnect (A05)
    assert fx.PersistConfiguration("SecurityProfile", "2") in out
    assert fx.ReconnectLink(fallback_profile=1) in out
    [event] = security_events(out)
    assert event.kind == "ReconfigurationOfSecurityParameters"
    assert event.tech_info == "SecurityProfile 1 -> 2"


def test_profile_that_cannot_connect_falls_back_and_is_reported_a05_fr_08():
    h = harness(1, KEY, root=True)
    change(h, "SecurityProfile", "2")
    out = h.handle(ev.SecurityProfileConnectFailed(2, 1, "SSLCertVerificationError"))
    assert h.station.config.get_int("SecurityProfile") == 1
    assert fx.PersistConfiguration("SecurityProfile", "1") in out
    [event] = security_events(out)
    assert "back to 1" in event.tech_info
    # a stale report (the profile changed again meanwhile) changes nothing
    assert h.handle(ev.SecurityProfileConnectFailed(3, 2)) == []


def test_authorization_key_change_reconnects_and_never_logs_the_key_a01_fr_11_12():
    h = harness(1, KEY)
    new_key = "fedcba9876543210fedcba9876543210"
    out = change(h, "AuthorizationKey", new_key)
    assert h.reply(out) == {"status": "Accepted"}
    assert fx.ReconnectLink() in out
    [event] = security_events(out)
    assert new_key not in repr(out[2:]) and new_key not in (event.tech_info or "")


@pytest.mark.parametrize("value", ["", "short", "x" * 15])
def test_authorization_key_shorter_than_16_is_rejected_a00_fr_205(value):
    h = harness(1, KEY)
    assert h.reply(change(h, "AuthorizationKey", value)) == {"status": "Rejected"}
    assert h.station.config.get("AuthorizationKey") == KEY


def test_new_security_keys_are_read_only_where_the_whitepaper_says_so_sec3_7():
    h = harness()
    for key in ("CertificateSignedMaxChainSize", "CertificateStoreMaxLength",
                "AdditionalRootCertificateCheck"):
        assert h.reply(change(h, key, "5")) == {"status": "Rejected"}
    assert h.reply(change(h, "CpoName", "Borne CPO")) == {"status": "Accepted"}
    assert h.station.config.get("AdditionalRootCertificateCheck") == "false"

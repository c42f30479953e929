"""Security profile options of the link (security-whitepaper.md §1-3)."""

import base64
import ssl

import pytest

from firmware.ocpp.link_security import (LinkConfigurationProblem, basic_auth_header,
                                         check_profile, is_hex_key, tls_context)
from tests.security.pki import make_ca


def decoded(header):
    return base64.b64decode(header.removeprefix("Basic "))


def test_16_hex_key_is_decoded_to_bytes_before_base64_tc_085_cs():
    key = "00ff" * 8  # 32 hex digits = 16 bytes, not UTF-8 text
    assert decoded(basic_auth_header("CP-1", key, hex_decoded=True)) == \
        b"CP-1:" + bytes.fromhex(key)  # binary passwords as bytes (Java-OCA-OCPP#143)


def test_201_basic_auth_password_is_sent_as_utf8_e201_2_1():
    key = "00ff" * 8
    assert decoded(basic_auth_header("CP-1", key, hex_decoded=False)) == b"CP-1:" + key.encode()
    assert decoded(basic_auth_header("CP-1", "pässwörd-1234567", hex_decoded=False)) == \
        "CP-1:pässwörd-1234567".encode()


@pytest.mark.parametrize("key, hex_key", [("ab" * 16, True), ("AB" * 20, True),
                                          ("ab" * 15, False), ("ab" * 21, False),
                                          ("a" * 33, False), ("zz" * 16, False)])
def test_hex_key_form_is_32_to_40_hex_digits_a00_fr_205(key, hex_key):
    assert is_hex_key(key) is hex_key


def test_non_hex_key_under_16_is_sent_as_text():
    assert decoded(basic_auth_header("CP", "plain-text-key-1", hex_decoded=True)) == \
        b"CP:plain-text-key-1"


@pytest.mark.parametrize("profile, url, key, problem", [
    (2, "ws://csms/ocpp", "k" * 16, "wss://"),
    (3, "ws://csms/ocpp", "", "wss://"),
    (1, "ws://csms/ocpp", "", "AuthorizationKey"),
    (2, "wss://csms/ocpp", "", "AuthorizationKey"),
])
def test_profile_prerequisites_are_a_clear_configuration_problem(profile, url, key, problem):
    with pytest.raises(LinkConfigurationProblem, match=problem):
        check_profile(profile, url, key)
    check_profile(0, url, key)  # profile 0 asks nothing


def test_tls_context_is_tls_1_2_plus_verifying_the_installed_roots_only_a00_fr_312():
    context = tls_context(2, make_ca().pem, None, None)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # not the system bundle ([E201] 2.6)
    with pytest.raises(LinkConfigurationProblem, match="root"):
        tls_context(2, "", None, "/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(LinkConfigurationProblem, match="client certificate"):
        tls_context(3, make_ca().pem, None, None)

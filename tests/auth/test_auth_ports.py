"""The adapters the runtime, the OCPP handlers and the readers are wired with."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from firmware.auth import SendLocalListFormatError
from firmware.auth.ports import StoreAuthorization
from tests.auth.auth_helpers import NOW, entry, full, keys


@dataclass
class Card:  # the shape of hal.interfaces.CardRead
    uid: bytes
    raw: str = ""
    reader: str = "r1"
    text: str | None = None


@pytest.fixture
def current_keys():
    return {"keys": keys()}


@pytest.fixture
def port(store, current_keys):
    return StoreAuthorization(store, lambda: current_keys["keys"])


async def test_send_local_list_version_and_clear_cache(port, current_keys):
    assert port.skip_schema_for_send_local_list
    assert await port.send_local_list(full(2, entry("A"))) == "Accepted"
    assert port.local_list_version() == 2
    with pytest.raises(SendLocalListFormatError):
        await port.send_local_list({"listVersion": 3})
    assert port.clear_cache() is True
    current_keys["keys"] = keys(local_auth_list_enabled=False)  # ChangeConfiguration
    assert port.local_list_version() == -1
    assert await port.send_local_list(full(3, entry("B"))) == "NotSupported"


def test_cache_update_reports_the_conflicting_list_status(port, store):
    store.apply_send_local_list_sync(full(1, entry("L", "Blocked")))
    assert port.cache_update("l", "Accepted", None, None, NOW) == "Blocked"
    assert port.cache_update("X", "Invalid", None, None, NOW) is None
    assert port.lookup("x", NOW)[1].status == "Invalid"
    assert port.lookup("x", NOW)[2] is True  # a refusal is negative-cached


def test_console_lines_use_the_current_keys(port, current_keys):
    current_keys["keys"] = keys(local_pre_authorize=True, local_auth_list_enabled=False)
    assert port.stats_lines()[0].startswith("list: disabled, version -1")
    assert "decision online: ask (unknown)" in port.lookup_lines("abc", NOW)


def test_remember_rejected(port):
    port.remember_rejected("T", NOW)
    assert port.lookup("t", NOW + 1) == (None, None, True)

"""The adapters the runtime, the OCPP handlers and the readers are wired with."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from firmware.auth import SendLocalListFormatError
from firmware.auth.ports import StoreAuthorization, card_to_id_tag
from firmware.core.idtag import IdTagError, ReaderFormat
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


@pytest.mark.parametrize("card,fmt,tag", [
    (Card(bytes.fromhex("04a1b2c3d4e5f6")), ReaderFormat(), "04A1B2C3D4E5F6"),
    (Card(bytes.fromhex("efbeadde")), ReaderFormat(reversed_bytes=True), "DEADBEEF"),
    (Card(b"", text="3735928559"), ReaderFormat(form="dec", byte_count=4), "DEADBEEF"),
    (Card(b"", text="de:ad:be:ef"), ReaderFormat(), "DEADBEEF"),
    (Card(b"", text="driver-42\r"), ReaderFormat(), "DRIVER-42"),
])
def test_card_to_id_tag(card, fmt, tag):
    assert card_to_id_tag(fmt)(card) == tag


@pytest.mark.parametrize("text", ["\x02\x01garbage", "zz yy", "X" * 21, "a\tb"])
def test_card_noise_is_refused(text):
    with pytest.raises(IdTagError):
        card_to_id_tag()(Card(b"", text=text))

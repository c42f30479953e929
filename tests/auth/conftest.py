"""Fixtures for the authorization store tests: stores on a temporary database that
are always closed (the worker thread stopped) at the end of a test."""

from __future__ import annotations

import pytest

from firmware.auth import AuthorizationStore
from firmware.core.authorization import AuthKeys


@pytest.fixture
def open_store(tmp_path):
    stores: list[AuthorizationStore] = []

    def _open(**kwargs) -> AuthorizationStore:
        kwargs.setdefault("keys", AuthKeys())
        store = AuthorizationStore(tmp_path / "borne.db", **kwargs)
        stores.append(store)
        return store

    yield _open
    for store in stores:
        store.close()


@pytest.fixture
def store(open_store):
    return open_store()

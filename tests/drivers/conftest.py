from __future__ import annotations

import pytest

from tests.drivers.ptys import FakeClock, LinkedPtys, PtyPeer


@pytest.fixture
async def peer():
    p = PtyPeer()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
async def linked_ptys():
    link = LinkedPtys()
    try:
        yield link
    finally:
        link.close()


@pytest.fixture
def clock():
    return FakeClock()

"""Fixtures of the devcsms tests: a DevCsms on 127.0.0.1 with a free port."""

from collections.abc import AsyncIterator

import pytest

from devcsms import DevCsms


@pytest.fixture
async def csms() -> AsyncIterator[DevCsms]:
    async with DevCsms(host="127.0.0.1", port=0) as server:
        yield server

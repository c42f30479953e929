from collections.abc import AsyncIterator

import pytest

from devcsms import DevCsms


@pytest.fixture
async def csms() -> AsyncIterator[DevCsms]:
    async with DevCsms(host="127.0.0.1", port=0, boot_interval_s=300) as server:
        yield server
        assert server.violations == [], "\n".join(server.violations)

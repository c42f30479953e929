"""devcsms --offer-firmware (issue 11 item 6) against the real agent, in both OCPP
versions: the image served on 127.0.0.1, signed with a key devcsms made at run time, is
downloaded, verified against the root devcsms wrote, installed; 2.0.1 reports
FirmwareStatusNotification with the requestId (L01.FR.10)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from devcsms.firmware import FirmwareOffer
from tests.integration.agent import running_agent, write_site

SEQUENCE = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]


@pytest.mark.parametrize("protocol, action", [
    ("ocpp1.6", "SignedFirmwareStatusNotification"),
    ("ocpp2.0.1", "FirmwareStatusNotification"),
])
async def test_devcsms_offers_a_signed_image_the_agent_installs(csms, tmp_path, protocol, action):
    image = tmp_path / "borne-demo.img"
    image.write_bytes(b"demo image\n" * 1000)
    offer = FirmwareOffer(image, tmp_path / "roots")
    (tmp_path / "installer.py").write_text(
        "import pathlib, sys; pathlib.Path(sys.argv[1]).with_name('installed').write_text('x')")
    extra = "\n".join(["[firmware]",
                       f'install_command = ["{sys.executable}", "{tmp_path / "installer.py"}"]',
                       f'manufacturer_roots = "{tmp_path / "roots"}"'])
    site = write_site(tmp_path, csms.url, ocpp={"protocol": protocol}, extra=extra)
    await offer.start()
    offering = asyncio.create_task(offer.offer_after_boot(csms, lambda line: None))
    try:
        async with running_agent(site) as cp:
            await csms.wait_for(action, lambda f: f.payload["status"] == "InstallRebooting",
                                timeout_s=30)
            assert await asyncio.wait_for(cp.task, 30) == "Hard"
    finally:
        offering.cancel()
        await offer.close()
    sent = [f.payload for f in csms.messages(action)]
    assert [p["status"] for p in sent] == SEQUENCE
    assert {p["requestId"] for p in sent} == {1}

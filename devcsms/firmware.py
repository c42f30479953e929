"""Firmware updates from the development CSMS (issue 11 item 6): serve an image over HTTP
on 127.0.0.1 and send the station a signed update for it.

``FirmwareOffer(image, roots_dir)`` makes, at run time and in memory only, a throwaway
manufacturer root and a firmware signing key (never written: no private key is ever on
disk or in the repository); it writes the root's *certificate* to
``roots_dir/devcsms-manufacturer-root.pem`` for the agent's ``[firmware]
manufacturer_roots``, signs the image (RSA-PSS, SHA-256, over the whole file) and serves
it at ``http://127.0.0.1:<port 0>/<name>``. ``request(protocol, request_id)`` is the
SignedUpdateFirmware (1.6) or UpdateFirmware (2.0.1, 2.1) CALL for it;
``offer_after_boot(csms)`` sends it once to every station after its BootNotification
(``python -m devcsms --offer-firmware IMAGE``; ``make run FIRMWARE=IMAGE``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devcsms.errors import DevCsmsError
from devcsms.station import CallErrorReceived, StationNotConnected
from devcsms.v21 import OCPP2_SUBPROTOCOLS

ROOT_FILE = "devcsms-manufacturer-root.pem"


class FirmwareOfferError(DevCsmsError):
    """The image cannot be read or the roots directory written."""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devcsms"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _certificate(subject: str, key: rsa.RSAPrivateKey, issuer_name: x509.Name,
                 issuer_key: rsa.RSAPrivateKey, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class FirmwareOffer:
    def __init__(self, image: Path, roots_dir: Path) -> None:
        try:
            self._data = image.read_bytes()
        except OSError as e:
            raise FirmwareOfferError(f"--offer-firmware {image}: {e.strerror or e}") from None
        self.name = image.name
        root_key = rsa.generate_private_key(65537, 2048)
        root = _certificate("devcsms Manufacturer Root", root_key,
                            _name("devcsms Manufacturer Root"), root_key, ca=True)
        key = rsa.generate_private_key(65537, 2048)
        self.signing_certificate = _certificate("devcsms Firmware Signing", key, root.subject,
                                                root_key, ca=False).public_bytes(
            serialization.Encoding.PEM).decode()
        self.signature = base64.b64encode(key.sign(self._data, padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
            hashes.SHA256())).decode()
        try:
            roots_dir.mkdir(parents=True, exist_ok=True)
            (roots_dir / ROOT_FILE).write_bytes(root.public_bytes(serialization.Encoding.PEM))
        except OSError as e:
            raise FirmwareOfferError(f"--firmware-roots {roots_dir}: {e.strerror or e}") from None
        self.roots_dir = roots_dir
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/{self.name}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            fields = head.split(b" ", 2)
            if len(fields) >= 2 and fields[0] == b"GET" and fields[1] == f"/{self.name}".encode():
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: "
                             b"application/octet-stream\r\nContent-Length: "
                             + str(len(self._data)).encode() + b"\r\n\r\n" + self._data)
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            pass
        finally:
            writer.close()

    def request(self, protocol: str, request_id: int = 1) -> tuple[str, dict[str, Any]]:
        firmware = {"location": self.url, "retrieveDateTime": "2000-01-01T00:00:00Z",
                    "signingCertificate": self.signing_certificate, "signature": self.signature}
        action = "UpdateFirmware" if protocol in OCPP2_SUBPROTOCOLS else "SignedUpdateFirmware"
        return action, {"requestId": request_id, "retries": 2, "retryInterval": 5,
                        "firmware": firmware}

    async def offer_after_boot(self, csms: Any, emit: Any) -> None:
        """Send the update once to each station, after its first BootNotification."""
        offered: set[str] = set()
        after = 0
        while True:
            boot = await csms.wait_for("BootNotification", after=after, timeout_s=1e9)
            after = boot.seq + 1
            if boot.station in offered:
                continue
            offered.add(boot.station)
            await asyncio.sleep(1.0)  # let its registration and statuses settle first
            try:
                reply = await csms.call(boot.station, self.request(boot.protocol), timeout_s=30)
                emit(f"devcsms: offered firmware {self.url} to {boot.station}: {reply}")
            except (CallErrorReceived, StationNotConnected, TimeoutError, ValueError) as error:
                # a refusal or a gone station: shown, not fatal
                emit(f"devcsms: firmware offer to {boot.station} failed: {error!r}")

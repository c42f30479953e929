"""Security profile 1 (HTTP Basic auth with AuthorizationKey) and 2 (wss:// with CA check)."""

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from devcsms import DevCsms
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


async def test_basic_auth_with_authorization_key(tmp_path):
    async with DevCsms(port=0, basic_auth={STATION: "s3cret-key-0123456"}) as csms:
        site = write_site(tmp_path, csms.url,
                          defaults={"AuthorizationKey": "s3cret-key-0123456"})
        async with running_agent(site) as cp:
            await csms.wait_for("BootNotification", timeout_s=10)
            assert cp.agent.link.status.state == "connected"
        assert csms.violations == []


async def test_wrong_authorization_key_is_refused_and_status_says_so(tmp_path):
    async with DevCsms(port=0, basic_auth={STATION: "the-right-one-1234"}) as csms:
        site = write_site(tmp_path, csms.url, defaults={"AuthorizationKey": "a-wrong-key-12345"})
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.status.last_error != "", timeout_s=10)
            lines = await cp.console("status")
            assert lines[0].startswith("link: ") and "connected since" not in lines[0]
            assert "401" in lines[0]
            assert csms.messages("BootNotification") == []


def make_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 (openssl CLI)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=Borne test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


@pytest.fixture
def pki(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test CA")
    directory = tmp_path / "pki"
    directory.mkdir()
    return make_pki(directory)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def test_wss_with_ca_verification(tmp_path, pki):
    ca, cert, key = pki
    async with DevCsms(port=0, ssl_context=server_context(cert, key)) as csms:
        assert csms.url.startswith("wss://")
        site = write_site(tmp_path, csms.url, ocpp={"ca_file": str(ca)})
        async with running_agent(site):
            await csms.wait_for("BootNotification", timeout_s=10)


async def test_wss_refuses_a_server_its_ca_did_not_sign(tmp_path, pki):
    ca, cert, key = pki
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _, _ = make_pki(other)
    async with DevCsms(port=0, ssl_context=server_context(cert, key)) as csms:
        site = write_site(tmp_path, csms.url, ocpp={"ca_file": str(other_ca)})
        async with running_agent(site) as cp:
            await cp.until(lambda: "CERTIFICATE_VERIFY_FAILED" in cp.agent.link.status.last_error,
                           timeout_s=10)
            assert csms.messages("BootNotification") == []

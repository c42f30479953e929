"""Handshakes: identity from the URL, subprotocol, outage simulation, HTTP Basic auth, TLS."""

import shutil
import ssl
import subprocess

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from devcsms import BootPolicy, DevCsms

from .devcsms_client import basic_auth_header, connected_charge_point

BOOT = call.BootNotification(charge_point_vendor="Borne", charge_point_model="AC-22-1C")


async def test_identity_is_the_last_path_segment_and_the_subprotocol_is_ocpp16(csms):
    assert csms.url == f"ws://127.0.0.1:{csms.port}/ocpp"
    async with connected_charge_point(csms.url, "CP%2F42") as charge_point:
        record = await csms.wait_connected("CP/42", timeout_s=5)
        assert charge_point.connection.subprotocol == "ocpp1.6"
        assert (record.station, record.subprotocol, record.is_open) == ("CP/42", "ocpp1.6", True)
        assert csms.connected_stations == {"CP/42"}
        await charge_point.connection.close(1001)
    record = await csms.wait_disconnected("CP/42", timeout_s=5)
    assert record.close_code == 1001 and not record.is_open


async def test_handshake_without_identity_or_subprotocol_is_refused(csms):
    with pytest.raises(InvalidStatus) as no_identity:
        async with websockets.connect(csms.url, subprotocols=["ocpp1.6"]):
            pass
    assert no_identity.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as no_subprotocol:
        async with websockets.connect(f"{csms.url}/CP-1"):
            pass
    assert no_subprotocol.value.response.status_code == 400


async def test_refuse_connections_simulates_an_outage(csms):
    csms.refuse_connections = True
    with pytest.raises(InvalidStatus) as refused:
        async with connected_charge_point(csms.url, "CP-1"):
            pass
    assert refused.value.response.status_code == 503
    assert [(r.station, r.http_status) for r in csms.refused] == [("CP-1", 503)]

    csms.refuse_connections = False
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        assert (await charge_point.call(BOOT, suppress=False)).status == "Accepted"


async def test_basic_auth_accepts_the_right_password_and_refuses_others():
    async with DevCsms(basic_auth={"CP-1": "s3cret-key"}) as csms:
        async with connected_charge_point(
            csms.url, "CP-1", additional_headers=basic_auth_header("CP-1", "s3cret-key")
        ) as charge_point:
            assert (await charge_point.call(BOOT, suppress=False)).status == "Accepted"
        for station, headers in [
            ("CP-1", basic_auth_header("CP-1", "wrong")),
            ("CP-1", {}),
            ("CP-1", basic_auth_header("CP-2", "s3cret-key")),  # username must be the identity
            ("CP-2", basic_auth_header("CP-2", "s3cret-key")),  # unknown station
        ]:
            with pytest.raises(InvalidStatus) as refused:
                async with connected_charge_point(csms.url, station, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 401
            assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")
    assert [r.reason for r in csms.refused] == [
        "wrong password",
        "no Authorization header",
        "unknown user 'CP-2' for station 'CP-1'",
        "unknown user 'CP-2' for station 'CP-2'",
    ]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a test certificate")
async def test_tls_serves_wss(tmp_path):
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(certificate), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate, key)
    client_context = ssl.create_default_context(cafile=str(certificate))
    async with DevCsms(ssl_context=server_context) as csms:
        assert csms.url.startswith("wss://127.0.0.1:")
        async with connected_charge_point(csms.url, "CP-1", ssl=client_context) as charge_point:
            assert (await charge_point.call(BOOT, suppress=False)).status == "Accepted"
    assert csms.violations == []


async def test_newest_connection_of_a_station_wins(csms):
    async with connected_charge_point(csms.url, "CP-1") as old:
        async with connected_charge_point(csms.url, "CP-1") as new:
            await new.call(BOOT)
            assert await csms.call("CP-1", call.Reset(type="Soft"), timeout_s=5) == {"status": "Accepted"}
            assert new.received == [("Reset", {"type": "Soft"})] and old.received == []
            assert len([r for r in csms.connections if r.is_open]) == 2
        # Once the newest is closed, calls go to the older connection, which is still open.
        await csms.wait_connection_closed(csms.connections[-1], timeout_s=5)
        assert csms.connected_stations == {"CP-1"}
        assert await csms.call("CP-1", call.Reset(type="Hard"), timeout_s=5) == {"status": "Accepted"}
        assert old.received == [("Reset", {"type": "Hard"})]


async def test_restart_keeps_the_port_the_record_and_the_transaction_counter(csms):
    url = csms.url
    async with connected_charge_point(url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        first = await charge_point.call(
            call.StartTransaction(connector_id=1, id_tag="T1", meter_start=0, timestamp="2025-03-01T12:00:00Z")
        )
        await csms.close(code=1012, reason="restart")
        await charge_point.connection.wait_closed()
        assert charge_point.connection.close_code == 1012
    await csms.start()
    assert csms.url == url
    async with connected_charge_point(url, "CP-1") as charge_point:
        # No new BootNotification: the charge point did not reboot, only the CSMS restarted.
        await charge_point.call(
            call.StopTransaction(transaction_id=first.transaction_id, meter_stop=10, timestamp="2025-03-01T12:30:00Z")
        )
        second = await charge_point.call(
            call.StartTransaction(connector_id=1, id_tag="T1", meter_start=10, timestamp="2025-03-01T12:31:00Z")
        )
    await csms.wait_disconnected("CP-1", timeout_s=5)
    assert second.transaction_id == first.transaction_id + 1
    assert csms.transactions[first.transaction_id].stopped
    assert [record.close_code for record in csms.connections] == [1012, 1000]
    assert csms.violations == []


async def test_boot_policy_can_be_replaced_between_steps(csms):
    csms.boot = BootPolicy("Pending", 5)
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        assert (await charge_point.call(BOOT, suppress=False)).status == "Pending"

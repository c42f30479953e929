"""Security profiles 2 and 3 and certificate management against a real TLS CSMS on
127.0.0.1 (devcsms with an ``ssl`` context; CA, server and client certificates made
with ``cryptography`` in the test). security-whitepaper.md §1-6."""

from __future__ import annotations

import json

import logging
import ssl
import time

from devcsms import DevCsms
from firmware.core import effects as fx
from firmware.security import certificates as certs
from firmware.security.store import CertificateStore
from firmware.store import repositories as repo
from firmware.store.db import open_database
from tests.integration.agent import running_agent, write_site
from tests.security.pki import DAY, make_ca, make_leaf, now, sign_csr

STATION = "CP-IT"
PASSWORD = "borne-test-key-1"       # what the CSMS checks: the decoded bytes ([SEC3] §2)
HEX_KEY = PASSWORD.encode().hex()    # what ChangeConfiguration carries: 32 hex digits


def server_context(tmp_path, server, ca, client_ca=None, required=False) -> ssl.SSLContext:
    cert_file, key_file = server.write(tmp_path, "server")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    if client_ca is not None:
        context.load_verify_locations(cadata=client_ca.pem)
        context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
    return context


def site_for(tmp_path, csms, ca, profile=2, **defaults):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca.pem)
    return write_site(tmp_path, csms.url, ocpp={"ca_file": str(ca_file)},
                      defaults={"SecurityProfile": profile, "AuthorizationKey": HEX_KEY,
                                "CpoName": "Borne CPO", **defaults})


def security_events(cp) -> list[fx.SendSecurityEvent]:
    seen: list[fx.SendSecurityEvent] = []
    cp.agent.runtime.observe(
        lambda effects: seen.extend(e for e in effects if isinstance(e, fx.SendSecurityEvent)))
    return seen


async def test_profile_2_connects_with_basic_auth_and_the_installed_root_a00_fr_305_312(tmp_path):
    ca = make_ca()
    context = server_context(tmp_path, make_leaf(ca), ca)
    async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: PASSWORD}) as csms:
        async with running_agent(site_for(tmp_path, csms, ca)) as cp:
            await cp.until(lambda: cp.agent.link.status.boot_state == "Accepted", timeout_s=20)
            store = cp.agent.certificates.store
            assert [c.subject for c in store.roots("csms")] == [ca.certificate.subject]


async def test_a_server_signed_by_another_ca_or_expired_is_refused_with_an_event_a00_fr_309(
        tmp_path):
    ca, stranger = make_ca("Ours"), make_ca("Stranger")
    expired = make_leaf(ca, not_before=now() - 10 * DAY, not_after=now() - DAY)
    for name, server in (("stranger", make_leaf(stranger)), ("expired", expired)):
        directory = tmp_path / name
        directory.mkdir()
        context = server_context(directory, server, ca)
        async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: PASSWORD}) as csms:
            async with running_agent(site_for(directory, csms, ca)) as cp:
                conn = cp.agent.conn

                def queued(conn=conn):  # critical: in the durable outbox (A04.FR.02)
                    rows = conn.execute("SELECT action, payload FROM outbox").fetchall()
                    return any(action == "SecurityEventNotification"
                               and json.loads(payload)["type"] == "InvalidCentralSystemCertificate"
                               for action, payload in rows)

                await cp.until(queued, timeout_s=20)
                assert "CERTIFICATE_VERIFY_FAILED" in cp.agent.link.status.last_error
                assert csms.messages("BootNotification") == []
                depth = repo.outbox_stats(conn)[0]
                await cp.until(lambda: cp.agent.link._dial_attempt >= 3, timeout_s=20)
                assert repo.outbox_stats(conn)[0] == depth  # once per outage, not per dial


async def test_ws_url_with_profile_2_is_a_clear_configuration_error(tmp_path):
    async with DevCsms(port=0) as csms:
        site = write_site(tmp_path, csms.url, defaults={"SecurityProfile": 2,
                                                        "AuthorizationKey": HEX_KEY})
        async with running_agent(site) as cp:
            await cp.until(lambda: "wss://" in cp.agent.link.status.last_error, timeout_s=20)
            assert csms.connections == []


async def test_sign_certificate_then_upgrade_to_profile_3_and_no_downgrade_a02_a05(tmp_path):
    """A02: ExtendedTriggerMessage(SignChargePointCertificate) -> SignCertificate with a CSR
    (O = CpoName, CN = serial) -> CertificateSigned; A05: 3 refused before the client
    certificate, accepted after, reconnect with mutual TLS; 3 -> 2 refused."""
    ca = make_ca()
    context = server_context(tmp_path, make_leaf(ca), ca, client_ca=ca)
    async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: PASSWORD}) as csms:
        async with running_agent(site_for(tmp_path, csms, ca)) as cp:
            # Registered first: before Accepted only a BootNotification may go out ([16]
            # §4.2), so a SignCertificate asked for earlier could not be sent.
            await cp.until(lambda: cp.agent.link.status.boot_state == "Accepted", timeout_s=20)
            assert (await csms.call(STATION, ("ChangeConfiguration", {
                "key": "SecurityProfile", "value": "3"})))["status"] == "Rejected"  # A05.FR.04
            reply = await csms.call(STATION, ("ExtendedTriggerMessage", {
                "requestedMessage": "SignChargePointCertificate"}))
            assert reply == {"status": "Accepted"}
            request = await csms.wait_for("SignCertificate", timeout_s=20)
            csr = request.payload["csr"] if hasattr(request, "payload") else request["csr"]
            from cryptography import x509
            subject = x509.load_pem_x509_csr(csr.encode()).subject.rfc4514_string()
            assert "O=Borne CPO" in subject
            signed = sign_csr(ca, csr)
            assert (await csms.call(STATION, ("CertificateSigned", {
                "certificateChain": signed.pem})))["status"] == "Accepted"
            assert cp.agent.certificates.store.has_client_certificate()
            context.verify_mode = ssl.CERT_REQUIRED  # from now on, mutual TLS or nothing
            csms.basic_auth = None  # profile 3 authenticates by certificate (A00.FR.401)
            first = len(csms.connections)
            assert (await csms.call(STATION, ("ChangeConfiguration", {
                "key": "SecurityProfile", "value": "3"})))["status"] == "Accepted"
            await cp.until(lambda: len(csms.connections) > first and cp.agent.link.connected,
                           timeout_s=20)
            assert cp.agent.station.config.get("SecurityProfile") == "3"
            assert (await csms.call(STATION, ("ChangeConfiguration", {
                "key": "SecurityProfile", "value": "2"})))["status"] == "Rejected"  # A05.FR.01


async def test_new_profile_that_cannot_connect_falls_back_and_reports_a05_fr_08(tmp_path):
    ca, other = make_ca("CPO"), make_ca("Another CA")
    # The CSMS checks client certificates against another CA: profile 3 cannot connect.
    context = server_context(tmp_path, make_leaf(ca), ca, client_ca=other)
    async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: PASSWORD}) as csms:
        async with running_agent(site_for(tmp_path, csms, ca)) as cp:
            await cp.until(lambda: cp.agent.link.status.boot_state == "Accepted", timeout_s=20)
            store = cp.agent.certificates.store
            assert store.accept_signed(sign_csr(ca, store.new_csr("Borne CPO", "SN")).pem) is None
            store.promote_renewed()
            seen = security_events(cp)
            assert (await csms.call(STATION, ("ChangeConfiguration", {
                "key": "SecurityProfile", "value": "3"})))["status"] == "Accepted"
            await cp.until(lambda: cp.agent.station.config.get("SecurityProfile") == "2",
                           timeout_s=30)
            await cp.until(lambda: cp.agent.link.connected, timeout_s=20)
            assert any("back to 2" in (e.tech_info or "") for e in seen)


async def test_install_list_delete_certificates_m03_m04_m05(tmp_path):
    ca = make_ca("In use")
    spare = make_ca("Spare", serial=0x00F1)
    context = server_context(tmp_path, make_leaf(ca), ca)
    async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: PASSWORD}) as csms:
        async with running_agent(site_for(tmp_path, csms, ca)):
            await csms.wait_for("BootNotification", timeout_s=20)
            kind = "CentralSystemRootCertificate"
            assert (await csms.call(STATION, ("GetInstalledCertificateIds", {
                "certificateType": "ManufacturerRootCertificate"}))) == {"status": "NotFound"}
            assert (await csms.call(STATION, ("InstallCertificate", {
                "certificateType": kind, "certificate": spare.pem})))["status"] == "Accepted"
            assert (await csms.call(STATION, ("InstallCertificate", {
                "certificateType": kind, "certificate": make_leaf(ca).pem})))["status"] == \
                "Rejected"  # not a root (EVerest#2109)
            listed = await csms.call(STATION, ("GetInstalledCertificateIds",
                                               {"certificateType": kind}))
            assert listed["status"] == "Accepted"
            spare_data = certs.hash_data(spare.certificate, None).wire()
            in_use = certs.hash_data(ca.certificate, None).wire()
            assert sorted(d["serialNumber"] for d in listed["certificateHashData"]) == \
                sorted([spare_data["serialNumber"], in_use["serialNumber"]])
            assert spare_data["serialNumber"] == "F1"
            assert (await csms.call(STATION, ("DeleteCertificate", {
                "certificateHashData": in_use})))["status"] == "Failed"  # M04.FR.06
            assert (await csms.call(STATION, ("DeleteCertificate", {
                "certificateHashData": spare_data})))["status"] == "Accepted"
            assert (await csms.call(STATION, ("DeleteCertificate", {
                "certificateHashData": spare_data})))["status"] == "NotFound"


async def test_no_secret_in_logs_or_console_output(tmp_path, caplog):
    """Issue 11: the AuthorizationKey (hex or decoded) and private keys never appear in
    the logs or the console (A01.FR.12, A02.FR.05)."""
    caplog.set_level(logging.DEBUG)
    ca = make_ca()
    context = server_context(tmp_path, make_leaf(ca), ca)
    async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: PASSWORD}) as csms:
        async with running_agent(site_for(tmp_path, csms, ca)) as cp:
            await cp.until(lambda: cp.agent.link.status.boot_state == "Accepted", timeout_s=20)
            new_password = "another-secret-18b"
            new_key = new_password.encode().hex()
            csms.basic_auth = {STATION: new_password}  # A01.FR.03: the CSMS moves on
            first = len(csms.connections)
            assert (await csms.call(STATION, ("ChangeConfiguration", {
                "key": "AuthorizationKey", "value": new_key})))["status"] == "Accepted"
            await cp.until(lambda: len(csms.connections) > first and cp.agent.link.connected,
                           timeout_s=20)  # reconnected with the new key (A01)
            await csms.call(STATION, ("ExtendedTriggerMessage", {
                "requestedMessage": "SignChargePointCertificate"}))
            await csms.wait_for("SignCertificate", timeout_s=20)
            output = []
            for line in ("config get", "config get AuthorizationKey", "config get CpoName",
                         "status"):
                reply = await cp.agent.console.execute(line)
                output.extend(reply)
            got = await csms.call(STATION, ("GetConfiguration", {"key": ["AuthorizationKey"]}))
            assert "value" not in got["configurationKey"][0]
            keys = [p.read_text() for p in cp.agent.certificates.store.directory.rglob("*.key")]
    text = caplog.text + "\n".join(output)
    assert keys, "a private key was made"
    for secret in (HEX_KEY, PASSWORD, new_key, new_password):
        assert secret not in text
    for key in keys:
        body = key.splitlines()[1]
        assert body not in text and "PRIVATE KEY" not in text


async def test_ocpp201_certificates_and_security_profile_over_tls_m03_m05_a02_a05(tmp_path):
    """2.0.1: InstallCertificate / GetInstalledCertificateIds (certificateHashDataChain),
    SetVariables SecurityCtrlr.SecurityProfile lower -> Rejected, SignCertificate with
    certificateType after a CertificateSigned of another type is refused."""
    ca, spare = make_ca("CPO"), make_ca("Spare")
    context = server_context(tmp_path, make_leaf(ca), ca)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca.pem)
    async with DevCsms(port=0, ssl_context=context, basic_auth={STATION: HEX_KEY},
                       subprotocols=["ocpp2.0.1"]) as csms:
        site = write_site(tmp_path, csms.url, ocpp={"ca_file": str(ca_file),
                                                    "protocol": "ocpp2.0.1"},
                          defaults={"SecurityProfile": 2, "AuthorizationKey": HEX_KEY,
                                    "CpoName": "Borne CPO"})
        async with running_agent(site) as cp:  # BasicAuthPassword is sent as UTF-8
            await cp.until(lambda: cp.agent.link.status.boot_state == "Accepted", timeout_s=20)
            assert (await csms.call(STATION, ("InstallCertificate", {
                "certificateType": "CSMSRootCertificate", "certificate": spare.pem}))) == \
                {"status": "Accepted"}
            assert (await csms.call(STATION, ("InstallCertificate", {
                "certificateType": "V2GRootCertificate", "certificate": spare.pem})))[
                "status"] == "Rejected"
            listed = await csms.call(STATION, ("GetInstalledCertificateIds", {
                "certificateType": ["CSMSRootCertificate"]}))
            assert listed["status"] == "Accepted"
            assert {c["certificateType"] for c in listed["certificateHashDataChain"]} == \
                {"CSMSRootCertificate"}
            assert len(listed["certificateHashDataChain"]) == 2
            assert await csms.call(STATION, ("GetInstalledCertificateIds", {
                "certificateType": ["ManufacturerRootCertificate"]})) == {"status": "NotFound"}
            result = await csms.call(STATION, ("SetVariables", {"setVariableData": [{
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "SecurityProfile"}, "attributeValue": "1"}]}))
            assert result["setVariableResult"][0]["attributeStatus"] == "Rejected"
            assert cp.agent.station.config.get("SecurityProfile") == "2"
            signed = await csms.call(STATION, ("CertificateSigned", {
                "certificateChain": make_leaf(ca, "SN", server=False).pem,
                "certificateType": "V2GCertificate"}))
            assert signed["status"] == "Rejected"
            cp.agent.certificates.request_signing()  # what A03 does before expiry
            request = await csms.wait_for("SignCertificate", timeout_s=20)
            payload = request.payload if hasattr(request, "payload") else request
            assert payload["certificateType"] == "ChargingStationCertificate"
            signed = await csms.call(STATION, ("CertificateSigned", {
                "certificateChain": sign_csr(ca, payload["csr"]).pem}))
            assert signed == {"status": "Accepted"}


async def test_renewed_client_certificate_refused_by_the_csms_is_discarded_a02_fr_28_29(tmp_path):
    """Profile 3: a CertificateSigned chain valid for the station (it chains to an installed
    root) but refused by the CSMS's TLS check is discarded after three dials and the
    previous certificate connects again, with DiscardedRenewedClientCertificate."""
    ca, second = make_ca("CPO"), make_ca("Second root")
    context = server_context(tmp_path, make_leaf(ca), ca, client_ca=ca, required=True)
    async with DevCsms(port=0, ssl_context=context) as csms:
        site = site_for(tmp_path, csms, ca, profile=2)
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.status.last_error != "", timeout_s=20)
        # first start done: give it a client certificate and profile 3 before the next one
        store = CertificateStore(tmp_path / "state", time.time)
        store.install_root("csms", second.pem, 10)
        assert store.accept_signed(sign_csr(ca, store.new_csr("Borne CPO", "SN")).pem) is None
        store.promote_renewed()
        site = site_for(tmp_path, csms, ca, profile=3)
        conn = open_database(tmp_path / "state")
        repo.save_configuration(conn, "SecurityProfile", "3")
        conn.commit()
        conn.close()
        async with running_agent(site) as cp:
            await cp.until(lambda: cp.agent.link.status.boot_state == "Accepted", timeout_s=20)
            renewed = sign_csr(second, cp.agent.certificates.store.new_csr("Borne CPO", "SN"))
            seen = security_events(cp)
            first = len(csms.connections)
            assert (await csms.call(STATION, ("CertificateSigned", {
                "certificateChain": renewed.pem})))["status"] == "Accepted"
            await cp.until(lambda: len(csms.connections) > first and cp.agent.link.connected
                           and not cp.agent.certificates.store.client_credentials().renewed,
                           timeout_s=30)
            assert cp.agent.certificates.store.client_credentials().certificate_file.name == \
                "current.pem"
            assert "DiscardedRenewedClientCertificate" in [e.kind for e in seen]

"""Firmware updates in the sans-I/O core (security-whitepaper.md §9, L01; 1.6 UpdateFirmware).

The core is driven with a fake clock; the I/O outcomes (download, signature check,
installer) are fed as the events the updater would send."""

from __future__ import annotations

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.firmware_update import FirmwareRequest, FirmwareUpdateRecord
from firmware.core.timers import FirmwareUpdateWake
from tests.core.harness import T0, Harness

WAKE = FirmwareUpdateWake()


def signed(request_id: int = 7, *, retrieve_at_s: float = T0, retries: int = 0,
           retry_interval_s: float = 30.0, install_at_s: float | None = None) -> FirmwareRequest:
    return FirmwareRequest(request_id, "http://127.0.0.1:1/fw.bin", retrieve_at_s, retries,
                           retry_interval_s, signed=True, install_at_s=install_at_s,
                           signature="c2ln", signing_certificate="-----BEGIN CERTIFICATE-----")


def plain(request_id: int = 0, **kw: float) -> FirmwareRequest:
    return FirmwareRequest(request_id, "http://127.0.0.1:1/fw.bin", kw.get("retrieve_at_s", T0),
                           int(kw.get("retries", 0)), 30.0, signed=False)


def station(version: str = "borne-1.0", record: FirmwareUpdateRecord | None = None,
            connectors: int = 1) -> Harness:
    h = Harness(connectors=connectors, station_options={"firmware_version": version,
                                                        "firmware_update": record})
    h.boot()
    return h


def request(h: Harness, update: FirmwareRequest) -> list[fx.Effect]:
    return h.handle(ev.FirmwareUpdateRequested(h.ref(), update))


def statuses(h: Harness) -> list[str]:
    return [e.status for e in h.of(fx.SendFirmwareStatus)]


def persisted(h: Harness) -> FirmwareUpdateRecord:
    return h.last(fx.PersistFirmwareUpdate).record


def run_to_install(h: Harness, request_id: int = 7) -> None:
    h.handle(ev.FirmwareDownloaded(request_id, "/state/firmware/7.img"))
    h.handle(ev.FirmwareVerified(request_id, True))


def test_l01_fr_01_signed_update_reports_every_step_in_order_with_its_request_id():
    h = station()
    out = request(h, signed())
    assert h.reply(out) == {"status": "Accepted"}
    assert h.of(fx.DownloadFirmware, out) == [fx.DownloadFirmware(7, "http://127.0.0.1:1/fw.bin")]
    run_to_install(h)
    assert h.last(fx.VerifyFirmware).path == "/state/firmware/7.img"
    assert h.last(fx.InstallFirmware) == fx.InstallFirmware(7, "/state/firmware/7.img")
    out = h.handle(ev.FirmwareInstalled(7, True))
    assert fx.RestartAgent("Hard", firmware_update=True) in out
    assert statuses(h) == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                           "InstallRebooting"]
    sent = h.of(fx.SendFirmwareStatus)
    # L01.FR.10: the same requestId on each; queued durably (order survives an outage).
    assert {(e.request_id, e.signed, e.queued) for e in sent} == {(7, True, True)}
    assert all(e.transaction_related for e in sent)
    # After the reboot the new version runs: Installed and FirmwareUpdated (critical).
    after = station("borne-1.1", persisted(h))
    assert statuses(after) == ["Installed"]
    [event] = [e for e in after.of(fx.SendSecurityEvent) if e.kind != "StartupOfTheDevice"]
    assert event.kind == "FirmwareUpdated" and event.critical
    assert "borne-1.0 -> borne-1.1" in (event.tech_info or "")
    assert persisted(after).phase == "done"


def test_l01_same_version_after_the_reboot_is_install_verification_failed():
    h = station()
    request(h, signed())
    run_to_install(h)
    h.handle(ev.FirmwareInstalled(7, True))
    after = station("borne-1.0", persisted(h))
    assert statuses(after) == ["InstallVerificationFailed"]
    assert [e.kind for e in after.of(fx.SendSecurityEvent)] == ["StartupOfTheDevice"]


def test_l01_fr_13_download_waits_for_retrieve_date_time():
    h = station()
    out = request(h, signed(retrieve_at_s=T0 + 3600))
    assert not h.of(fx.DownloadFirmware, out)
    assert fx.StartTimer(WAKE, 3600) in out
    assert statuses(h) == ["DownloadScheduled"]
    h.advance(3600)
    out = h.handle(ev.TimerFired(WAKE))
    assert h.of(fx.DownloadFirmware, out)
    assert statuses(h) == ["DownloadScheduled", "Downloading"]


def test_download_retries_then_download_failed_after_the_last_attempt():
    h = station()
    request(h, signed(retries=2, retry_interval_s=45))
    for attempt in range(2):
        out = h.handle(ev.FirmwareDownloadFailed(7, "HTTP 500"))
        assert fx.StartTimer(WAKE, 45) in out and not h.of(fx.SendFirmwareStatus, out)
        h.advance(45)
        out = h.handle(ev.TimerFired(WAKE))
        assert h.of(fx.DownloadFirmware, out)
    out = h.handle(ev.FirmwareDownloadFailed(7, "HTTP 500"))
    assert statuses(h) == ["Downloading", "DownloadFailed"]
    assert fx.AbandonFirmware(7) in out
    assert len(h.of(fx.DownloadFirmware)) == 3  # 1 + retries


def test_l01_fr_03_invalid_signature_is_never_installed_and_raises_an_event():
    h = station()
    request(h, signed())
    h.handle(ev.FirmwareDownloaded(7, "/state/firmware/7.img"))
    out = h.handle(ev.FirmwareVerified(7, False, "signature does not verify"))
    assert statuses(h) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert [e.kind for e in h.of(fx.SendSecurityEvent, out)] == ["InvalidFirmwareSignature"]
    assert not h.of(fx.InstallFirmware)


def test_installation_failed_releases_the_connectors():
    h = station()
    request(h, signed())
    run_to_install(h)
    assert h.status() == "Unavailable"  # held while installing
    h.handle(ev.FirmwareInstalled(7, False, "exit 3"))
    assert statuses(h)[-1] == "InstallationFailed"
    assert h.status() == "Available"
    assert not h.of(fx.RestartAgent)


def test_l01_fr_06_07_install_waits_for_the_transaction_and_never_stops_it():
    h = station(connectors=2)
    h.start_session(connector_id=1)
    request(h, signed())
    run_to_install(h)
    assert statuses(h)[-1] == "InstallScheduled"
    assert not h.of(fx.InstallFirmware) and not h.of(fx.SendTransactionEnded)
    assert h.status(1) == "Charging"
    assert h.status(2) == "Unavailable"  # idle connector set Unavailable meanwhile
    assert "Unavailable" in h.statuses_sent(2)
    # No new session on the held connector.
    h.pilot("B", 2)
    h.tap("11223344")
    assert h.station.connectors[2].tx is None
    h.pilot("A", 1)  # the driver unplugs: the transaction ends
    assert h.of(fx.SendTransactionEnded)
    assert h.last(fx.InstallFirmware) == fx.InstallFirmware(7, "/state/firmware/7.img")
    assert h.status(1) == "Unavailable"


def test_install_date_time_in_the_future_is_install_scheduled():
    h = station()
    request(h, signed(install_at_s=T0 + 600))
    out = h.handle(ev.FirmwareDownloaded(7, "/p"))
    out = h.handle(ev.FirmwareVerified(7, True))
    assert fx.StartTimer(WAKE, 600) in out
    assert statuses(h)[-1] == "InstallScheduled" and not h.of(fx.InstallFirmware)
    h.advance(600)
    h.handle(ev.TimerFired(WAKE))
    assert h.of(fx.InstallFirmware)


def test_l01_fr_26_a_new_request_cancels_a_download():
    h = station()
    request(h, signed(7))
    out = request(h, signed(8))
    assert h.reply(out) == {"status": "AcceptedCanceled"}
    assert fx.AbandonFirmware(7) in out
    # The old download's late outcome changes nothing.
    assert h.handle(ev.FirmwareDownloaded(7, "/p")) == []
    h.handle(ev.FirmwareDownloaded(8, "/q"))
    assert [(e.status, e.request_id) for e in h.of(fx.SendFirmwareStatus)][-1] == ("Downloaded", 8)


def test_l01_fr_27_a_new_request_during_an_install_is_rejected():
    h = station()
    request(h, signed(7))
    run_to_install(h)
    out = request(h, signed(8))
    assert h.reply(out) == {"status": "Rejected"}
    assert not h.of(fx.AbandonFirmware, out)
    assert persisted(h).request.request_id == 7


def test_l01_fr_28_29_triggered_status_is_the_last_or_idle_after_installed():
    h = station()
    assert h.station.firmware.triggered_status().status == "Idle"
    request(h, signed())
    h.handle(ev.FirmwareDownloadFailed(7))
    assert h.station.firmware.triggered_status() == fx.SendFirmwareStatus(
        "DownloadFailed", 7, True)
    done = FirmwareUpdateRecord(signed(), "done", "Installed")
    assert station(record=done).station.firmware.triggered_status().status == "Idle"


def test_plain_1_6_update_sends_only_the_1_6_statuses_and_an_empty_conf():
    h = station()
    out = request(h, plain())
    assert h.reply(out) == {}
    h.handle(ev.FirmwareDownloaded(0, "/p"))
    assert not h.of(fx.VerifyFirmware)  # nothing to verify: allowed unsigned by the site
    h.handle(ev.FirmwareInstalled(0, True))
    assert statuses(h) == ["Downloading", "Downloaded", "Installing"]
    assert not any(e.signed for e in h.of(fx.SendFirmwareStatus))
    after = station("borne-2", persisted(h))
    assert statuses(after) == ["Installed"]


def test_power_loss_while_installing_reports_installation_failed():
    h = station()
    request(h, signed())
    run_to_install(h)
    after = station("borne-1.0", persisted(h))
    assert statuses(after) == ["InstallationFailed"]
    assert after.status() == "Available"
    assert not after.of(fx.InstallFirmware)


def test_power_loss_while_downloading_retries_or_fails():
    h = station()
    request(h, signed(retries=1))
    after = station(record=persisted(h))
    assert fx.StartTimer(WAKE, 30.0) in after.log  # one attempt left: retried
    h = station()
    request(h, signed(retries=0))
    after = station(record=persisted(h))
    assert statuses(after) == ["DownloadFailed"]


def test_power_loss_while_waiting_for_idle_holds_the_connectors_again():
    h = station(connectors=2)
    h.start_session(connector_id=1)
    request(h, signed())
    run_to_install(h)
    after = station(record=persisted(h), connectors=2)
    assert after.status(1) == "Unavailable" and after.status(2) == "Unavailable"
    # The transaction was ended by the power loss: nothing runs, so it installs.
    after.handle(ev.MeterSampled(1, after.reading(1)))
    assert after.of(fx.InstallFirmware)


def test_a_reset_while_the_installer_runs_is_rejected():
    h = station()
    request(h, signed())
    run_to_install(h)
    out = h.handle(ev.ResetRequested(h.ref(), "Soft"))
    assert h.reply(out) == {"status": "Rejected"} and not h.of(fx.RestartAgent, out)


def test_a_clock_step_re_arms_the_retrieve_timer():
    h = station()
    request(h, signed(retrieve_at_s=T0 + 3600))
    h.advance(1800)
    h.now += 600  # the CSMS clock sync stepped forward 10 minutes
    out = h.handle(ev.ClockStepped(600))
    assert fx.StartTimer(WAKE, 1200) in out

"""Security events the core reports itself, and the log upload statuses it emits
(security-whitepaper.md §7, §8, §10)."""

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.configuration import Configuration
from firmware.core.connector import Connector
from firmware.core.station import Station
from firmware.ocpp import frames, mapping
from firmware.ocpp.v201 import outbound
from firmware.ocpp.v201.schemas import payload_problem
from tests.core.harness import Harness

INFO = mapping.StationInfo("Borne", "Sim")


def kinds(effects) -> list[str]:
    return [e.kind for e in effects if isinstance(e, fx.SendSecurityEvent)]


def test_a04_startup_of_the_device_is_reported_with_the_boot_reason():
    station = Station([Connector(1, 32.0)], Configuration.initial({}, {}, {}))
    out = station.handle(ev.AgentStarted("RemoteReset"), 1_700_000_000.0)
    [event] = [e for e in out if isinstance(e, fx.SendSecurityEvent)]
    assert (event.kind, event.tech_info, event.critical) == (
        "StartupOfTheDevice", "boot reason RemoteReset", True)


def test_a04_reset_or_reboot_is_reported_when_a_reset_is_executed():
    h = Harness()
    h.boot()
    out = h.handle(ev.ResetRequested(h.ref(), "Hard"))
    assert kinds(out) == ["ResetOrReboot"]
    assert "Hard reset by the CSMS" == h.last(fx.SendSecurityEvent).tech_info
    # The report is in the same batch as the restart it announces.
    assert h.of(fx.RestartAgent, out)


def test_a_console_reset_says_it_came_from_the_console():
    h = Harness()
    out = h.handle(ev.ResetRequested(("console", 1), "Soft"))
    assert h.of(fx.SendSecurityEvent, out)[0].tech_info == "Soft reset by the console"


def test_a_scheduled_reset_is_reported_when_it_is_executed_not_when_scheduled():
    h = Harness()
    h.boot()
    h.start_session()
    scheduled = h.handle(ev.ResetRequested(h.ref(), "Soft", when_idle=True))
    assert kinds(scheduled) == []
    out = h.pilot("A")  # unplug: the transaction ends, the reset runs
    out += h.handle(ev.MeterRead(1, h.reading()))
    assert "ResetOrReboot" in kinds(h.log)


def test_setting_system_time_only_beyond_the_reporting_threshold():
    # 2.0.1: SettingSystemTime only beyond ClockCtrlr.TimeAdjustmentReportingThreshold
    h = Harness()
    assert kinds(h.handle(ev.ClockStepped(5.0))) == []
    assert kinds(h.handle(ev.ClockStepped(-3600.0))) == ["SettingSystemTime"]
    assert h.last(fx.SendSecurityEvent).tech_info == "clock stepped by -3600 s"


# ----------------------------------------------------------------- log uploads (N01)
def test_n01_fr_08_09_upload_statuses_carry_the_request_id():
    h = Harness()
    out = h.handle(ev.LogUploadProgressed("Uploading", 7))
    out += h.handle(ev.LogUploadProgressed("Uploaded", 7))
    sent = h.of(fx.SendLogStatus, out)
    assert [(e.status, e.request_id) for e in sent] == [("Uploading", 7), ("Uploaded", 7)]
    for e in sent:
        action, payload = mapping.to_call(e, INFO)
        assert action == "LogStatusNotification"
        assert frames.schema_problem(2, action, payload) is None
        action, payload = outbound.to_call(e, INFO)
        assert payload_problem(action, "Request", payload) is None


def test_getdiagnostics_statuses_are_diagnostics_status_notifications():
    h = Harness()
    out = h.handle(ev.LogUploadProgressed("Uploading", diagnostics=True))
    out += h.handle(ev.LogUploadProgressed("UploadFailed", diagnostics=True))
    assert [e.status for e in h.of(fx.SendDiagnosticsStatus, out)] == ["Uploading",
                                                                       "UploadFailed"]


def trigger(h: Harness, message: str) -> list[fx.Effect]:
    return h.handle(ev.MessageTriggerRequested(h.ref(), message))


def test_n01_fr_12_triggered_log_status_is_idle_without_request_id_when_nothing_runs():
    h = Harness()
    h.boot()
    out = trigger(h, "LogStatusNotification")
    assert h.reply(out) == {"status": "Accepted"}
    assert h.of(fx.SendLogStatus, out) == [fx.SendLogStatus("Idle", None)]


def test_n01_triggered_log_status_repeats_the_running_upload():
    h = Harness()
    h.boot()
    h.handle(ev.LogUploadProgressed("Uploading", 42))
    assert h.of(fx.SendLogStatus, trigger(h, "LogStatusNotification")) == [
        fx.SendLogStatus("Uploading", 42)]
    h.handle(ev.LogUploadProgressed("UploadFailure", 42))
    assert h.of(fx.SendLogStatus, trigger(h, "LogStatusNotification")) == [
        fx.SendLogStatus("Idle", None)]


def test_16_triggered_diagnostics_status_says_uploading_while_one_runs():
    h = Harness()
    h.boot()
    h.handle(ev.LogUploadProgressed("Uploading", diagnostics=True))
    [status] = h.of(fx.SendDiagnosticsStatus, trigger(h, "DiagnosticsStatusNotification"))
    assert status.status == "Uploading"


def test_l01_fr_28_triggered_signed_firmware_status_is_idle_without_an_update():
    h = Harness()
    h.boot()
    [status] = h.of(fx.SendFirmwareStatus, trigger(h, "SignedFirmwareStatusNotification"))
    action, payload = mapping.to_call(status, INFO)
    assert (action, payload) == ("SignedFirmwareStatusNotification", {"status": "Idle"})
    assert frames.schema_problem(2, action, payload) is None

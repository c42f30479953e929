"""Console actions reported as security events (issue #14 item 2; security-whitepaper.md
§7: MaintenanceLoginAccepted/Failed with techInfo {user, origin}, security-key changes
as ReconfigurationOfSecurityParameters, never the value)."""

import json

from firmware.console.security_audit import ReportingAudit, security_event
from firmware.core import events as ev


class Audit:
    def __init__(self):
        self.rows = []

    def record(self, port, user, kind, detail=""):
        self.rows.append((port, user, kind, detail))

    def recent(self, count):
        return self.rows[-count:]


def test_a_login_is_maintenance_login_accepted_with_user_and_origin():
    event = security_event("/dev/ttyUSB0", "alice", "login", "login")
    assert event.kind == "MaintenanceLoginAccepted"
    assert json.loads(event.tech_info) == {"user": "alice", "origin": "/dev/ttyUSB0"}


def test_the_automatic_login_of_login_none_is_not_a_maintenance_login():
    assert security_event("stdio", "admin", "login", "no-login") is None


def test_a_failed_login_is_maintenance_login_failed():
    assert security_event("pty", "mallory", "login-failed", "failure 3").kind == \
        "MaintenanceLoginFailed"


def test_config_set_of_a_security_key_names_the_key_never_the_value():
    # The audit trail already hides the value (session.redact): "config set KEY ***".
    event = security_event("pty", "alice", "command", "config set AuthorizationKey ***")
    assert event.kind == "ReconfigurationOfSecurityParameters"
    assert "AuthorizationKey" in event.tech_info and "***" not in event.tech_info


def test_other_commands_and_keys_are_not_security_events():
    assert security_event("pty", "alice", "command", "config set HeartbeatInterval ***") is None
    assert security_event("pty", "alice", "command", "status") is None
    assert security_event("pty", "alice", "logout", "") is None
    assert security_event("pty", "alice", "command", "factory-reset") is None  # no confirmation


def test_factory_reset_is_reported():
    assert security_event("pty", "root", "command", "factory-reset CP-1").kind == \
        "ReconfigurationOfSecurityParameters"


def test_the_audit_row_is_written_and_the_event_dispatched():
    audit, sent = Audit(), []
    reporting = ReportingAudit(audit, sent.append)
    reporting.record("pty", "alice", "login", "password")
    reporting.record("pty", "alice", "command", "status")
    assert len(audit.rows) == 2 and reporting.recent(5) == audit.rows
    assert sent == [ev.SecurityEventOccurred(
        "MaintenanceLoginAccepted", json.dumps({"user": "alice", "origin": "pty"}))]


def test_a_failing_report_never_breaks_the_console():
    def broken(event):
        raise RuntimeError("core down")

    audit = Audit()
    ReportingAudit(audit, broken).record("pty", "bob", "login-failed", "failure 1")
    assert audit.rows == [("pty", "bob", "login-failed", "failure 1")]

"""``[ocpp.defaults]`` is checked against the same ranges as ChangeConfiguration ([16] §5.3):
a value that does not fit is a config problem (FILE: key: problem, exit 2), never a
value that reaches the link or a timer."""

import pytest

from tests.config.test_check_config import GOOD, check, write


@pytest.mark.parametrize("line, message", [
    ('WebSocketPingInterval = "' + "9" * 400 + '"',
     "ocpp.defaults.WebSocketPingInterval: must be an integer from 0 to 3600"),
    ("HeartbeatInterval = 9223372036854775807",
     "ocpp.defaults.HeartbeatInterval: must be an integer from 0 to 86400"),
    ('ClockAlignedDataInterval = "1_000"',
     "ocpp.defaults.ClockAlignedDataInterval: must be an integer from 0 to 86400"),
    ("MinimumStatusDuration = -1",
     "ocpp.defaults.MinimumStatusDuration: must be an integer from 0 to 3600"),
    ('GetConfigurationMaxKeys = "' + "9" * 5000 + '"',
     "ocpp.defaults.GetConfigurationMaxKeys: must be an integer from 1 to 1000"),
])
def test_an_ocpp_default_out_of_range_is_a_config_problem(tmp_path, capsys, line, message):
    site = GOOD.replace("HeartbeatInterval = 300", line if "Heartbeat" in line
                        else "HeartbeatInterval = 300\n" + line)
    path = write(tmp_path, site)
    code, errors, _ = check(capsys, path)
    assert code == 2
    assert any(e.startswith(f"{path}: {message}") for e in errors), errors
    assert not any("Traceback" in e for e in errors)

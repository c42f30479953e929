"""`borne check-config`: every problem listed as FILE: key: problem, exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from firmware.__main__ import main

REPO = Path(__file__).resolve().parents[2]

GOOD = """
[station]
id = "CP-0001"
vendor = "Borne"
model = "AC-22-1C"

[ocpp]
csms_url = "ws://127.0.0.1:9000/ocpp"
protocol = "ocpp1.6"

[ocpp.defaults]
HeartbeatInterval = 300
MeterValueSampleInterval = 60
LocalPreAuthorize = true
MeterValuesSampledData = ["Energy.Active.Import.Register", "Power.Active.Import"]

[board]
config = "board.toml"

[storage]
state_dir = "state"

[console]
device = "stdio"
"""

BOARD = (REPO / "board_configs" / "sim.toml").read_text()


def write(tmp_path, site=GOOD, board=BOARD):
    (tmp_path / "board.toml").write_text(board)
    path = tmp_path / "site.toml"
    path.write_text(site)
    return path


def check(capsys, path):
    code = main(["check-config", "--config", str(path)])
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def test_a_good_config_passes(tmp_path, capsys):
    code, errors, out = check(capsys, write(tmp_path))
    assert code == 0 and errors == []
    assert "OK" in out


def test_every_problem_is_listed_with_file_and_key(tmp_path, capsys):
    site = GOOD.replace('id = "CP-0001"', 'id = "CP 0001/x"') \
        .replace("HeartbeatInterval = 300", "HeartbeatInterval = -5\nMadeUpKey = 1") \
        .replace('protocol = "ocpp1.6"', 'protocol = "ocpp1.6"\nretries = 3') \
        .replace('csms_url = "ws://127.0.0.1:9000/ocpp"', 'csms_url = "http://example"') \
        .replace('device = "stdio"', "device = 7") + "\n[extra]\nx = 1\n"
    path = write(tmp_path, site)
    code, errors, _ = check(capsys, path)
    assert code == 2
    name = str(path)
    expected = [f"{name}: station.id:",
                f"{name}: ocpp.defaults.HeartbeatInterval: must be an integer from 0 to 86400",
                f"{name}: ocpp.defaults.MadeUpKey: unknown OCPP configuration key",
                f"{name}: ocpp.retries: unknown key", f"{name}: ocpp.csms_url:",
                f"{name}: console.device: must be a string", f"{name}: extra: unknown section"]
    for prefix in expected:
        assert any(e.startswith(prefix) for e in errors), (prefix, errors)
    assert len(errors) == len(expected)


def test_board_problems_carry_the_board_file_name(tmp_path, capsys):
    board = BOARD.replace("max_current_a = 32.0", "max_current_a = -3") \
        .replace('driver = "sim"\nev_power_w', 'driver = "warp"\nev_power_w') \
        + '\n[[connector]]\nid = 1\nmax_current_a = 16\n[connector.pilot]\ndriver = "sim"\n'
    path = write(tmp_path, board=board)
    code, errors, _ = check(capsys, path)
    assert code == 2
    board_name = str(tmp_path / "board.toml")
    # Connectors are named by their id, as a technician counts them (issue #8 item 7).
    assert any(e.startswith(f"{board_name}: connector 1.max_current_a: must be >= 6") for e in errors)
    assert any(e.startswith(f"{board_name}: connector 1.pilot.driver: unknown pilot driver 'warp'")
               for e in errors)
    assert any(e.startswith(f"{board_name}: connector 1.id: duplicate connector id 1")
               for e in errors)
    assert any(e.startswith(f"{board_name}: connector 1.contactor: missing") for e in errors)


@pytest.mark.parametrize("content, key", [
    ("this is not toml", "(syntax)"),
    ("", "station"),
])
def test_unparseable_or_empty_files(tmp_path, capsys, content, key):
    path = tmp_path / "site.toml"
    path.write_text(content)
    code, errors, _ = check(capsys, path)
    assert code == 2
    assert errors[0].startswith(f"{path}: {key}")


def test_missing_files(tmp_path, capsys):
    code, errors, _ = check(capsys, tmp_path / "nope.toml")
    assert code == 2 and errors == [f"{tmp_path / 'nope.toml'}: (file): file not found"]
    path = write(tmp_path, GOOD.replace('config = "board.toml"', 'config = "missing.toml"'))
    code, errors, _ = check(capsys, path)
    assert code == 2 and errors == [f"{tmp_path / 'missing.toml'}: (file): file not found"]


def test_wrong_types_in_defaults_and_numbers(tmp_path, capsys):
    site = GOOD.replace("LocalPreAuthorize = true", 'LocalPreAuthorize = "maybe"') \
        .replace("[console]", '[log]\nlevel = "LOUD"\n\n[console]')
    code, errors, _ = check(capsys, write(tmp_path, site))
    assert code == 2
    assert any("ocpp.defaults.LocalPreAuthorize: must be true or false" in e for e in errors)
    assert any("log.level: must be one of" in e for e in errors)


def test_the_cli_exit_code_through_the_installed_entry_point(tmp_path):
    path = write(tmp_path, GOOD.replace("HeartbeatInterval = 300", "HeartbeatInterval = -1"))
    result = subprocess.run([sys.executable, "-m", "firmware", "check-config", "--config",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (f"{path}: ocpp.defaults.HeartbeatInterval: must be an integer from 0 to 86400"
            in result.stderr)


def test_shipped_configs_are_valid(capsys):
    for board in ("sim.toml", "sim-2c.toml"):
        from firmware.board import load_board_config

        assert load_board_config(REPO / "board_configs" / board).connectors
    code, errors, _ = check(capsys, REPO / "dev" / "site.toml")
    assert code == 0, errors


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_every_ocpp_version_is_accepted(tmp_path, capsys, protocol):
    path = write(tmp_path, GOOD.replace('protocol = "ocpp1.6"', f'protocol = "{protocol}"'))
    assert check(capsys, path)[0] == 0


@pytest.mark.parametrize("protocol", ["ocpp2.2", "OCPP1.6", "ocpp2.0"])
def test_an_unknown_ocpp_version_is_a_config_problem(tmp_path, capsys, protocol):
    path = write(tmp_path, GOOD.replace('protocol = "ocpp1.6"', f'protocol = "{protocol}"'))
    code, errors, _ = check(capsys, path)
    assert code == 2 and len(errors) == 1 and "ocpp.protocol" in errors[0]
    assert "ocpp2.0.1" in errors[0] and "ocpp2.1" in errors[0]  # it lists the versions

"""`[firmware]` in the site config: defaults, and every bad value a clear problem."""

import sys

from firmware.config import firmware_settings, load_site_config
from tests.config.test_check_config import GOOD, check, write


def test_firmware_defaults_refuse_unsigned_and_install_nothing(tmp_path):
    settings = firmware_settings(load_site_config(write(tmp_path)))
    assert settings["allow_unsigned"] is False  # L01.FR.20: plain UpdateFirmware NotSupported
    assert settings["install_command"] == []


def test_bad_firmware_values_are_listed(tmp_path, capsys):
    site = GOOD + "\n".join([
        "", "[firmware]", 'allow_unsigned = "yes"', 'install_command = ["ok", 3]',
        "install_timeout_s = 0", "max_image_mb = -1", "stall_timeout_s = nan",
        "default_retries = 1000", "made_up = 1"])
    path = write(tmp_path, site)
    code, errors, _ = check(capsys, path)
    assert code == 2
    for key in ("allow_unsigned", "install_command", "install_timeout_s", "max_image_mb",
                "stall_timeout_s", "default_retries", "made_up"):
        assert any(e.startswith(f"{path}: firmware.{key}:") for e in errors), (key, errors)
    assert len(errors) == 7


def test_relative_firmware_paths_resolve_beside_the_site_file(tmp_path):
    site = GOOD + "\n[firmware]\nmanufacturer_roots = \"roots\"\nversion_file = \"v.txt\"\n" \
        f'install_command = ["{sys.executable}", "-V"]\n'
    settings = firmware_settings(load_site_config(write(tmp_path, site)))
    assert settings["manufacturer_roots"] == str(tmp_path / "roots")
    assert settings["version_file"] == str(tmp_path / "v.txt")

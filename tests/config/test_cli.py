"""The `borne` command line as a technician runs it (#8 item 13)."""

import sqlite3
import subprocess
import sys

from firmware import __version__
from firmware.config import load_site_config
from firmware.store.db import open_database
from tests.integration.agent import write_site


def borne(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware", *args], capture_output=True,
                          text=True, timeout=60)


def test_version_names_the_release_and_the_protocol():
    done = borne("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"borne {__version__} (OCPP 1.6J)"


def test_reset_ocpp_config_makes_the_next_start_apply_the_defaults_again(tmp_path):
    site = write_site(tmp_path, "ws://127.0.0.1:9/ocpp")
    state_dir = load_site_config(str(site)).state_dir
    conn = open_database(state_dir)
    conn.execute("INSERT INTO config_keys(key, value) VALUES('HeartbeatInterval', '7')")
    conn.commit()
    conn.close()
    done = borne("reset-ocpp-config", "--config", str(site))
    assert done.returncode == 0, done.stderr
    assert "forgot 1 OCPP configuration key(s)" in done.stdout
    rows = sqlite3.connect(state_dir / "borne.db").execute(
        "SELECT COUNT(*) FROM config_keys").fetchone()
    assert rows == (0,)
    assert "Traceback" not in done.stderr

"""deploy/borne-install-wheel: the documented Raspberry Pi OS installer. Run with a stub
pip (no network, no real venv): it must hand pip the image under the wheel's own name,
with --no-deps, and fail when the image is not a wheel (InstallationFailed)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "borne-install-wheel"


def fake_venv(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    pip = bin_dir / "pip"
    pip.write_text("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n"
                   "test -r \"$(eval echo \\${$#})\"\n")
    pip.chmod(0o755)
    return tmp_path / "venv"


def test_the_image_is_installed_as_the_wheel_it_is(tmp_path):
    image = tmp_path / "42.img"
    with zipfile.ZipFile(image, "w") as wheel:
        wheel.writestr("borne-1.2.3.dist-info/METADATA", "Name: borne\nVersion: 1.2.3\n")
        wheel.writestr("firmware/__init__.py", "__version__ = '1.2.3'\n")
    result = subprocess.run([str(SCRIPT), str(image)], capture_output=True, text=True,
                            env={**os.environ, "BORNE_VENV": str(fake_venv(tmp_path))})
    assert result.returncode == 0, result.stderr
    args = result.stdout.split()
    assert "--no-deps" in args and args[-1].endswith("/borne-1.2.3-py3-none-any.whl")


def test_an_image_that_is_not_a_wheel_fails(tmp_path):
    image = tmp_path / "42.img"
    image.write_bytes(b"not a zip")
    result = subprocess.run([str(SCRIPT), str(image)], capture_output=True, text=True,
                            env={**os.environ, "BORNE_VENV": str(fake_venv(tmp_path))})
    assert result.returncode != 0

"""The `make run` demo installer: installs nothing; records the image as the new version.

`borne` runs it as `python3 dev/install_demo.py IMAGE` (dev/site.toml) once the image's
signature is verified. It writes "demo-<first 12 hex digits of the image's SHA-256>" to
.dev/firmware-version, which dev/site.toml names as `[firmware] version_file`, so the
agent's restart reports the new version and the update ends Installed. A real station
uses deploy/borne-install-wheel or an image updater instead (README, Firmware updates).
"""

import hashlib
import pathlib
import sys

image = pathlib.Path(sys.argv[1])
digest = hashlib.sha256(image.read_bytes()).hexdigest()[:12]
target = pathlib.Path(__file__).resolve().parents[1] / ".dev" / "firmware-version"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text(f"demo-{digest}\n")
print(f"demo install of {image.name}: version demo-{digest}")

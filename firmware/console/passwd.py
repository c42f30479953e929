"""``borne passwd``: add or change a console account in the site config.

The account is written as a ``[console.accounts.NAME]`` table with its role and a
salted PBKDF2 hash (``accounts.hash_password``); an existing table of that name is
replaced, everything else in the file is kept byte for byte. The new file is parsed
before it replaces the old one (atomically), so a failure leaves the old file intact.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from .accounts import ROLES, hash_password

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def set_account(site_path: Path, user: str, role: str, password: str) -> None:
    """Raise ValueError with a reason for a bad user, role, password or file."""
    if not _NAME.match(user):
        raise ValueError("a user name is 1-32 letters, digits, - . _")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    text = site_path.read_text(encoding="utf-8")
    header = f"[console.accounts.{user}]"
    table = f'{header}\nrole = "{role}"\npassword_hash = "{hash_password(password)}"\n'
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped.split("#")[0].strip() == header
        if not skipping:
            kept.append(line)
    body = "".join(kept)
    if body and not body.endswith("\n"):
        body += "\n"
    new_text = body + ("\n" if body.strip() else "") + table
    try:
        tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{site_path} would not parse after the change: {e}") from None
    temporary = site_path.with_name(site_path.name + ".new")
    temporary.write_text(new_text, encoding="utf-8")
    os.chmod(temporary, os.stat(site_path).st_mode & 0o777)
    os.replace(temporary, site_path)

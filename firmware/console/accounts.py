"""Console accounts: salted password hashes, roles, and the lockout after failed logins.

A hash is ``pbkdf2_sha256$ITERATIONS$SALT$DIGEST`` (salt and digest base64, 16 random
bytes of salt, ``hashlib.pbkdf2_hmac``); ``borne passwd`` writes them into the site
config as ``[console.accounts.NAME] role = "...", password_hash = "..."``. Passwords
are never logged or stored in clear.

Roles, each including the one before: ``viewer`` reads; ``technician`` also tests
hardware, drives the simulator and changes OCPP keys; ``admin`` also reboots and
factory-resets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

ROLES = ("viewer", "technician", "admin")
ITERATIONS = 200_000
LOCKOUT_FIRST_S = 1.0  # delay after the first failure; doubles with each further one
LOCKOUT_MAX_S = 300.0


def role_rank(role: str) -> int:
    return ROLES.index(role)


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "$".join(("pbkdf2_sha256", str(iterations), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()))


def hash_problem(text: str) -> str | None:
    """Why ``text`` is not a hash this module writes, or None."""
    parts = text.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256":
        return "must be a pbkdf2_sha256$... hash written by `borne passwd`"
    if not parts[1].isdigit() or not 1000 <= int(parts[1]) <= 10_000_000:
        return "iterations must be 1000-10000000"
    try:
        base64.b64decode(parts[2], validate=True)
        base64.b64decode(parts[3], validate=True)
    except ValueError:
        return "salt and digest must be base64"
    return None


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; a malformed hash never matches."""
    if hash_problem(stored) is not None:
        return False
    _, iterations, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "replace"),
                                    base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str


def accounts_problems(table: dict[str, object]) -> list[str]:
    """Problems of a ``[console.accounts]`` table, as ``NAME: problem``."""
    problems = []
    for name, entry in table.items():
        if not name.isidentifier() and not name.replace("-", "").replace(".", "").isalnum():
            problems.append(f"{name}: a user name is letters, digits, - . _")
        if not isinstance(entry, dict):
            problems.append(f"{name}: must be a table with role and password_hash")
            continue
        unknown = set(entry) - {"role", "password_hash"}
        if unknown:
            problems.append(f"{name}: unknown key(s) {', '.join(sorted(unknown))}")
        if entry.get("role") not in ROLES:
            problems.append(f"{name}: role must be one of {', '.join(ROLES)}")
        password_hash = entry.get("password_hash")
        if not isinstance(password_hash, str):
            problems.append(f"{name}: password_hash is required (run `borne passwd`)")
        elif (problem := hash_problem(password_hash)) is not None:
            problems.append(f"{name}: password_hash {problem}")
    return problems


def load_accounts(table: dict[str, dict[str, str]]) -> dict[str, Account]:
    return {name: Account(name, entry["role"], entry["password_hash"])
            for name, entry in table.items()}


class Lockout:
    """Failed logins on one console port, sans I/O (``now_s`` is monotonic seconds).

    After the n-th failure in a row no attempt is checked for
    ``LOCKOUT_FIRST_S * 2**(n-1)`` seconds (capped at ``LOCKOUT_MAX_S``); a success
    clears the count.
    """

    def __init__(self) -> None:
        self.failures = 0
        self._until_s = 0.0

    def wait_s(self, now_s: float) -> float:
        return max(0.0, self._until_s - now_s)

    def failed(self, now_s: float) -> float:
        self.failures += 1
        delay = min(LOCKOUT_MAX_S, LOCKOUT_FIRST_S * 2 ** min(self.failures - 1, 30))
        self._until_s = now_s + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self._until_s = 0.0
